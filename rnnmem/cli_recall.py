"""CLI command over rnnmem.recall: how much each unit's connectivity rests on the words it read before."""

from __future__ import annotations

import json
import sys

from tqdm.auto import tqdm

from .cli_analysis import _load, _stderr, _text_file_sequences, positive_int, seed_int
from .errors import InputError
from .held_out import split_sequences, take_chars
from .recall import RECALL_MEASURES, recall_profile

MEANING = {"share": "row share on the earlier readings' letters",
           "expected": "the share of an earlier rarer word's letters as far back, at control moments",
           "lift": "share / expected"}


def add_commands(sub) -> None:
    p = sub.add_parser("recall", help="how much the connectivity of a rarer word read before rests on that reading, "
                                      "against a control (rnnmem.recall)")
    p.add_argument("model")
    p.add_argument("--corpus", default=None, help="'text8' or a corpus file; measures on its --split")
    p.add_argument("--split", choices=("valid", "test"), default="test")
    p.add_argument("--data-seed", type=seed_int, default=0, help="split seed the model was trained with")
    p.add_argument("--text-file", default=None, help="measure on this text file instead")
    p.add_argument("--max-chars", type=positive_int, default=None,
                   help="read at most this many characters (the first sequences of the split or file, in order)")
    p.add_argument("--controls", type=positive_int, default=2, help="control moments drawn per recall moment")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the controls and of the bootstrap")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_recall)


def run_recall(args) -> int:
    if (args.corpus is None) == (args.text_file is None):
        raise InputError("give exactly one of --corpus or --text-file")
    model, source_ref = _load(args.model)
    if args.text_file is not None:
        sequences = _text_file_sequences(model, args.text_file, args.max_chars)  # as ``evaluate`` reads it
        source, split = args.text_file, "text-file"
    else:
        sequences, _, source = split_sequences(model, args.corpus, args.split, args.data_seed, log=_stderr)
        split = args.split
    sequences = list(take_chars(sequences, args.max_chars))
    with tqdm(unit="seq", desc=f"recall {model.unit}", file=sys.stderr, disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        profile = recall_profile(model, sequences, controls=args.controls, seed=args.seed, progress=progress)
    report = {"model": source_ref, "corpus": source, "split": split, **profile.summary()}
    if args.json:
        print(json.dumps(report, allow_nan=False))
        return 0
    print(f"{model.unit}: {profile.moments:,} recall moments in {profile.sequences:,} sequences "
          f"({profile.characters:,} characters), {profile.controls:,} control moments (seed {args.seed})")
    for label, figures in [("all", profile.means),
                           *((f"read {band} back ({v['moments']:,})", v) for band, v in profile.by_distance.items())]:
        if not figures.get("moments", 1):
            print(f"  {label}: no moments")
            continue
        print(f"  {label}")
        for name in RECALL_MEASURES:
            m = figures[name]
            if m["mean"] is None or m["mean"] != m["mean"]:  # NaN: a lift with nothing that far back to compare
                print(f"    {name:9s}       –  (no control letters that far back, or next to nothing there)")
                continue
            print(f"    {name:9s} {m['mean']:7.4f}  (95% interval {m['low']:.4f} to {m['high']:.4f})  {MEANING[name]}")
    return 0
