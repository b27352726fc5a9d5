"""``python -m rnnmem``: train, suggest, connectivity, evaluate, publish.

Thin wiring over the library. Every expected failure (bad input, missing files, the Hub failing) ends
in a one-line ``error: …`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

import torch

from . import cli_analysis, cli_hub, cli_recall
from .errors import USER_ERRORS, InputError
from .runconfig import LR_SCHEDULES, TrainConfig
from .train import export_checkpoint, train
from .units import UNITS


# (flag, TrainConfig field, type, help): each flag's default is the field's, written once in rnnmem.runconfig.
_TRAIN_OPTIONS = {
    "what to train": (
        ("--hidden", "hidden_size", int, "units per recurrent layer (article: 600)"),
        ("--layers", "num_layers", int, "recurrent layers"),
        ("--embedding", "embedding_size", int, "character embedding width (default: --hidden)"),
    ),
    "data": (
        ("--corpus", "corpus", str, "'text8' (downloaded) or a local corpus file"),
        ("--vocab-size", "vocab_words", int, "most frequent words kept"),
        ("--seq-len", "seq_len", int, "characters per sequence"),
        ("--data-seed", "data_seed", int, "seed of the train/valid/test split"),
    ),
    "optimisation": (
        ("--batch-size", "batch_size", int, "sequences per step"),
        ("--lr", "learning_rate", float, "Adam learning rate"),
        ("--clip", "grad_clip", float, "clip the gradient norm to this (0: off)"),
        ("--warmup-chars", "warmup_chars", int, "linear learning-rate warm-up, in characters"),
        ("--min-lr-ratio", "min_lr_ratio", float, "cosine: final rate / --lr"),
        ("--repeat-weight", "repeat_weight", float, "loss weight at the letters of a rarer word already read in "
                                                    "its sequence (1: the plain loss)"),
        ("--init-from", "init_from", str, "start from this model directory's weights (same unit, sizes and "
                                          "vocabulary)"),
    ),
    "speed": (
        ("--num-sampled", "num_sampled", int, "negatives per step for --softmax sampled"),
    ),
    "bookkeeping": (
        ("--valid-every", "valid_every_chars", int, "validate every N characters"),
        ("--valid-chars", "valid_chars", int, "validation subset size in characters"),
        ("--memory-positions", "memory_positions", int,
         "memory measure on this many validation positions at each validation (0: off)"),
        ("--checkpoint-every", "checkpoint_every_seconds", float, "seconds between checkpoints"),
        ("--seed", "seed", int, "initialisation, batch order, sampling"),
    ),
}
_DEFAULTS = TrainConfig()


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train an autocomplete model")
    p.add_argument("--unit", choices=UNITS, required=True, help="recurrent unit")
    for group, options in _TRAIN_OPTIONS.items():
        g = p.add_argument_group(group)
        for flag, name, kind, help_text in options:
            default = getattr(_DEFAULTS, name)
            shown = "" if default is None else f" (default {default:g})" if isinstance(default, float) else \
                f" (default {default})"
            g.add_argument(flag, dest=name, type=kind, default=default, metavar=flag[2:].upper().replace("-", "_"),
                           help=help_text + shown)
    # the budget: epochs or characters; left None here so that --resume knows what was asked for
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=float, default=None,
                        help=f"epochs over the training split (default {_DEFAULTS.epochs:g})")
    budget.add_argument("--max-chars", type=int, default=None, help="train on this many characters instead")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=_DEFAULTS.lr_schedule,
                   help="constant (the article), or cosine decay to --min-lr-ratio at the end of the budget")
    p.add_argument("--softmax", choices=("full", "sampled"), default=_DEFAULTS.softmax,
                   help="training loss: full softmax, or sampled softmax (cheaper; inference unchanged)")
    p.add_argument("--bf16-output", action="store_true", help="dense layer in bfloat16 during training")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=_DEFAULTS.device)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def _run_train(args) -> int:
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be at least 1, not {args.threads}")
        torch.set_num_threads(args.threads)
    fields = {name for options in _TRAIN_OPTIONS.values() for _, name, _, _ in options}
    config = TrainConfig(
        unit=args.unit, **{name: getattr(args, name) for name in fields},
        epochs=_DEFAULTS.epochs if args.epochs is None else args.epochs, max_chars=args.max_chars,
        lr_schedule=args.lr_schedule, softmax=args.softmax, bf16_output=args.bf16_output, device=args.device,
    )
    if config.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is available")
    try:
        train(config, args.out, resume=args.resume, log=lambda m: print(m, file=sys.stderr),
              resume_overrides={"max_chars": args.max_chars, "epochs": args.epochs})
    except KeyboardInterrupt:
        return 130
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write a model directory from a training run's latest checkpoint")
    p.add_argument("run_dir", help="the --out folder of a training run")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--fp16", action="store_true", help="store weights as float16 (loading gives float32)")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    export_checkpoint(args.run_dir, args.out, dtype=torch.float16 if args.fp16 else torch.float32,
                      log=lambda m: print(m, file=sys.stderr))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: a bad flag or value is one ``error: …`` line and exit 2,
    like every other user mistake (argparse would print its usage block first)."""

    def error(self, message: str):
        print(f"error: {self.prog}: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m rnnmem", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_export(sub)
    cli_analysis.add_commands(sub)
    cli_recall.add_commands(sub)
    cli_hub.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) if hasattr(args, "run") else _run_train(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
