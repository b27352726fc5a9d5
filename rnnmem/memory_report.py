"""The memory figures a shipped model carries in its ``memory.json`` and model card.

One function for both shipped sets (``scripts.ship_weights`` for the CPU-trained defaults,
``scripts.collect_article_models`` for the article-size GPU models), so that their cards quote figures
measured the same way: the memory measure (rnnmem.memory) on whole sequences of the corpus's test split,
recall against its control (rnnmem.recall) on the test split's first characters, and the model's
connectivity, ranks and probabilities on the article's walkthrough paragraph beside the article's own
published model of the same unit. ``read_memory_report`` reads such a file back for the Memory page,
checked (a Hub model's files are anybody's).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from .breakdowns import distance_spans
from .errors import InputError, SettingsError
from .held_out import held_out_texts, split_sequences, take_chars
from .memory import memory_profile
from .recall import recall_profile
from .runfiles import MEMORY_FILE
from .settings import EVALUATION_SPLITS
from .walkthrough import model_report

MEMORY_SEED = 0  # one seed for every shipped model: the same test sequences, in the same order
# The test split's first characters that recall is measured on: the accuracy's sample in
# scripts.ship_weights (--eval-chars), about 1,600 recall moments for the shipped vocabulary.
RECALL_CHARS = 300_000


def recall_report(model, corpus: str, max_chars: int = RECALL_CHARS, seed: int = MEMORY_SEED, *,
                  data_seed: int = 0) -> dict:
    """Recall against its control (rnnmem.recall, two control moments per recall moment) on the first
    ``max_chars`` characters of ``corpus``'s test split, as ``python -m rnnmem recall MODEL --corpus CORPUS
    --split test --max-chars N --json`` reports it; ``{"moments": 0}`` beside the sample's size if no rarer
    word is read twice in one of its sequences."""
    sequences, _, _ = split_sequences(model, corpus, "test", data_seed)
    sample = list(take_chars(sequences, max_chars))
    head = {"split": "test", "max_chars": max_chars}
    try:
        profile = recall_profile(model, sample, seed=seed)
    except InputError:  # no rarer word read twice: nothing to recall, which the card says
        return {**head, "moments": 0}
    return {**head, **profile.summary()}


def memory_report(model, corpus: str, positions: int, seed: int = MEMORY_SEED, *, data_seed: int = 0,
                  recall_chars: int | None = RECALL_CHARS) -> dict:
    """{"held_out": memory on ``positions`` positions of the test split, "recall": recall against its
    control on its first ``recall_chars`` characters (left out if None), "walkthrough": the paragraph's
    measures (ours and the article's), "moments": the three walkthrough moments}. ``corpus`` must be the
    one the model was trained on, split with the ``data_seed`` it was trained with, so that its test split
    is held out."""
    profile = memory_profile(model, held_out_texts(model, corpus, data_seed=data_seed), positions=positions,
                             seed=seed)
    report = model_report(model)
    figures = {"held_out": {"split": "test", **profile.summary()}}
    if recall_chars is not None:
        figures["recall"] = recall_report(model, corpus, recall_chars, seed, data_seed=data_seed)
    return {**figures, "walkthrough": {"model": report["model"], "article": report.get("article")},
            "moments": report["moments"]}


def read_memory_report(directory: Path | None) -> dict | None:
    """A model's stored memory figures (``memory.json``, as ``scripts.ship_weights`` writes it): its
    ``held_out`` measure and, where measured, its ``recall``, checked as far as the Memory page reads them;
    None when there is none. Raises SettingsError when the file is unusable (a Hub model's files are
    anybody's). Read and checked once per version of the file (path, modification time, size): the Memory
    page asks on every rerun, and a Hub model's file may be megabytes."""
    path = None if directory is None else Path(directory) / MEMORY_FILE
    if path is None or not path.is_file():
        return None
    found = path.stat()
    return _read_memory_report(str(path), found.st_mtime_ns, found.st_size)


@functools.lru_cache(maxsize=32)
def _read_memory_report(path: str, mtime_ns: int, size: int) -> dict:
    try:  # a broken file raises: not kept, so its warning is shown every time
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SettingsError(f"{MEMORY_FILE} cannot be read: {error}") from None
    return check_memory_report(data)


# What each stored figure may be: the page prints them as percentages, ratios or characters, so a figure
# out of its range is a broken file, not a finding (and a 300-digit cell would break the table).
SHARE, RATIO, CHARACTERS = (0.0, 1.0), (0.0, 1e6), (0.0, 1e5)
HELD_OUT_RANGES = {"context_share": SHARE, "d50": CHARACTERS, "d90": CHARACTERS}
RECALL_RANGES = {"share": SHARE, "expected": SHARE, "lift": RATIO}


def check_memory_report(data, name: str = MEMORY_FILE) -> dict:
    """Validate what the Memory page reads of a memory report: ``held_out`` (split, positions, sequences,
    seed, context_share / d50 / d90 as mean, low, high) and optionally ``recall`` (split, max_chars,
    moments; with moments: characters, controls, sequences, seed, share / expected / lift, and the same by
    distance in rnnmem.breakdowns' bands; a figure None where it could not be given)."""
    if not isinstance(data, dict) or not isinstance(data.get("held_out"), dict):
        raise SettingsError(f"{name}: no held_out figures")
    held_out = data["held_out"]
    _check_counts(held_out, ("positions", "sequences", "seed"), f"{name}: held_out")
    _check_split(held_out, f"{name}: held_out")
    for measure, bounds in HELD_OUT_RANGES.items():
        _check_figure(held_out.get(measure), bounds, f"{name}: held_out {measure}", optional=False)
    recall = data.get("recall")
    if recall is not None:
        where = f"{name}: recall"
        if not isinstance(recall, dict):
            raise SettingsError(f"{where} must be an object")
        _check_counts(recall, ("max_chars", "moments"), where)
        _check_split(recall, where)
        if recall["moments"]:
            _check_counts(recall, ("characters", "controls", "sequences", "seed"), where)
            bands, known = recall.get("by_distance"), distance_spans()
            if not isinstance(bands, dict) or not set(bands) <= set(known):
                raise SettingsError(f"{where}: by_distance must map bands among {', '.join(known)} to figures")
            for label, figures in [("all", recall), *bands.items()]:
                if not isinstance(figures, dict):
                    raise SettingsError(f"{where} {label} must be an object")
                _check_counts(figures, ("moments", "sequences"), f"{where} {label}")
                for measure, bounds in RECALL_RANGES.items():
                    _check_figure(figures.get(measure), bounds, f"{where} {label} {measure}", optional=True)
    return data


def _check_counts(data: dict, keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SettingsError(f"{where}: {key} must be a non-negative integer")


def _check_split(data: dict, where: str) -> None:
    if data.get("split") not in EVALUATION_SPLITS:
        raise SettingsError(f"{where}: split must be one of {', '.join(EVALUATION_SPLITS)}")


def _check_figure(figure, bounds: tuple[float, float], where: str, *, optional: bool) -> None:
    """{"mean", "low", "high"}: numbers within ``bounds`` (or, ``optional``, all None: not measurable
    there)."""
    if not isinstance(figure, dict):
        raise SettingsError(f"{where} must be an object with mean, low and high")
    values = [figure.get(key) for key in ("mean", "low", "high")]
    if optional and all(value is None for value in values):
        return
    low, high = bounds
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high for v in values):
        raise SettingsError(f"{where}: mean, low and high must be numbers from {low:g} to {high:g}")
