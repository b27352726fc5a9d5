"""Time preparing a corpus into the cached dataset, then reloading it.

    python -m benchmarks.dataset_prep ../shared/data/wiki2015-text8like-100M.txt.xz

Uses a fresh temporary cache folder, so the first call really prepares (vocabulary, alignment, packing,
split, arrays written) and the second reloads (memory-mapped arrays). Both include reading the corpus.
"""

import argparse
import tempfile
import time
from pathlib import Path

from rnnmem.dataset import DatasetConfig, prepare_dataset


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", help="'text8' or a corpus file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        for label in ("prepare", "reload"):
            start = time.perf_counter()
            dataset = prepare_dataset(args.corpus, DatasetConfig(), cache_root=Path(cache), log=lambda m: None)
            seconds = time.perf_counter() - start
            print(f"{label:8s} {seconds:6.1f} s  {len(dataset.chars):,} characters, {len(dataset.starts):,} sequences "
                  f"(train {len(dataset.splits['train']):,} / valid {len(dataset.splits['valid']):,} / "
                  f"test {len(dataset.splits['test']):,})", flush=True)


if __name__ == "__main__":
    main()
