"""The local end of the article run: the parts that came back from the GPU machine -> shipped models.

``collect(folders, dest)`` unpacks the parts in each folder (rnnmem.packing: each unit's newest complete
generation; a unit in a later folder replaces one in an earlier folder), loads each model strictly,
stores it in ``dest/<unit>/`` as float16 sharded safetensors (saved here, with this project's
huggingface_hub, whatever the GPU machine's wrote), with its training files and evaluations, adds
evaluation_sample.json (a corpus-free figure the shipped-weights tests can reproduce) and writes the model
card: the GPU, the wall time, the characters seen, how training ended, the test evaluation beside the
article's figures. ``python -m scripts.collect_article_models`` is the command.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch

from .accuracy import accuracy_by_chars_seen, sample_text_from_vocabulary
from .article_data import load_article_accuracy
from .errors import PackError
from .memory_report import memory_report
from .model import AutocompleteRNN
from .modelcard import write_model_card
from .packing import unpack_parts
from .units import UNIT_NAMES

# Files of a run's model directory kept beside the weights (the card is written anew).
KEPT_FILES = ("training_log.csv", "training_config.json", "training_summary.json", "evaluation_test.json",
              "evaluation_valid.json", "article_run.json")
MAX_SHARD_SIZE = 15_000_000
MAX_TOTAL_BYTES = 120_000_000  # the whole article set's weights


def collect(folders: list[Path], dest: Path, *, max_shard_size: int = MAX_SHARD_SIZE,
            max_total_bytes: int = MAX_TOTAL_BYTES, corpus: str | None = None, memory_positions: int = 2000,
            recall_chars: int | None = None, log=print) -> dict[str, Path]:
    """Turn the parts in ``folders`` into model directories ``dest/<unit>/``. Returns {unit: directory}.
    With ``corpus`` (the one the run trained on), each model's memory is measured on its test split and on
    the walkthrough paragraph (rnnmem.memory_report: memory.json and the card's memory section), as for
    the default models; recall against its control too with ``recall_chars`` (the test split's first
    characters: 300,000 as the defaults' is a long CPU run for 2×600 models, so only when asked). Raises
    ValueError when nothing complete came back or the set's weights are over
    ``max_total_bytes``."""
    dest = Path(dest)
    collected = {}
    with tempfile.TemporaryDirectory(prefix="rnnmem-collect-") as staging:
        unpacked: dict[str, Path] = {}
        for i, folder in enumerate(folders):
            for unit, directory in unpack_parts(Path(folder), Path(staging) / str(i)).items():
                unpacked[unit] = directory
        if not unpacked:
            raise PackError(f"no complete model pack in {', '.join(map(str, folders))}")
        for unit, directory in sorted(unpacked.items()):
            collected[unit] = _ship(directory, dest / unit, max_shard_size, corpus, memory_positions, recall_chars)
            log(f"{unit}: {_weights_bytes(collected[unit]) / 1e6:.1f} MB in {collected[unit]}")
    total = sum(_weights_bytes(directory) for directory in dest.iterdir() if directory.is_dir())
    if total > max_total_bytes:
        raise PackError(f"the set's weights take {total / 1e6:.1f} MB, over {max_total_bytes / 1e6:.0f} MB")
    return collected


def _ship(source: Path, target: Path, max_shard_size: int, corpus: str | None = None,
          memory_positions: int = 2000, recall_chars: int | None = None) -> Path:
    model = AutocompleteRNN.from_directory(source)  # strict: a pack that does not load stops here
    if target.exists():
        shutil.rmtree(target)
    model.save(target, dtype=torch.float16, max_shard_size=max_shard_size)
    for name in KEPT_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, target / name)
    sample = sample_text_from_vocabulary(model.words)
    (target / "evaluation_sample.json").write_text(json.dumps(
        {"sample": {"generator": "rnnmem.analysis.sample_text_from_vocabulary", "n_words": 300, "seed": 0},
         **accuracy_by_chars_seen(model, sample).as_dict()}, indent=1))
    summary = json.loads((source / "training_summary.json").read_text())
    evaluation = None
    if (source / "evaluation_test.json").is_file():
        evaluation = json.loads((source / "evaluation_test.json").read_text())
        article = load_article_accuracy().get(model.unit)
        evaluation["article_top1"] = article["accuracy_by_chars_seen"]["top1"] if article else None
    memory = None
    if corpus is not None:
        model16 = AutocompleteRNN.from_directory(target)  # measured as shipped: float16 weights
        memory = memory_report(model16, corpus, memory_positions, recall_chars=recall_chars)
        (target / "memory.json").write_text(json.dumps(memory, indent=1))
    write_model_card(target, model, training=summary, evaluation=evaluation, memory=memory,
                     extra_sections="## Notes\n\n" + card_notes(model.unit, summary))
    return target


def card_notes(unit: str, summary: dict) -> str:
    """What the model card says about how the run went, from its training_summary.json."""
    epochs = summary.get("epochs_completed")
    target = summary.get("target_characters")
    lines = [
        f"Trained on one {summary.get('gpu', 'unknown device')} within a fixed time budget "
        f"({summary.get('time_budget_seconds', '?')} s for the whole run of its call: probe, training, "
        "evaluation): " + f"{summary.get('characters_seen', 0):,} characters seen ({epochs} epochs"
        + (f"; the plan aimed at {target:,}" if target else "") + "), against the article's 2 epochs at batch 64. "
        f"How training ended: it {summary.get('stopped', 'ended')}.",
        "Learning rate: Adam, linear warm-up, then cosine decay to the unit's end (its peak scaled from the "
        "article's 1e-3 at batch 64 by the square root of the batch size); full softmax.",
        "Weights stored in float16 (loading gives float32)"
        + (f"; the largest change in test accuracy against float32 is {summary['float16_test_accuracy_drift']:.4f}"
           if "float16_test_accuracy_drift" in summary else "") + ".",
    ]
    if unit == "rnn":
        lines.append("The article published no accuracy for a vanilla RNN.")
    else:
        lines.append(f"The 'article top1' row is the article's 2x600 {UNIT_NAMES[unit]}, trained 2 epochs on "
                     "text8 on a GPU.")
    return "\n".join(lines)


def _weights_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.glob("model*.safetensors"))
