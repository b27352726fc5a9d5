"""CPU per keystroke of the Autocomplete page's model work, per unit, in this process.

    python -m benchmarks.keystroke [--units rnn gru lstm nlstm] [--sentences 4]

Types sentences letter by letter, as the load test does, and for every keystroke computes what the page
shows (the top 10 words after every prefix from the last word's leading space, at most 25): read afresh
(``suggest_each_prefix``: one forward pass over the whole text, the dense layer on every shown position)
and from the prefix cache (``PrefixCache``: the new characters only). Reports CPU milliseconds
(time.process_time, one torch thread as the app uses) and the characters read and dense-layer rows per
keystroke. CPU time changes little with other work on the same cores; wall time would.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.load import SENTENCES  # noqa: E402 (after the path is set)


def shown_from(text: str) -> int:
    """The first position the page's letter-by-letter table shows (pages/autocomplete.py)."""
    end = len(text.rstrip(" "))
    return max(text.rfind(" ", 0, end), len(text) - 25)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--units", nargs="+", default=["rnn", "gru", "lstm", "nlstm"], help="shipped models to time")
    p.add_argument("--sentences", type=int, default=4, help="sentences typed (two of the load test's each)")
    args = p.parse_args()

    import torch

    from rnnmem.prefix_cache import PrefixCache
    from rnnmem.refs import load_model
    from rnnmem.suggestions import suggest_each_prefix
    from rnnmem.text import normalize

    torch.set_num_threads(1)
    typed = [normalize(f"{SENTENCES[i % 8]} {SENTENCES[(i + 3) % 8]}") for i in range(args.sentences)]
    texts = [sentence[:end] for sentence in typed for end in range(2, len(sentence) + 1)]
    print(f"{len(texts)} keystrokes ({args.sentences} sentences typed letter by letter), one torch thread")
    for unit in args.units:
        model, cache = load_model(unit), PrefixCache(10)
        start = time.process_time()
        rows = sum(len(suggest_each_prefix(model, text, k=10, first=shown_from(text))) for text in texts)
        fresh = time.process_time() - start
        start = time.process_time()
        for text in texts:
            cache.suggestions_by_prefix(unit, model, text, shown_from(text))
        cached = time.process_time() - start
        n = len(texts)
        print(f"{unit:6s} read afresh {1000 * fresh / n:6.2f} ms per keystroke ({sum(map(len, texts)) / n:.0f} "
              f"characters read, {rows / n:.1f} dense rows); prefix cache {1000 * cached / n:6.2f} ms "
              f"({cache.characters_read / n:.2f} characters, {cache.rows_computed / n:.2f} rows)")


if __name__ == "__main__":
    main()
