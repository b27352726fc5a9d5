"""Which model serves each unit in the app, and the files the app reads beside each model.

One small TOML file says it (``models.toml`` at the repository root; the environment variable
``RNNMEM_MODELS`` points at another file)::

    [models]                 # unit -> model reference (rnnmem.refs): a shipped name, a local directory
    gru = "gru"              # (relative to this file), or hf://OWNER/NAME[@REVISION]
    lstm = "hf://someone/rnnmem-lstm@v1"

    [app]
    units = ["gru", "lstm", "nlstm"]    # units shown when a page opens without ?units=
    overrides = ["shipped", "hub"]      # reference kinds a visitor may pick in the sidebar or a link
    memory_corpus = "/data/wiki.xz"     # optional: a corpus whose test split the Memory page can sample

Units left out of ``[models]`` use their shipped default. Everything is validated when the file is read,
and every problem is a ``SettingsError`` with a one-line message naming the file.

Pure Python: no Streamlit here, so the CLI, tests and benchmarks read settings the same way the app does.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelRefError, SettingsError
from .modelref import ModelRef, parse_model_ref
from .runfiles import LOG_FILE, SUMMARY_FILE, read_log
from .units import UNITS

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (requirements.txt installs it there)
    import tomli as tomllib

SETTINGS_ENV = "RNNMEM_MODELS"
# The repository root's models.toml (beside app.py). An installed package without it uses the defaults.
DEFAULT_SETTINGS_FILE = Path(__file__).resolve().parent.parent / "models.toml"
REFERENCE_KINDS = ("shipped", "local", "hub")
# A visitor's link can name a Hub model or a shipped one; a server directory only from this file: a link
# that could point the server at any path would let strangers probe its file system.
DEFAULT_OVERRIDES = ("shipped", "hub")
EVALUATION_SPLITS = ("test", "valid")


@dataclass(frozen=True)
class AppSettings:
    models: Mapping[str, str]  # unit -> model reference, for every unit in UNITS
    default_units: tuple[str, ...]  # units selected when a page opens without ?units=
    overrides: frozenset[str]  # reference kinds ("shipped", "local", "hub") a visitor may choose
    path: Path | None = None  # the file these came from; None for the built-in defaults
    # A corpus file (relative paths: to the settings file) whose test split the Memory page samples; None:
    # the page offers only the walkthrough paragraph and pasted text. Never committed (README, "Training").
    memory_corpus: Path | None = None

    def reference(self, unit: str, shipped_set: str = "") -> str:
        """The reference serving ``unit``. With ``shipped_set`` (a prefix of rnnmem.refs.SHIPPED_SETS, e.g.
        "article/"), a unit left on its shipped default is served by that set's model of the same unit;
        a unit configured otherwise (a local directory, a Hub model) keeps its configuration."""
        reference = self.models[unit]
        return shipped_set + unit if shipped_set and reference == unit else reference


TORCH_THREADS_ENV = "RNNMEM_TORCH_THREADS"


def torch_threads() -> int:
    """The torch threads one request uses, in the server's script runs and in a worker process:
    ``RNNMEM_TORCH_THREADS``, one by default (or when it is not a whole number)."""
    try:
        return max(1, int(os.environ.get(TORCH_THREADS_ENV, "1")))
    except ValueError:
        return 1


def default_settings() -> AppSettings:
    """Every unit served by its shipped model, all four shown."""
    return AppSettings(models={unit: unit for unit in UNITS}, default_units=tuple(UNITS),
                       overrides=frozenset(DEFAULT_OVERRIDES), path=None)


def settings_path(environ: Mapping[str, str] | None = None) -> Path:
    """The settings file in effect: ``$RNNMEM_MODELS`` if set, else the repository's models.toml."""
    environ = os.environ if environ is None else environ
    value = environ.get(SETTINGS_ENV, "").strip()
    return Path(value).expanduser() if value else DEFAULT_SETTINGS_FILE


def load_settings(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> AppSettings:
    """Read and validate the settings file (``path``, else ``settings_path()``).

    The default models.toml may be absent (built-in defaults); a file named explicitly or through
    ``RNNMEM_MODELS`` must exist."""
    explicit = path is not None or bool((os.environ if environ is None else environ).get(SETTINGS_ENV, "").strip())
    path = Path(path) if path is not None else settings_path(environ)
    if not path.is_file():
        if explicit:
            raise SettingsError(f"settings file not found: {path}")
        return default_settings()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path} is not valid TOML: {error}") from None
    return parse_settings(data, base_dir=path.parent, path=path)


def parse_settings(data: Mapping, *, base_dir: Path, path: Path | None = None) -> AppSettings:
    """Validate parsed TOML. Local directories are resolved against ``base_dir`` (the file's folder)."""
    where = str(path) if path else "settings"
    unknown = sorted(set(data) - {"models", "app"})
    if unknown:
        raise SettingsError(f"{where}: unknown section {unknown[0]!r} (expected [models] and [app])")
    models_table = data.get("models", {})
    app_table = data.get("app", {})
    if not isinstance(models_table, Mapping) or not isinstance(app_table, Mapping):
        raise SettingsError(f"{where}: [models] and [app] must be tables")

    models = {unit: unit for unit in UNITS}
    for unit, ref in models_table.items():
        if unit not in UNITS:
            raise SettingsError(f"{where}: [models] has unknown unit {unit!r} (expected {', '.join(UNITS)})")
        if not isinstance(ref, str) or not ref.strip():
            raise SettingsError(f"{where}: [models] {unit} must be a non-empty string")
        try:
            parsed = parse_model_ref(ref)
        except ModelRefError as error:
            raise SettingsError(f"{where}: [models] {unit}: {error}") from None
        if parsed.kind == "local" and not Path(parsed.name).expanduser().is_absolute():
            parsed = ModelRef("local", str((base_dir / Path(parsed.name).expanduser()).resolve()))
        models[unit] = str(parsed)

    unknown = sorted(set(app_table) - {"units", "overrides", "memory_corpus"})
    if unknown:
        raise SettingsError(f"{where}: [app] has unknown key {unknown[0]!r} (expected units, overrides, "
                            "memory_corpus)")
    units = app_table.get("units", list(UNITS))
    if not isinstance(units, list) or not units or not all(isinstance(u, str) for u in units):
        raise SettingsError(f"{where}: [app] units must be a non-empty list of unit names")
    bad = [u for u in units if u not in UNITS]
    if bad:
        raise SettingsError(f"{where}: [app] units has unknown unit {bad[0]!r} (expected {', '.join(UNITS)})")
    overrides = app_table.get("overrides", list(DEFAULT_OVERRIDES))
    if not isinstance(overrides, list) or not all(isinstance(k, str) for k in overrides):
        raise SettingsError(f"{where}: [app] overrides must be a list of reference kinds")
    bad = [k for k in overrides if k not in REFERENCE_KINDS]
    if bad:
        raise SettingsError(f"{where}: [app] overrides has unknown kind {bad[0]!r} "
                            f"(expected {', '.join(REFERENCE_KINDS)})")
    corpus = app_table.get("memory_corpus")
    if corpus is not None and (not isinstance(corpus, str) or not corpus.strip()):
        raise SettingsError(f"{where}: [app] memory_corpus must be a non-empty path")
    ordered_units = tuple(u for u in UNITS if u in units)  # the page order, whatever the file's order
    return AppSettings(models=models, default_units=ordered_units, overrides=frozenset(overrides), path=path,
                       memory_corpus=(base_dir / Path(corpus).expanduser()).resolve() if corpus else None)


def check_override(ref: str, settings: AppSettings) -> str:
    """A visitor's model reference (sidebar or link), parsed and checked against ``settings.overrides``.
    Returns the canonical reference; raises ModelRefError with a one-line reason."""
    parsed = parse_model_ref(ref)
    if parsed.kind not in settings.overrides:
        allowed = {"shipped": "a unit name", "hub": "hf://OWNER/NAME[@REVISION]", "local": "a model directory"}
        choices = " or ".join(allowed[k] for k in REFERENCE_KINDS if k in settings.overrides) or "nothing"
        raise ModelRefError(f"{_kind_name(parsed.kind)} cannot be chosen here (allowed: {choices}); "
                            "the server's models.toml can name it")
    return str(parsed)


def _kind_name(kind: str) -> str:
    return {"shipped": "a shipped model", "local": "a local model directory", "hub": "a Hub model"}[kind]


# ---- files beside a model -----------------------------------------------------------------------------

def evaluation_file(directory: Path, split: str) -> Path:
    if split not in EVALUATION_SPLITS:
        raise SettingsError(f"unknown split {split!r} (expected {', '.join(EVALUATION_SPLITS)})")
    return Path(directory) / f"evaluation_{split}.json"


def read_evaluation(directory: Path | None, split: str) -> dict | None:
    """A model's stored evaluation (``evaluation_<split>.json``, as ``python -m rnnmem evaluate --json``
    writes it), checked; None when there is none. Raises SettingsError when the file is unusable."""
    if directory is None:
        return None
    path = evaluation_file(directory, split)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SettingsError(f"{path.name} cannot be read: {error}") from None
    return check_evaluation(data, path.name)


def check_evaluation(data, name: str = "evaluation") -> dict:
    """Validate an evaluation dict: top-1/2/3 rates in [0, 1] of equal length, counts alongside, and the
    characters scored and cross-entropy, when present, numbers the page can print."""
    if not isinstance(data, dict):
        raise SettingsError(f"{name}: not a JSON object")
    table = data.get("accuracy_by_chars_seen")
    if not isinstance(table, dict) or not all(k in table for k in ("top1", "top2", "top3")):
        raise SettingsError(f"{name}: no accuracy_by_chars_seen with top1, top2 and top3")
    lengths = {len(table[k]) if isinstance(table[k], list) else -1 for k in ("top1", "top2", "top3")}
    if len(lengths) != 1 or -1 in lengths:
        raise SettingsError(f"{name}: top1, top2 and top3 must be lists of the same length")
    for k in ("top1", "top2", "top3"):
        if not all(_is_rate(v) for v in table[k]):
            raise SettingsError(f"{name}: {k} must hold accuracies between 0 and 1")
    counts = data.get("counts")
    if counts is not None and (not isinstance(counts, list) or len(counts) != lengths.pop()
                               or not all(isinstance(c, int) and c >= 0 for c in counts)):
        raise SettingsError(f"{name}: counts must be non-negative integers, one per characters-seen value")
    chars = data.get("chars", 0)  # the figures the Accuracy page quotes beside the curves, when present
    if not isinstance(chars, int) or isinstance(chars, bool) or chars < 0:
        raise SettingsError(f"{name}: chars must be a non-negative integer")
    entropy = data.get("cross_entropy", 0.0)
    if not isinstance(entropy, (int, float)) or isinstance(entropy, bool) or not math.isfinite(entropy):
        raise SettingsError(f"{name}: cross_entropy must be a finite number")
    return data


def _is_rate(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 0.0 <= value <= 1.0


def read_training(directory: Path | None) -> tuple[list[dict], dict | None]:
    """A model's training log rows (dicts of step, chars_seen, seconds, train_loss, valid_loss) and its
    training summary (None if absent). ([], None) when there is no directory or no log."""
    if directory is None:
        return [], None
    log_path = Path(directory) / LOG_FILE
    rows: list[dict] = []
    if log_path.is_file():
        try:
            rows = read_log(log_path)
        except (OSError, ValueError, TypeError) as error:
            raise SettingsError(f"{LOG_FILE} cannot be read: {error}") from None
    summary = None
    summary_path = Path(directory) / SUMMARY_FILE
    if summary_path.is_file():
        try:
            candidate = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            candidate = None
        summary = candidate if isinstance(candidate, dict) else None
    return rows, summary


__all__ = ["AppSettings", "SettingsError", "SETTINGS_ENV", "DEFAULT_SETTINGS_FILE", "default_settings",
           "settings_path", "load_settings", "parse_settings", "check_override", "evaluation_file", "read_evaluation",
           "check_evaluation", "read_training", "EVALUATION_SPLITS", "TORCH_THREADS_ENV", "torch_threads"]
