"""Loading a model from any reference: a shipped name, a model directory, or the Hugging Face Hub.

``load(ref)`` gives a ``LoadedModel`` (the model and where it came from, rnnmem.modelref); ``load_model(ref)``
just the model. ``load_with_fallback(ref, unit)`` is what the app uses: on any user-facing failure it gives
the shipped default for ``unit``, with a one-line notice saying what failed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import USER_ERRORS, ModelFilesError, ModelRefError
from .hub import load_hub_model, scrub
from .model import AutocompleteRNN
from .modelref import MAX_REF_CHARS, SHIPPED_SETS, LoadedModel, ModelRef, parse_model_ref
from .units import UNIT_NAMES

WEIGHTS_ROOT = Path(__file__).resolve().parent / "weights"  # shipped model directories


def _is_directory(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def shipped_dir(name: str) -> Path:
    return WEIGHTS_ROOT / name


def load(ref: str | ModelRef) -> LoadedModel:
    """The model for any reference, in eval mode, with where it came from. Raises the package's errors
    with one-line messages: ModelRefError, ModelFilesError, HubError (rnnmem.errors)."""
    parsed = ref if isinstance(ref, ModelRef) else parse_model_ref(ref)
    if parsed.kind == "hub":
        return load_hub_model(parsed.name, parsed.revision)
    directory = shipped_dir(parsed.name) if parsed.kind == "shipped" else Path(parsed.name)
    if parsed.kind == "shipped" and not _is_directory(directory):
        raise ModelRefError(f"no shipped weights for {parsed.name!r} in this installation")
    if not _is_directory(directory):
        raise ModelRefError(f"model directory not found: {str(directory)[:200]}")
    return LoadedModel(AutocompleteRNN.from_directory(directory), parsed, files_dir=directory)


def load_model(ref: str | ModelRef) -> AutocompleteRNN:
    """``load(ref).model``: a ready model in eval mode for any reference."""
    return load(ref).model


def load_with_fallback(ref: str, unit: str, *, loader: Callable[[str], LoadedModel] = load) -> LoadedModel:
    """The model for ``ref``, or on any user-facing failure the shipped default ``unit`` (e.g. ``"gru"``)
    with a notice saying what failed and that it fell back. The notice is None when ``ref`` loaded
    normally (or says the Hub was unreachable and a cached commit was used). Raises ModelRefError when
    the shipped default itself cannot be loaded. ``loader`` loads one reference (the app passes its
    cached ``load``: a failure is not cached, so an outage is retried at the next page run)."""
    try:
        return loader(ref)
    except (*USER_ERRORS, OSError) as error:
        failure = scrub(str(error), None)
    if not failure.startswith(str(ref).strip()):
        failure = f"{str(ref).strip()}: {failure}"
    try:
        default = loader(unit)
    except (*USER_ERRORS, OSError) as error:
        raise ModelRefError(f"could not load {failure}; and the shipped default {unit!r} cannot be loaded either "
                            f"({scrub(str(error), None)})") from None
    name = UNIT_NAMES.get(default.unit, default.unit)
    return default.with_notice(f"Could not load {failure}. Showing the shipped default {name} model ({unit}) instead.")


__all__ = ["MAX_REF_CHARS", "SHIPPED_SETS", "WEIGHTS_ROOT", "LoadedModel", "ModelFilesError", "ModelRef",
           "ModelRefError", "load", "load_model", "load_with_fallback", "parse_model_ref", "shipped_dir"]
