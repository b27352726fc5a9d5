"""Turn the parts that came back from the GPU machine into the shipped article-size models.

    python -m scripts.collect_article_models /work/.device/FILES_AT_OF_CALL_1 /work/.device/FILES_AT_OF_CALL_2 \
        [--dest rnnmem/weights/article] [--corpus CORPUS --memory-positions 2000]

Each folder holds what one call of scripts.train_article_gpu left in $OUT (parts and run.log). Writes
rnnmem/weights/article/<unit>/ (float16 sharded safetensors, index, config.json, model card with the GPU,
wall time and characters seen, training log and summary, evaluations), loadable as
``rnnmem.load_model("article/gru")``. Run it after the last device call: the models would otherwise make
the working tree too large to travel to the GPU machine (64 MiB).
"""

import argparse
import sys
from pathlib import Path

from rnnmem.article_collect import MAX_SHARD_SIZE, MAX_TOTAL_BYTES, collect


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", type=Path, help="folders of returned parts, in the order of the calls")
    p.add_argument("--dest", type=Path, default=Path("rnnmem/weights/article"), help="where the set goes")
    p.add_argument("--max-shard-bytes", type=int, default=MAX_SHARD_SIZE, help="safetensors shard size")
    p.add_argument("--corpus", default=None,
                   help="the corpus the run trained on: measure each model's memory on its test split")
    p.add_argument("--memory-positions", type=int, default=2000, help="positions for the memory measure")
    p.add_argument("--recall-chars", type=int, default=None,
                   help="also measure recall against its control on the test split's first N characters "
                        "(300,000 for the default models' figures; a long CPU run for 2x600 models)")
    p.add_argument("--max-total-bytes", type=int, default=MAX_TOTAL_BYTES, help="limit on the set's weights")
    args = p.parse_args()
    try:
        collected = collect(args.folders, args.dest, max_shard_size=args.max_shard_bytes,
                            max_total_bytes=args.max_total_bytes, corpus=args.corpus,
                            memory_positions=args.memory_positions, recall_chars=args.recall_chars,
                            log=lambda m: print(m, file=sys.stderr))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(" ".join(sorted(collected)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
