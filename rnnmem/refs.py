"""Model references: one way to name a model everywhere (API, CLI, app, share links).

- a shipped default by unit name: ``rnn``, ``gru``, ``lstm``, ``nlstm`` (and ``article/gru`` … for the
  article-size set, when shipped);
- a local model directory (any path that exists, or that contains a path separator);
- ``hf://OWNER/NAME`` or ``hf://OWNER/NAME@REVISION`` for the Hugging Face Hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import quoted
from .model import UNITS, AutocompleteRNN, ModelFilesError

WEIGHTS_ROOT = Path(__file__).resolve().parent / "weights"  # shipped model directories
SHIPPED_SETS = {"": "CPU-trained defaults", "article/": "article-size (2x600, GPU-trained)"}

MAX_REF_CHARS = 1024  # longer references are refused before they reach the file system or the Hub
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,127}$")


class ModelRefError(ValueError):
    """A model reference that cannot be parsed or resolved. The message is for users."""


@dataclass(frozen=True)
class ModelRef:
    kind: str  # "shipped", "local" or "hub"
    name: str  # shipped name ("gru", "article/gru"), directory path, or Hub repo id
    revision: str | None = None  # Hub only: branch, tag or commit

    def __str__(self) -> str:
        if self.kind == "hub":
            return f"hf://{self.name}" + (f"@{self.revision}" if self.revision else "")
        return self.name


def parse_model_ref(ref: str) -> ModelRef:
    """Parse a reference string; raises ModelRefError with a one-line reason."""
    if not isinstance(ref, str) or not ref.strip():
        raise ModelRefError("empty model reference")
    ref = ref.strip()
    if len(ref) > MAX_REF_CHARS:
        raise ModelRefError(f"the model reference is {len(ref):,} characters long; the limit is {MAX_REF_CHARS:,}")
    if any(ch < " " or ch == "\x7f" for ch in ref):
        raise ModelRefError(f"the model reference {quoted(ref)} contains control characters")
    if ref.startswith("hf://"):
        body = ref[len("hf://"):]
        repo_id, _, revision = body.partition("@")
        if not _REPO_ID.match(repo_id) or ".." in repo_id:
            raise ModelRefError(f"not a Hugging Face repository id: {quoted(repo_id)} (expected hf://OWNER/NAME)")
        if "@" in body and (not revision or not _REVISION.match(revision) or ".." in revision):
            raise ModelRefError(f"not a valid revision: {quoted(revision)}")
        return ModelRef("hub", repo_id, revision or None)
    prefix, _, unit = ref.rpartition("/")
    if unit in UNITS and (prefix + "/" if prefix else "") in SHIPPED_SETS:
        return ModelRef("shipped", ref)
    if "/" in ref or ref.startswith(".") or _is_existing_path(ref):
        return ModelRef("local", ref)
    raise ModelRefError(
        f"unknown model {quoted(ref)}: use a unit name ({', '.join(UNITS)}), a model directory, "
        "or hf://OWNER/NAME[@REVISION]"
    )


def _is_existing_path(ref: str) -> bool:
    """Whether ``ref`` names something on disk; False for names the OS refuses (too long, bad bytes)."""
    try:
        return Path(ref).exists()
    except (OSError, ValueError):
        return False


def _is_directory(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def shipped_dir(name: str) -> Path:
    return WEIGHTS_ROOT / name


def load_model(ref: str | ModelRef) -> AutocompleteRNN:
    """A ready model in eval mode for any reference. Raises ModelRefError / ModelFilesError (both
    ValueError) with one-line messages; Hub failures raise rnnmem.hub.HubError."""
    parsed = ref if isinstance(ref, ModelRef) else parse_model_ref(ref)
    if parsed.kind == "hub":
        from .hub import load_hub_model

        return load_hub_model(parsed.name, parsed.revision)
    directory = shipped_dir(parsed.name) if parsed.kind == "shipped" else Path(parsed.name)
    if parsed.kind == "shipped" and not _is_directory(directory):
        raise ModelRefError(f"no shipped weights for {parsed.name!r} in this installation")
    if not _is_directory(directory):
        raise ModelRefError(f"model directory not found: {str(directory)[:200]}")
    model = AutocompleteRNN.from_directory(directory)
    model.source = str(parsed)
    return model


__all__ = ["MAX_REF_CHARS", "ModelRef", "ModelRefError", "ModelFilesError", "parse_model_ref", "load_model", "shipped_dir"]
