"""Turn finished training runs into the shipped default models (rnnmem/weights/<unit>/).

    python -m scripts.ship_weights --runs /path/to/runs --corpus ../shared/data/wiki2015-text8like-100M.txt.xz \
        [--units rnn gru lstm nlstm] [--eval-chars 1000000] [--memory-positions 2000] [--dest rnnmem/weights]

For each unit: evaluates the float32 run on the test and validation splits (``--eval-chars`` characters
each; with the accuracy's breakdown by repetition), stores the weights in float16, checks the float16 model's test accuracy is within 0.001 of the
float32 one, evaluates it on a fixed sample drawn from its own vocabulary (the figures the tests
reproduce), measures its memory (rnnmem.memory) on the test split and on the article's walkthrough
paragraph, and writes evaluation_*.json, memory.json and a model card with the article's figures beside
its own.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from rnnmem.analysis import accuracy_by_chars_seen, sample_text_from_vocabulary
from rnnmem.breakdowns import accuracy_with_bands
from rnnmem.article_data import load_article_accuracy
from rnnmem.cli_analysis import _corpus_sequences, _take_chars
from rnnmem.memory_report import memory_report
from rnnmem.model import AutocompleteRNN
from rnnmem.modelcard import write_model_card
from rnnmem.units import UNIT_NAMES

COPIED = ("training_log.csv", "training_config.json", "training_summary.json")


def evaluate(model, corpus: str, split: str, max_chars: int, data_seed: int) -> dict:
    """What ``python -m rnnmem evaluate --by repetition --json`` reports: the accuracy, and its breakdown by
    repetition (a rarer word already read in its sequence or new: the model card's memory signal)."""
    sequences, _, source = _corpus_sequences(model, corpus, split, data_seed=data_seed)
    result, bands = accuracy_with_bands(model, _take_chars(sequences, max_chars), "repetition")
    return {"model": model.unit, "unit": model.unit, "corpus": source, "split": split, **result.as_dict(),
            "breakdown": bands.as_dict()}


DRIFT_MIN_COUNT = 2000  # characters scored in a bin for its accuracy to count in the float16 check


def fp16_drift(fp32: dict, fp16: dict) -> float:
    """The largest change in top-1/2/3 accuracy float16 storage makes, over the characters-seen bins that
    hold at least DRIFT_MIN_COUNT scored characters: in a bin of a few hundred (long words), one
    prediction flipping by rounding moves the accuracy by more than the 0.001 allowed, which says nothing
    about the weights."""
    counts = fp32["counts"]
    return max((abs(a - b) for k in ("top1", "top2", "top3")
                for n, (a, b) in enumerate(zip(fp32["accuracy_by_chars_seen"][k], fp16["accuracy_by_chars_seen"][k]))
                if counts[n] >= DRIFT_MIN_COUNT), default=0.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, help="folder holding one finished run directory per unit")
    p.add_argument("--corpus", required=True)
    p.add_argument("--units", nargs="+", default=["rnn", "gru", "lstm", "nlstm"])
    p.add_argument("--eval-chars", type=int, default=1_000_000)
    p.add_argument("--memory-positions", type=int, default=2000)
    p.add_argument("--dest", default="rnnmem/weights")
    args = p.parse_args()
    for unit in args.units:
        run = Path(args.runs) / unit
        fp32 = AutocompleteRNN.from_directory(run)
        # the run's own split: its test split is the text it never trained on
        data_seed = json.loads((run / "training_config.json").read_text()).get("data_seed", 0)
        # built beside the shipped directory and swapped in only once it passes the float16 check, so a
        # failed check leaves the shipped model as it was
        final = Path(args.dest) / unit
        dest = final.with_name(unit + ".new")
        if dest.exists():
            shutil.rmtree(dest)
        fp32.save(dest, dtype=torch.float16)
        for name in COPIED:
            shutil.copy(run / name, dest / name)
        fp16 = AutocompleteRNN.from_directory(dest)
        test32 = evaluate(fp32, args.corpus, "test", args.eval_chars, data_seed)
        test16 = evaluate(fp16, args.corpus, "test", args.eval_chars, data_seed)
        drift = fp16_drift(test32, test16)
        if drift > 0.001:
            shutil.rmtree(dest)
            raise SystemExit(f"{unit}: float16 changes accuracy by {drift:.4f} > 0.001; ship float32 instead")
        valid16 = evaluate(fp16, args.corpus, "valid", args.eval_chars, data_seed)
        sample = sample_text_from_vocabulary(fp16.words)
        sample_eval = {"sample": {"generator": "rnnmem.analysis.sample_text_from_vocabulary", "n_words": 300,
                                  "seed": 0}, **accuracy_by_chars_seen(fp16, sample).as_dict()}
        for name, report in (("evaluation_test.json", test16), ("evaluation_valid.json", valid16),
                             ("evaluation_sample.json", sample_eval)):
            (dest / name).write_text(json.dumps(report, indent=1))
        memory = memory_report(fp16, args.corpus, args.memory_positions, data_seed=data_seed)
        (dest / "memory.json").write_text(json.dumps(memory, indent=1))
        summary = json.loads((run / "training_summary.json").read_text())
        article = load_article_accuracy().get(unit)
        article_name = article is not None
        test16["article_top1"] = article["accuracy_by_chars_seen"]["top1"] if article else None
        drift_note = (f"Weights stored in float16 (loading gives float32); the largest change in test accuracy "
                      f"against float32, over characters-seen bins of at least {DRIFT_MIN_COUNT:,} characters, "
                      f"is {drift:.4f}.")
        notes = drift_note + (f" The 'article top1' row is the article's 2×600 {UNIT_NAMES[unit]} trained 2 epochs "
                              "on text8 on a GPU" if article_name else
                              " The article published no accuracy for a vanilla RNN")
        write_model_card(dest, fp16, training=summary, evaluation=test16, memory=memory,
                         extra_sections="## Notes\n\n" + notes + ".")
        size = (dest / "model.safetensors").stat().st_size
        print(f"{unit}: {size / 1e6:.1f} MB, test top1@0-3 "
              + " ".join(f"{v:.3f}" for v in test16["accuracy_by_chars_seen"]["top1"][:4])
              + f", cross-entropy {test16['cross_entropy']:.3f}, fp16 drift {drift:.4f}, test d90 "
              f"{memory['held_out']['d90']['mean']:.2f}, context share {memory['held_out']['context_share']['mean']:.3f}, "
              f"walkthrough ranks {[m['rank'] for m in memory['moments']]}", file=sys.stderr)
        if final.exists():
            shutil.rmtree(final)
        dest.rename(final)


if __name__ == "__main__":
    main()
