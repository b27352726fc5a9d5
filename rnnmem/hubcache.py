"""The local Hugging Face cache, as rnnmem.hub uses it: which commit a branch or tag last resolved to, and
whether a cached file's bytes are the ones the Hub published.

huggingface_hub records branch -> commit in ``refs/`` only when it downloads by branch; rnnmem downloads by
commit (so a branch moving mid-load cannot mix two commits' files) and records the branch itself, so that
the reference still resolves offline. A cached file whose bytes do not hash to its blob name (the Hub's
ETag: sha256 for LFS files, the git blob sha1 otherwise) is removed, blob and snapshot links, so that no
later load reuses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

from huggingface_hub import constants
from huggingface_hub.file_download import repo_folder_name

from .errors import ModelFilesError
from .model import CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, read_shard_index
from .modelref import COMMIT

logger = logging.getLogger(__name__)


def _repo_cache(repo_id: str) -> Path:
    return Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type="model")


def snapshot_dir(repo_id: str, sha: str) -> Path:
    return _repo_cache(repo_id) / "snapshots" / sha


def cached_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit ``revision`` last resolved to, if that commit's config and weights (either layout, every
    shard) are in the cache."""
    if revision and COMMIT.match(revision):
        sha = revision
    else:
        ref = _repo_cache(repo_id) / "refs" / (revision or "main")
        try:
            sha = ref.read_text().strip()
        except OSError:
            return None
    snapshot = _repo_cache(repo_id) / "snapshots" / sha
    if not (snapshot / CONFIG_FILE).is_file():
        return None
    if (snapshot / WEIGHTS_FILE).is_file():
        return sha
    try:
        shards = set(read_shard_index(snapshot / WEIGHTS_INDEX_FILE).values())
    except ModelFilesError:  # no index (or an unreadable one) cached: not complete
        return None
    return sha if all((snapshot / shard).is_file() for shard in shards) else None


def remember_ref(repo_id: str, revision: str | None, sha: str) -> None:
    """Record branch/tag -> commit in the cache's refs/, so the reference also resolves offline later."""
    if revision and COMMIT.match(revision):
        return
    ref = _repo_cache(repo_id) / "refs" / (revision or "main")
    try:
        ref.parent.mkdir(parents=True, exist_ok=True)
        if not ref.is_file() or ref.read_text().strip() != sha:
            ref.write_text(sha)
    except OSError as error:  # a read-only cache still loads; only offline resolution is lost
        logger.warning("could not record %s -> %s in the cache: %s", revision or "main", sha[:12], error)


def _blob_of(path: str | Path) -> Path | None:
    """The cache blob a snapshot file points at (its name is the file's ETag), or None if not a symlink."""
    real = Path(os.path.realpath(path))
    return real if real.parent.name == "blobs" and real != Path(path).absolute() else None


def _matches_checksum(path: str | Path) -> bool:
    """Whether a cached file's bytes match the checksum the Hub gave for it (its blob name: sha256 for LFS
    files, the git blob sha1 otherwise). True when there is nothing to compare against."""
    blob = _blob_of(path)
    if blob is None:
        return True
    etag = blob.name
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        digest = hashlib.sha256()
    elif re.fullmatch(r"[0-9a-f]{40}", etag):
        digest = hashlib.sha1(b"blob %d\0" % blob.stat().st_size)
    else:
        return True
    with open(blob, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == etag


def purge(path: str | Path) -> None:
    """Remove a bad file from the cache: its blob and every snapshot entry that points at it."""
    path = Path(path)
    blob = _blob_of(path)
    victims = [path]
    if blob is not None:
        victims.append(blob)
        snapshots = blob.parent.parent / "snapshots"
        for entry in snapshots.rglob("*") if snapshots.is_dir() else ():
            if entry.is_symlink() and Path(os.path.realpath(entry)) == blob:
                victims.append(entry)
    for victim in victims:
        try:
            victim.unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            logger.warning("could not remove %s from the cache: %s", victim, error)


def keep_if_intact(path: str | Path) -> bool:
    """Whether a cached file's bytes match the Hub's checksum; a file that does not is removed from the
    cache (blob and snapshot links), so that no later load reuses it."""
    if _matches_checksum(path):
        return True
    purge(path)
    return False
