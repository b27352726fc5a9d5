"""Publishing a model directory to the Hugging Face Hub: ``python -m rnnmem publish``.

``publish_model(model_dir, repo_id)`` uploads config.json, the weights, the model card and the training and
evaluation files in one commit and returns its sha. Failures are HubErrors with one-line messages that
never contain the token (rnnmem.hub's).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

from .errors import HubError, ModelFilesError, ModelRefError
from .hub import LIBRARY_NAME, _describe, scrub, token_from_environment
from .model import CONFIG_FILE, SHARD_PATTERN, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, AutocompleteRNN
from .modelcard import model_card_text
from .modelref import ModelRef
from .runfiles import LOG_FILE, MEMORY_FILE, SUMMARY_FILE, TRAIN_CONFIG_FILE
from .units import UNIT_NAMES

# Files ``publish`` uploads (exact names, then glob patterns); everything else in a model directory
# (checkpoints, scratch files) stays local.
PUBLISHED_FILES = (CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, "README.md", LOG_FILE, TRAIN_CONFIG_FILE,
                   SUMMARY_FILE, MEMORY_FILE)
PUBLISHED_PATTERNS = ("evaluation*.json", SHARD_PATTERN)


def _has_front_matter(text: str) -> bool:
    """Whether a model card starts with Hub YAML metadata naming the library."""
    if not text.startswith("---\n"):
        return False
    end = text.find("\n---", 4)
    return end > 0 and "library_name:" in text[4:end]


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _model_card(directory: Path, model: AutocompleteRNN) -> bytes:
    """README.md to upload: the directory's own card if it has Hub metadata, else a freshly generated one
    (from training_summary.json and evaluation*.json when present). The directory is not modified."""
    readme = directory / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")
        if _has_front_matter(text):
            return text.encode("utf-8")
    training = _read_json(directory / "training_summary.json")
    training = training if isinstance(training, dict) else None
    evaluation = None
    for path in sorted(directory.glob("evaluation*.json")):
        candidate = _read_json(path)
        if isinstance(candidate, dict) and {"accuracy_by_chars_seen", "cross_entropy", "chars"} <= set(candidate):
            evaluation = candidate
            break
    try:
        text = model_card_text(model, training, evaluation)
    except (KeyError, TypeError, ValueError, IndexError):  # an evaluation file of another shape
        text = model_card_text(model, training, None)
    return text.encode("utf-8")


def _is_published_name(name: str) -> bool:
    """Whether ``name`` (a path in a repository) is one of the files ``publish`` manages."""
    return name in PUBLISHED_FILES or any(fnmatchcase(name, pattern) for pattern in PUBLISHED_PATTERNS)


def _stale_files(repo_files: list[str], uploaded: set[str]) -> list[str]:
    """The repository's managed files this upload does not replace: a previous model's weights in the other
    layout (model.safetensors beside a new index and shards: a load would take the old single file), its
    surplus shards, evaluations or log. Files ``publish`` never writes are left alone."""
    return sorted(name for name in repo_files if _is_published_name(name) and name not in uploaded)


def _files_to_publish(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.is_file() and _is_published_name(path.name))


def publish_model(model_dir, repo_id: str, *, private: bool = False, revision: str | None = None,
                  token: str | None = None) -> str:
    """Upload a model directory to ``repo_id`` (created if missing; ``private`` applies when it is created)
    on branch ``revision`` (default main; created from main if missing). Uploads config.json, the weights
    (model.safetensors, or the index and its shards), the model card (README.md with Hub metadata; generated
    if the directory's card has none), the training log/config/summary and evaluation*.json, and deletes
    those the repository holds from an earlier upload that this one does not replace (``_stale_files``), so
    that the commit is exactly this model. Returns the commit sha."""
    token = token or token_from_environment()
    directory = Path(model_dir)
    try:
        ref = str(ModelRef.hub(repo_id, revision))
    except ModelRefError as error:
        raise HubError(scrub(f"cannot publish to hf://{repo_id}: {error}", token)) from None
    try:
        model = AutocompleteRNN.from_directory(directory)
    except ModelFilesError as error:
        raise HubError(scrub(f"cannot publish {directory}: {error}", token)) from None

    operations = [CommitOperationAdd(path_in_repo=path.name, path_or_fileobj=str(path))
                  for path in _files_to_publish(directory) if path.name != "README.md"]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=_model_card(directory, model)))

    api = HfApi(token=token, library_name=LIBRARY_NAME)
    c = model.config
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        uploaded = {operation.path_in_repo for operation in operations}
        operations += [CommitOperationDelete(path_in_repo=name)
                       for name in _stale_files(api.list_repo_files(repo_id, revision=revision), uploaded)]
        commit = api.create_commit(
            repo_id, operations=operations, revision=revision,
            commit_message=f"Upload rnnmem {UNIT_NAMES[c.unit]} model ({c.num_layers}x{c.hidden_size})")
    except Exception as error:
        message = _describe(error, ref, revision)
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status in (401, 403) or "repository not found" in message:
            message = (f"{ref}: the Hub refused the upload (HTTP {status}); set HF_TOKEN to a token with write "
                       "access to this namespace")
        raise HubError(scrub(f"cannot publish: {message}", token)) from error
    return commit.oid


__all__ = ["PUBLISHED_FILES", "PUBLISHED_PATTERNS", "publish_model"]
