"""Turn finished training runs into the shipped default models (rnnmem/weights/<unit>/).

    python -m scripts.ship_weights --runs /path/to/runs --corpus ../shared/data/wiki2015-text8like-100M.txt.xz \
        [--units rnn gru lstm nlstm] [--eval-chars 1000000] [--memory-positions 2000] [--dest rnnmem/weights]

For each unit: evaluates the float32 run on the test and validation splits (``--eval-chars`` characters
each; with the accuracy's breakdown by repetition), stores the weights in float16, checks the float16 model's test accuracy is within 0.001 of the
float32 one, evaluates it on a fixed sample drawn from its own vocabulary (the figures the tests
reproduce), measures its memory (rnnmem.memory) on the test split and on the article's walkthrough
paragraph, and recall against its control (rnnmem.recall) on the test split, and writes evaluation_*.json,
memory.json and a model card with the article's figures beside its own.

    python -m scripts.ship_weights --remeasure --corpus CORPUS --eval-chars 300000 [--units ...]

measures the shipped models in --dest again (memory.json, and the model card written anew from the
directory's own evaluation and training files, its notes kept), leaving the weights and evaluations as
they are: for figures added to the measure after a model was shipped.
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
from rnnmem.held_out import split_sequences, take_chars
from rnnmem.memory_report import memory_report
from rnnmem.model import AutocompleteRNN
from rnnmem.modelcard import write_model_card
from rnnmem.runfiles import MEMORY_FILE
from rnnmem.units import UNIT_NAMES

COPIED = ("training_log.csv", "training_config.json", "training_summary.json")


def evaluate(model, corpus: str, split: str, max_chars: int, data_seed: int) -> dict:
    """What ``python -m rnnmem evaluate --by repetition --json`` reports: the accuracy, and its breakdown by
    repetition (a rarer word already read in its sequence or new: the model card's memory signal)."""
    sequences, _, source = split_sequences(model, corpus, split, data_seed)
    result, bands = accuracy_with_bands(model, take_chars(sequences, max_chars), "repetition")
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


def write_card(dest: Path, model: AutocompleteRNN, test: dict, memory: dict, notes: str) -> None:
    """The model card of a shipped directory: its training summary, test evaluation (with the article's
    top-1 beside it, where the article published one), memory figures and ``notes``."""
    summary = json.loads((dest / "training_summary.json").read_text())
    article = load_article_accuracy().get(model.unit)
    evaluation = {**test, "article_top1": article["accuracy_by_chars_seen"]["top1"] if article else None}
    write_model_card(dest, model, training=summary, evaluation=evaluation, memory=memory,
                     extra_sections="## Notes\n\n" + notes)


NOTES = "\n## Notes\n\n"


def remeasure(dest: Path, corpus: str, memory_positions: int, recall_chars: int) -> dict:
    """Measure the shipped model in ``dest`` again: memory.json and the model card, its notes kept."""
    model = AutocompleteRNN.from_directory(dest)
    data_seed = json.loads((dest / "training_config.json").read_text()).get("data_seed", 0)
    card = (dest / "README.md").read_text()
    if NOTES not in card:
        raise SystemExit(f"{dest}: its model card has no notes section to keep; ship it from its run instead")
    memory = memory_report(model, corpus, memory_positions, data_seed=data_seed, recall_chars=recall_chars)
    # the card first: a card that cannot be written leaves both files as they were
    write_card(dest, model, json.loads((dest / "evaluation_test.json").read_text()), memory,
               card.split(NOTES, 1)[1].rstrip("\n"))
    (dest / MEMORY_FILE).write_text(json.dumps(memory, indent=1))
    return memory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", help="folder holding one finished run directory per unit")
    p.add_argument("--remeasure", action="store_true",
                   help="measure the shipped models in --dest again instead (memory.json and model card)")
    p.add_argument("--corpus", required=True)
    p.add_argument("--units", nargs="+", default=["rnn", "gru", "lstm", "nlstm"])
    p.add_argument("--eval-chars", type=int, default=1_000_000,
                   help="the test and validation splits' first characters the accuracy and recall are measured on")
    p.add_argument("--memory-positions", type=int, default=2000)
    p.add_argument("--dest", default="rnnmem/weights")
    args = p.parse_args()
    if (args.runs is None) == (not args.remeasure):
        p.error("give --runs, or --remeasure")
    if args.remeasure:
        for unit in args.units:
            memory = remeasure(Path(args.dest) / unit, args.corpus, args.memory_positions, args.eval_chars)
            print(f"{unit}: {_memory_line(memory)}", file=sys.stderr)
        return
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
        # recall on the accuracy's sample: the test split's first --eval-chars characters
        memory = memory_report(fp16, args.corpus, args.memory_positions, data_seed=data_seed,
                               recall_chars=args.eval_chars)
        (dest / MEMORY_FILE).write_text(json.dumps(memory, indent=1))
        drift_note = (f"Weights stored in float16 (loading gives float32); the largest change in test accuracy "
                      f"against float32, over characters-seen bins of at least {DRIFT_MIN_COUNT:,} characters, "
                      f"is {drift:.4f}.")
        notes = drift_note + (f" The 'article top1' row is the article's 2×600 {UNIT_NAMES[unit]} trained 2 epochs "
                              "on text8 on a GPU" if unit in load_article_accuracy() else
                              " The article published no accuracy for a vanilla RNN")
        write_card(dest, fp16, test16, memory, notes + ".")
        size = (dest / "model.safetensors").stat().st_size
        print(f"{unit}: {size / 1e6:.1f} MB, test top1@0-3 "
              + " ".join(f"{v:.3f}" for v in test16["accuracy_by_chars_seen"]["top1"][:4])
              + f", cross-entropy {test16['cross_entropy']:.3f}, fp16 drift {drift:.4f}, {_memory_line(memory)}",
              file=sys.stderr)
        if final.exists():
            shutil.rmtree(final)
        dest.rename(final)


def _memory_line(memory: dict) -> str:
    recall = memory["recall"]
    lift = "–" if not recall["moments"] or recall["lift"]["mean"] is None else f"{recall['lift']['mean']:.2f}"
    return (f"test d90 {memory['held_out']['d90']['mean']:.2f}, context share "
            f"{memory['held_out']['context_share']['mean']:.3f}, recall lift {lift} ({recall['moments']:,} moments), "
            f"walkthrough ranks {[m['rank'] for m in memory['moments']]}")


if __name__ == "__main__":
    main()
