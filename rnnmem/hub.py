"""The Hugging Face Hub: load pinned models through the standard cache, and fail gently.

- ``load_hub_model(repo_id, revision)`` resolves a branch, tag or commit to the exact commit, downloads only
  ``config.json`` and the weights (``model.safetensors``, or a sharded model's ``model.safetensors.index.json``
  and the shards it names) into the standard Hugging Face cache (``HF_HOME``/``HF_HUB_CACHE``), checks them,
  and returns a ``LoadedModel`` whose ``revision`` is that commit and ``files_dir`` the cache snapshot.
  A commit that is already cached loads without any network call; offline (``HF_HUB_OFFLINE=1``, or the Hub
  unreachable) a branch or tag loads the commit it last resolved to.
- Pickle weights are never loaded (they can run code); a repository offering only pickle files is refused.
- Every failure becomes a ``HubError`` with a one-line message that never contains the token. A download
  whose bytes do not match the checksum the Hub gave for them is removed from the cache, so it is never reused.

Publishing is rnnmem.publish; the fallback to a shipped model, rnnmem.refs.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import httpx2
import torch
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub import errors as hf

from .errors import HubError, ModelFilesError, ModelRefError, UnreadableWeightsError
from .model import (CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, AutocompleteRNN, config_from_dict,
                    read_config_json, read_shard_index)
from .hubcache import cached_commit, keep_if_intact, purge, remember_ref, snapshot_dir
from .modelref import COMMIT, LoadedModel, ModelRef
from .runfiles import LOG_FILE, MEMORY_FILE, SUMMARY_FILE

logger = logging.getLogger(__name__)

LIBRARY_NAME = "rnnmem"
# Files beside the weights that the app shows when they exist (downloaded after the model, best effort).
SIDE_FILES = (LOG_FILE, SUMMARY_FILE, "evaluation_test.json", "evaluation_valid.json", MEMORY_FILE)
# Weight formats that are pickles (loading them runs arbitrary code). Never downloaded.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")

_MAX_MESSAGE = 300
# A link can name any Hub repository, so what a load may cost is bounded before anything is fetched: the
# size the Hub reports for each file, and the parameters config.json implies (the model is allocated from
# it before its weights are read). 32M parameters is over twice the article's 2x600 models.
MAX_DOWNLOAD_BYTES = 128 * 2**20
MAX_SIDE_FILE_BYTES = 4 * 2**20
MAX_PARAMETERS = 32_000_000
# Layers cost Python time per character whatever their width (and building a deep stack alone takes time
# growing with the square of its depth), so a narrow, deep config under MAX_PARAMETERS is refused too.
MAX_LAYERS = 8
MAX_SHARDS = 64  # files a sharded model may be split into (the article-size models travel as 2 to 4)


# ---- tokens -------------------------------------------------------------------------------------------

def token_from_environment() -> str | None:
    """The Hub token from ``HF_TOKEN``, else from Streamlit secrets (``HF_TOKEN`` in secrets.toml), else None.

    Never raises, and never prints or logs the value. Streamlit is only imported when it is already loaded
    (the app) or when a secrets.toml exists, so the CLI stays fast."""
    token = os.environ.get("HF_TOKEN", "").strip()
    if token:
        return token
    secrets_files = (Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml")
    if "streamlit" not in sys.modules and not any(path.is_file() for path in secrets_files):
        return None
    try:
        import streamlit as st

        secrets = st.secrets
        loader = getattr(secrets, "load_if_toml_exists", None)
        if loader is not None and not loader():
            return None
        value = secrets.get("HF_TOKEN")
    except Exception:  # no secrets, unreadable secrets, an old or absent Streamlit: simply no token
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def scrub(text: str, token: str | None) -> str:
    """``text`` on one line, short, with the token (and anything shaped like a Hub token) masked."""
    text = " ".join(str(text).split())
    if token:
        text = text.replace(token, "***")
    text = re.sub(r"\bhf_[A-Za-z0-9]{8,}\b", "hf_***", text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


# ---- loading ----------------------------------------------------------------------------------------

def _check_repo_files(ref: str, files: list[str] | None) -> None:
    """Refuse repositories that are not rnnmem models, or that offer only pickle weights, before downloading."""
    if files is None:  # the server did not list files; the downloads below will tell
        return
    if WEIGHTS_FILE not in files and WEIGHTS_INDEX_FILE not in files:
        pickles = [name for name in files if name.lower().endswith(PICKLE_SUFFIXES)]
        if pickles:
            raise HubError(f"{ref}: the repository offers only pickle weights ({pickles[0]}); rnnmem loads only "
                           f"{WEIGHTS_FILE}, because loading a pickle file can run arbitrary code")
        if CONFIG_FILE not in files:
            raise HubError(f"{ref}: not an rnnmem model repository (no {CONFIG_FILE} and no {WEIGHTS_FILE})")
        raise HubError(f"{ref}: the repository has no {WEIGHTS_FILE}")
    if CONFIG_FILE not in files:
        raise HubError(f"{ref}: not an rnnmem model repository (no {CONFIG_FILE})")


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{size:,} bytes"


def _check_download_sizes(ref: str, sizes: dict[str, int]) -> None:
    """Refuse a model whose config, weights or shard index the Hub reports as larger than
    MAX_DOWNLOAD_BYTES (the shards themselves: ``_check_shard_sizes``, once the index names them)."""
    for name in (CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE):
        if sizes.get(name, 0) > MAX_DOWNLOAD_BYTES:
            raise HubError(f"{ref}: {name} is {_mib(sizes[name])}; this app downloads at most "
                           f"{_mib(MAX_DOWNLOAD_BYTES)} per file")


def _check_shard_sizes(ref: str, shards: list[str], sizes: dict[str, int]) -> None:
    """Refuse shards that together hold more than one model file may (MAX_DOWNLOAD_BYTES: any model of
    MAX_PARAMETERS fits in float32), or more than MAX_SHARDS files: a link must not make the server
    download without bound by splitting the weights."""
    if len(shards) > MAX_SHARDS:
        raise HubError(f"{ref}: the weights are split into {len(shards):,} shards; this app downloads at most "
                       f"{MAX_SHARDS}")
    total = sum(sizes.get(shard, 0) for shard in shards)
    if total > MAX_DOWNLOAD_BYTES:
        raise HubError(f"{ref}: the weight shards hold {_mib(total)}; this app downloads at most "
                       f"{_mib(MAX_DOWNLOAD_BYTES)} of weights")


def _check_parameters(ref: str, config) -> None:
    """Refuse a config that implies more than MAX_PARAMETERS parameters, counted on PyTorch's meta device
    (shapes only, nothing allocated) before the model is built for real, and one of more than MAX_LAYERS
    layers before even that."""
    if config.num_layers > MAX_LAYERS:
        raise HubError(f"{ref}: config.json describes a model of {config.num_layers:,} layers; this app loads at "
                       f"most {MAX_LAYERS}")
    try:
        with torch.device("meta"):
            count = sum(p.numel() for p in AutocompleteRNN(config).parameters())
    except (ValueError, RuntimeError) as error:
        raise HubError(f"{ref}: config.json describes no model this app can build ({_first_line(error)})") from None
    if count > MAX_PARAMETERS:
        raise HubError(f"{ref}: config.json describes a model of {count:,} parameters; this app loads at most "
                       f"{MAX_PARAMETERS:,}")


def _download(repo_id: str, filename: str, sha: str, token: str | None, *, local_only: bool) -> str:
    return hf_hub_download(repo_id, filename, revision=sha, token=token, local_files_only=local_only,
                           library_name=LIBRARY_NAME)


def _describe(error: BaseException, ref: str, revision: str | None) -> str:
    """A one-line explanation of a failure from huggingface_hub, httpx, the OS or the model files."""
    if isinstance(error, hf.GatedRepoError):
        return f"{ref}: the repository is gated; accept its conditions on the Hub and set HF_TOKEN"
    if isinstance(error, hf.RepositoryNotFoundError):
        return f"{ref}: repository not found on the Hub (if it is private, set HF_TOKEN to a token that can read it)"
    if isinstance(error, hf.RevisionNotFoundError):
        return f"{ref}: revision {revision or 'main'!r} does not exist in the repository"
    if isinstance(error, hf.RemoteEntryNotFoundError):
        return f"{ref}: a file is missing from the repository ({_first_line(error)})"
    if isinstance(error, hf.OfflineModeIsEnabled) or (
            isinstance(error, hf.LocalEntryNotFoundError) and constants.is_offline_mode()):
        return f"{ref}: offline (HF_HUB_OFFLINE=1) and not in the local Hugging Face cache"
    cause = error.__cause__ if isinstance(error, (hf.LocalEntryNotFoundError, ValueError)) else None
    timeout_error = next((e for e in (error, cause) if isinstance(e, httpx2.TimeoutException)), None)
    if timeout_error is not None:
        return f"{ref}: the Hub did not answer in time ({type(timeout_error).__name__}); try again later"
    if isinstance(error, (hf.LocalEntryNotFoundError, httpx2.ConnectError, httpx2.UnsupportedProtocol)):
        return f"{ref}: cannot reach the Hub ({constants.ENDPOINT}) and the model is not in the local cache"
    if isinstance(error, httpx2.TransportError):  # the connection broke mid-transfer
        return (f"{ref}: the connection to the Hub failed during the transfer ({type(error).__name__}); "
                "nothing was kept, try again")
    if isinstance(error, hf.HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            return f"{ref}: access denied by the Hub (HTTP {status}); check that HF_TOKEN can read this repository"
        if status is not None and status >= 500:
            return f"{ref}: the Hub is failing (HTTP {status}); try again later"
        return f"{ref}: the Hub refused the request (HTTP {status})"
    if isinstance(error, hf.FileMetadataError):
        return f"{ref}: {constants.ENDPOINT} does not answer like a Hugging Face Hub ({_first_line(error)})"
    if isinstance(error, hf.HFValidationError):
        return f"{ref}: not a valid repository id or revision ({_first_line(error)})"
    if isinstance(error, OSError) and "Consistency check failed" in str(error):
        return f"{ref}: the download was cut short (truncated file); nothing was kept, try again"
    if isinstance(error, OSError):
        return f"{ref}: cannot use the Hugging Face cache ({constants.HF_HUB_CACHE}): {_first_line(error)}"
    return f"{ref}: {_first_line(error)}"


def load_hub_model(repo_id: str, revision: str | None = None, *, token: str | None = None) -> LoadedModel:
    """Load an rnnmem model from the Hub at ``revision`` (branch, tag or commit; default ``main``).

    Returns it in eval mode with ``revision`` = the full commit sha it was loaded from, ``ref`` =
    ``hf://repo_id[@revision]`` and ``files_dir`` = the cache snapshot. When the Hub could not be reached and
    a cached commit was used instead, ``notice`` says so (otherwise None). Raises HubError with a one-line
    message."""
    token = token or token_from_environment()
    try:
        parsed = ModelRef.hub(repo_id, revision)
    except ModelRefError as error:
        raise HubError(scrub(str(error), token)) from None
    ref = str(parsed)
    try:
        return _load(parsed, token)
    except HubError as error:
        raise HubError(scrub(str(error), token)) from None
    except ModelFilesError as error:
        raise HubError(scrub(f"{ref}: {error}", token)) from None
    except Exception as error:  # huggingface_hub, httpx, OS: all become one line
        raise HubError(scrub(_describe(error, ref, revision), token)) from error


def _load(parsed: ModelRef, token: str | None) -> LoadedModel:
    repo_id, revision, ref = parsed.name, parsed.revision, str(parsed)
    notice = None
    files = sizes = None
    local_only = True
    cached = cached_commit(repo_id, revision)
    if revision and COMMIT.match(revision) and cached:
        sha = cached  # a commit never changes: the cached files are the answer, no network needed
    elif constants.is_offline_mode():
        if cached is None:
            raise HubError(f"{ref}: offline (HF_HUB_OFFLINE=1) and not in the local Hugging Face cache")
        sha = cached
    else:
        try:
            info = HfApi(library_name=LIBRARY_NAME).model_info(
                repo_id, revision=revision, timeout=constants.HF_HUB_ETAG_TIMEOUT, token=token, files_metadata=True)
        except (httpx2.TransportError, hf.HfHubHTTPError) as error:
            status = getattr(getattr(error, "response", None), "status_code", None)
            unreachable = isinstance(error, httpx2.TransportError) or (status is not None and status >= 500)
            if not (unreachable and cached):
                raise
            sha = cached
            notice = (f"{ref}: the Hub could not be reached ({type(error).__name__}); "
                      f"using the cached commit {sha[:12]}")
            logger.warning(notice)
        else:
            if not info.sha:
                raise HubError(f"{ref}: the Hub did not say which commit {revision or 'main'!r} is")
            sha = info.sha
            files = [sibling.rfilename for sibling in info.siblings] if info.siblings is not None else None
            sizes = {sibling.rfilename: sibling.size for sibling in info.siblings or () if sibling.size is not None}
            _check_download_sizes(ref, sizes)
            if files is not None:  # side files too large to be a log or an evaluation are not fetched
                files = [name for name in files if name not in SIDE_FILES or sizes.get(name, 0) <= MAX_SIDE_FILE_BYTES]
            _check_repo_files(ref, files)
            remember_ref(repo_id, revision, sha)
            local_only = False

    # config.json first: a repository of some other model type is refused before its weights are fetched.
    config_path = _fetch_checked(repo_id, CONFIG_FILE, sha, token, ref, local_only=local_only)
    try:
        raw = read_config_json(config_path)
    except ModelFilesError as error:
        raise HubError(f"{ref}: {CONFIG_FILE} is not valid JSON ({error.__cause__})") from None
    try:
        config = config_from_dict(raw)
        _check_parameters(ref, config)
    except ModelFilesError as error:
        kind = f" (it looks like a {raw.get('model_type')!r} model)" if isinstance(raw, dict) and raw.get(
            "model_type") else ""
        raise HubError(f"{ref}: not an rnnmem model{kind}: {error}") from None

    snapshot = _fetch_weights(repo_id, sha, token, ref, files, sizes, local_only=local_only)
    model = AutocompleteRNN(config)
    try:
        model.load_weights(snapshot)
    except UnreadableWeightsError as error:
        purge(error.path)  # unreadable: never let a later load reuse it
        raise HubError(f"{ref}: {error}") from None
    except ModelFilesError as error:
        raise HubError(f"{ref}: {error}") from None
    _fetch_side_files(repo_id, sha, token, files, local_only=local_only)
    return LoadedModel(model, parsed, revision=sha, files_dir=snapshot, notice=notice)


def _fetch_checked(repo_id: str, filename: str, sha: str, token: str | None, ref: str, *,
                   local_only: bool) -> Path:
    """One file of commit ``sha``, downloaded or from the cache, whose bytes match the Hub's checksum; a
    file that does not is removed from the cache (so it is never reused) and the load fails."""
    path = _download(repo_id, filename, sha, token, local_only=local_only)
    if not keep_if_intact(path):
        raise HubError(f"{ref}: {filename} arrived corrupted (checksum mismatch); removed it from the cache, "
                       "try again")
    return Path(path)


def _fetch_weights(repo_id: str, sha: str, token: str | None, ref: str, files: list[str] | None,
                   sizes: dict[str, int] | None, *, local_only: bool) -> Path:
    """The commit's weights in the cache, in whichever layout the repository has: model.safetensors, or
    the index and then every shard it names (their sizes checked first, where the Hub reported ``sizes``).
    Returns the snapshot folder that holds them."""
    if files is not None:
        sharded = WEIGHTS_FILE not in files
    else:  # loading from the cache: the layout that was downloaded before
        snapshot = snapshot_dir(repo_id, sha)
        sharded = not (snapshot / WEIGHTS_FILE).is_file() and (snapshot / WEIGHTS_INDEX_FILE).is_file()
    if not sharded:
        return _fetch_checked(repo_id, WEIGHTS_FILE, sha, token, ref, local_only=local_only).parent
    index = _fetch_checked(repo_id, WEIGHTS_INDEX_FILE, sha, token, ref, local_only=local_only)
    try:
        shards = sorted(set(read_shard_index(index).values()))
    except ModelFilesError as error:
        raise HubError(f"{ref}: {error}") from None
    if sizes is not None:
        _check_shard_sizes(ref, shards, sizes)
    for shard in shards:
        _fetch_checked(repo_id, shard, sha, token, ref, local_only=local_only)
    return index.parent


def _fetch_side_files(repo_id: str, sha: str, token: str | None, files: list[str] | None, *,
                      local_only: bool) -> None:
    """Best effort: the training log and evaluations beside the weights, for the app's Accuracy and
    Training pages. The model works without them, so a failure here is only logged."""
    wanted = [name for name in (files or []) if name in SIDE_FILES]
    for name in wanted:
        try:
            keep_if_intact(_download(repo_id, name, sha, token, local_only=local_only))
        except Exception as error:  # noqa: BLE001 - optional files never fail a load
            logger.warning("%s: could not fetch %s: %s", repo_id, name, scrub(_first_line(error), token))


__all__ = ["HubError", "LIBRARY_NAME", "MAX_DOWNLOAD_BYTES", "MAX_PARAMETERS", "MAX_SHARDS", "MAX_SIDE_FILE_BYTES",
           "load_hub_model", "scrub", "token_from_environment"]
