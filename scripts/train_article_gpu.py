"""Train the article-size models (2x600) on one CUDA GPU within a time budget, packed for the way back.

    python3 -m scripts.train_article_gpu --corpus .article-data/wiki2015-text8like-100M.txt.xz \
        --out "$OUT" --units gru lstm --time-budget 300

One call trains the units it is given one after the other (probe, plan, train, evaluate: rnnmem.article_run)
and leaves in --out only the packed model directories and run.log. Why two calls of two units, and the
exact device commands: README, "Article-size models on a GPU". Back here, ``python -m
scripts.collect_article_models`` turns the parts into rnnmem/weights/article/<unit>/.

The arithmetic of the way back (at most 8 files of at most 16 MiB, 64 MiB in all, per call): in float16,
with its vocabulary, a 2x600 GRU is 28.7 MB, an LSTM or Nested LSTM 31.6 MB, a vanilla RNN 23.0 MB; about
115 MB for the four, so they cannot come back in one call. Sharded safetensors alone do not fit either: a
shard never splits a tensor, and the dense layer (16,386 x 600 float16) is 19.7 MB. So each unit travels
as a tar of its model directory cut into parts of 16,000,000 bytes (two per unit), each named with its
checksum; the GRU and LSTM make 4 parts and 60.4 MB, the RNN and Nested LSTM 4 parts and 54.6 MB. With the
two parts of a pack being replaced (written before the old ones go) and run.log, at most 7 files are in
--out. The run refuses unit lists that could not come back in one call.

Runs on the CPU too (--device cpu), through the same code; the CUDA-only parts (TF32, CUDA graphs for the
Nested LSTM, pinned-memory copies) are marked in rnnmem/article_run.py. Needs torch, numpy, safetensors,
huggingface_hub and tqdm, not Streamlit or Altair.
"""

import argparse
import sys
from dataclasses import fields

import torch

from rnnmem.article_run import SIGNALLED, ArticleRunConfig, run
from rnnmem.model import UNITS

# Numeric options: (flag, ArticleRunConfig field, type, help); each default is the field's.
NUMBERS = (
    # what to train
    ("--hidden", "hidden_size", int, "units per layer and embedding width (article: 600)"),
    ("--layers", "num_layers", int, "GRU/LSTM/RNN layers (article: 2)"),
    ("--nlstm-layers", "nlstm_layers", int, "Nested LSTM layers of depth 2"),
    # data
    ("--vocab-size", "vocab_words", int, "most frequent words kept"),
    ("--seq-len", "seq_len", int, "characters per sequence"),
    ("--data-seed", "data_seed", int, "seed of the train/valid/test split (keep 0: the shared test split)"),
    ("--epochs", "epochs", float, "target per unit (article: 2)"),
    # time
    ("--time-budget", "time_budget", float, "seconds for everything: probe, training, evaluation, packing"),
    ("--reserve", "reserve_seconds", float, "seconds kept per unit for its evaluation and packing (first unit)"),
    ("--safety", "safety_seconds", float, "seconds kept free at the end"),
    ("--probe-steps", "probe_steps", int, "timed steps per probe"),
    # optimisation
    ("--base-lr", "base_lr", float, "Adam rate at batch 64 (scaled by sqrt(batch/64))"),
    ("--max-lr", "max_lr", float, "cap on the scaled rate"),
    ("--warmup", "warmup_fraction", float, "linear warm-up, as a fraction of each unit's planned characters"),
    ("--min-lr-ratio", "min_lr_ratio", float, "the cosine decay ends at this fraction of the peak rate"),
    ("--clip", "grad_clip", float, "gradient norm clipping (0: off)"),
    # bookkeeping
    ("--valid-chars", "valid_chars", int, "validation subset size"),
    ("--valid-every", "valid_every_seconds", float, "seconds between validations (improvements are packed)"),
    ("--eval-chars", "eval_chars", int, "test/validation characters evaluated at the end (0: whole split)"),
    ("--max-shard-bytes", "max_shard_size", int, "safetensors shard size (0: one file)"),
    ("--part-bytes", "part_bytes", int, "bytes per returned part"),
    ("--seed", "seed", int, "initialisation and batch order"),
)


def main() -> int:
    defaults = ArticleRunConfig(units=("gru", "lstm"))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--units", nargs="+", choices=UNITS, default=list(defaults.units),
                   help="units in order of priority (two per call on the GPU machine: see README)")
    p.add_argument("--corpus", required=True, help="'text8' or a local corpus file (.xz, .gz, .zip, plain)")
    p.add_argument("--out", required=True, help="output folder: parts and run.log only ($OUT on the GPU machine)")
    p.add_argument("--batch-sizes", dest="batch_sizes", type=int, nargs="+", default=list(defaults.batch_sizes),
                   help="candidate batch sizes; the plan picks one per unit from the probe")
    p.add_argument("--precision", choices=("bf16-output", "fp32"), default=defaults.precision,
                   help="bf16-output: dense layer and loss in bfloat16, recurrent stack in float32")
    p.add_argument("--cuda-graphs", dest="cuda_graphs", choices=("auto", "on", "off"), default=defaults.cuda_graphs,
                   help="Nested LSTM's recurrent stack as a CUDA graph (auto: probe both, keep the faster)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    for flag, name, kind, help_text in NUMBERS:
        p.add_argument(flag, dest=name, type=kind, default=getattr(defaults, name), help=help_text)
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--no-return-limits", dest="return_limits", action="store_false",
                   help="allow more units than can come back from the GPU machine in one call (elsewhere)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda: no CUDA GPU is available", file=sys.stderr)
        return 2
    config = ArticleRunConfig(**{f.name: getattr(args, f.name) for f in fields(ArticleRunConfig)})
    config.max_shard_size = config.max_shard_size or None
    results = run(config)
    if not results:
        return 1
    return 130 if any(r.stopped == SIGNALLED for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
