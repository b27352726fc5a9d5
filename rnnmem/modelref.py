"""Model references, parsed once, and what a load gives: the model with where it came from.

A reference names a model everywhere (API, CLI, app, share links):

- a shipped default by unit name: ``rnn``, ``gru``, ``lstm``, ``nlstm`` (and ``article/gru`` … for the
  article-size set, when shipped);
- a local model directory (any path that exists, or that contains a path separator);
- ``hf://OWNER/NAME`` or ``hf://OWNER/NAME@REVISION`` for the Hugging Face Hub.

``parse_model_ref`` turns a string into a ``ModelRef`` (the one place that parses one; ``str(ref)`` is the
one place that writes one). Loading (rnnmem.refs, rnnmem.hub) returns a ``LoadedModel``: the ``nn.Module``
and, beside it, the reference, the Hub commit and the folder of its files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelRefError, quoted
from .model import AutocompleteRNN
from .units import UNITS

SHIPPED_SETS = {"": "CPU-trained defaults", "article/": "article-size (2x600, GPU-trained)"}
MAX_REF_CHARS = 1024  # longer references are refused before they reach the file system or the Hub
HUB_SCHEME = "hf://"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,127}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
KIND_NAMES = {"shipped": "shipped", "local": "local", "hub": "Hugging Face Hub"}


@dataclass(frozen=True)
class ModelRef:
    kind: str  # "shipped", "local" or "hub"
    name: str  # shipped name ("gru", "article/gru"), directory path, or Hub repo id
    revision: str | None = None  # Hub only: branch, tag or commit

    def __str__(self) -> str:
        if self.kind == "hub":
            return f"{HUB_SCHEME}{self.name}" + (f"@{self.revision}" if self.revision else "")
        return self.name

    @classmethod
    def hub(cls, repo_id: str, revision: str | None = None) -> "ModelRef":
        """A Hub reference, checked: ModelRefError for a repository id or revision that is not one."""
        if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
            raise ModelRefError(f"not a Hugging Face repository id: {quoted(str(repo_id))} (expected hf://OWNER/NAME)")
        if revision is not None and (not isinstance(revision, str) or not _REVISION.match(revision)
                                     or ".." in revision):
            raise ModelRefError(f"not a valid revision: {quoted(str(revision))}")
        return cls("hub", repo_id, revision or None)

    def at(self, commit: str) -> "ModelRef":
        """This Hub reference pinned to ``commit``."""
        return ModelRef("hub", self.name, commit)


def parse_model_ref(ref: str) -> ModelRef:
    """Parse a reference string; raises ModelRefError with a one-line reason."""
    if not isinstance(ref, str) or not ref.strip():
        raise ModelRefError("empty model reference")
    ref = ref.strip()
    if len(ref) > MAX_REF_CHARS:
        raise ModelRefError(f"the model reference is {len(ref):,} characters long; the limit is {MAX_REF_CHARS:,}")
    if any(ch < " " or ch == "\x7f" for ch in ref):
        raise ModelRefError(f"the model reference {quoted(ref)} contains control characters")
    if ref.startswith(HUB_SCHEME):
        repo_id, at, revision = ref[len(HUB_SCHEME):].partition("@")
        if at and not revision:
            raise ModelRefError(f"not a valid revision: {quoted(revision)}")
        return ModelRef.hub(repo_id, revision or None)
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


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode and where it came from: what ``rnnmem.load`` returns."""

    model: AutocompleteRNN
    ref: ModelRef  # the reference loaded (for a fallback: the shipped default's)
    revision: str | None = None  # the Hub commit the reference resolved to; None for other kinds
    files_dir: Path | None = None  # the folder of its card, training log and evaluations (a Hub cache snapshot)
    notice: str | None = None  # one line to show with it: a cached commit used while the Hub was down, a fallback

    @property
    def unit(self) -> str:
        return self.model.unit

    @property
    def pinned(self) -> ModelRef:
        """The reference that names exactly these weights: a Hub reference at its commit (what share links
        and worker processes use), else the reference itself."""
        return self.ref.at(self.revision) if self.ref.kind == "hub" and self.revision else self.ref

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity for derived-result caches: unit, reference and revision."""
        return (self.unit, str(self.ref), self.revision or "")

    def caption(self) -> str:
        """Where the weights come from, which revision, and the model's size."""
        c = self.model.config
        revision = f" · revision {self.revision[:12]}" if self.revision else ""
        return f"{self.ref} ({KIND_NAMES[self.ref.kind]}){revision} · {c.num_layers}×{c.hidden_size}"

    def with_notice(self, notice: str | None) -> "LoadedModel":
        return LoadedModel(self.model, self.ref, self.revision, self.files_dir, notice)


__all__ = ["COMMIT", "MAX_REF_CHARS", "SHIPPED_SETS", "LoadedModel", "ModelRef", "ModelRefError", "parse_model_ref"]
