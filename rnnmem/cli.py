"""``python -m rnnmem``: train, suggest, connectivity, evaluate, publish.

Thin wiring over the library. Every expected failure (bad input, missing files, the Hub failing) ends
in a one-line ``error: …`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .model import UNITS


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train an autocomplete model")
    # what to train
    p.add_argument("--unit", choices=UNITS, required=True, help="recurrent unit")
    p.add_argument("--hidden", type=int, default=256, help="units per recurrent layer (article: 600)")
    p.add_argument("--layers", type=int, default=2, help="recurrent layers")
    p.add_argument("--embedding", type=int, default=None, help="character embedding width (default: --hidden)")
    # data
    p.add_argument("--corpus", default="text8", help="'text8' (downloaded) or a local corpus file")
    p.add_argument("--vocab-size", type=int, default=2**14, help="most frequent words kept")
    p.add_argument("--seq-len", type=int, default=200, help="characters per sequence")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the train/valid/test split")
    # budget
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=float, default=None, help="epochs over the training split (default 2)")
    budget.add_argument("--max-chars", type=int, default=None, help="train on this many characters instead")
    p.add_argument("--batch-size", type=int, default=64, help="sequences per step")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--clip", type=float, default=0.0, help="clip the gradient norm to this (0: off)")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant",
                   help="constant (the article), or cosine decay to --min-lr-ratio at the end of the budget")
    p.add_argument("--warmup-chars", type=int, default=0, help="linear learning-rate warm-up, in characters")
    p.add_argument("--min-lr-ratio", type=float, default=0.05, help="cosine: final rate / --lr")
    p.add_argument("--init-from", default=None, metavar="MODEL_DIR",
                   help="start from this model directory's weights (same unit, sizes and vocabulary)")
    # speed
    p.add_argument("--softmax", choices=("full", "sampled"), default="full",
                   help="training loss: full softmax, or sampled softmax (cheaper; inference unchanged)")
    p.add_argument("--num-sampled", type=int, default=2048, help="negatives per step for --softmax sampled")
    p.add_argument("--bf16-output", action="store_true", help="dense layer in bfloat16 during training")
    # bookkeeping
    p.add_argument("--valid-every", type=int, default=2_000_000, help="validate every N characters")
    p.add_argument("--valid-chars", type=int, default=200_000, help="validation subset size in characters")
    p.add_argument("--memory-positions", type=int, default=2000,
                   help="memory measure on this many validation positions at each validation (0: off)")
    p.add_argument("--checkpoint-every", type=float, default=120.0, help="seconds between checkpoints")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--seed", type=int, default=0, help="initialisation, batch order, sampling")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def _run_train(args) -> int:
    import torch

    from .train import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(
        unit=args.unit, hidden_size=args.hidden, num_layers=args.layers, embedding_size=args.embedding,
        corpus=args.corpus, vocab_words=args.vocab_size, seq_len=args.seq_len, data_seed=args.data_seed,
        epochs=2.0 if args.epochs is None else args.epochs, max_chars=args.max_chars, batch_size=args.batch_size, learning_rate=args.lr, grad_clip=args.clip,
        lr_schedule=args.lr_schedule, warmup_chars=args.warmup_chars, min_lr_ratio=args.min_lr_ratio,
        init_from=args.init_from,
        softmax=args.softmax, num_sampled=args.num_sampled, bf16_output=args.bf16_output,
        valid_every_chars=args.valid_every, valid_chars=args.valid_chars, memory_positions=args.memory_positions,
        checkpoint_every_seconds=args.checkpoint_every, seed=args.seed, device=args.device,
    )
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available")
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
    import torch

    from .train import export_checkpoint

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
    from . import cli_analysis

    cli_analysis.add_commands(sub)
    from . import cli_hub

    cli_hub.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .errors import USER_ERRORS

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) if hasattr(args, "run") else _run_train(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
