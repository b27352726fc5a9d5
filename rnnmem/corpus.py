"""Reading a corpus: text8 from its public home, or a local file (plain, .xz, .gz, or a .zip of one file).

Corpora are never committed to the project; text8 is downloaded into a user cache folder on first use.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import lzma
import os
import string
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .errors import CorpusError
from .text import normalize


@dataclass(frozen=True)
class RemoteCorpus:
    """A downloadable zip holding one text file, with what to verify it against."""

    name: str
    url: str
    zip_size: int  # bytes of the zip file, checked before it is unpacked
    text_sha256: str  # sha256 of the text inside, checked after
    licence: str


TEXT8 = RemoteCorpus(
    name="text8",
    url="http://mattmahoney.net/dc/text8.zip",
    zip_size=31_344_016,
    text_sha256="6e890197040d37d85beb962ae1f041ff1d9a9ca8d20c7d99c85027eebf51dca7",
    licence="Wikipedia text (CC BY-SA 3.0 / GFDL), cleaned by Matt Mahoney (text8)",
)


def cache_dir() -> Path:
    """The user cache folder for corpora and prepared datasets ($RNNMEM_CACHE, else ~/.cache/rnnmem)."""
    root = os.environ.get("RNNMEM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rnnmem"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def download_corpus(remote: RemoteCorpus = TEXT8, *, timeout: float = 30.0) -> Path:
    """Download ``remote`` into the cache (once), verify size and checksum, and return the path of the
    unpacked text. A partial download is written to a temporary name and never used."""
    target = cache_dir() / remote.name
    if target.exists():
        return target
    zip_path = cache_dir() / f"{remote.name}.zip"
    partial = zip_path.with_suffix(".zip.part")
    try:
        with urllib.request.urlopen(remote.url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or remote.zip_size)
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {remote.name}") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise CorpusError(
            f"could not download {remote.name} from {remote.url} ({reason}); "
            "without internet, pass a local corpus file with --corpus PATH"
        ) from error
    size = partial.stat().st_size
    if size != remote.zip_size:
        partial.unlink()
        raise CorpusError(f"{remote.name}: downloaded {size} bytes, expected {remote.zip_size}; try again")
    text = _read_zip(partial)
    digest = hashlib.sha256(text).hexdigest()
    if digest != remote.text_sha256:
        partial.unlink()
        raise CorpusError(f"{remote.name}: checksum mismatch (got {digest[:12]}…); try again")
    tmp = target.with_suffix(".part")
    tmp.write_bytes(text)
    tmp.replace(target)
    partial.replace(zip_path)
    return target


def _read_zip(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise CorpusError(f"{path}: a corpus zip must hold exactly one file, found {len(members)}")
        return archive.read(members[0])


def read_corpus_bytes(path: str | os.PathLike) -> bytes:
    """The raw bytes of a local corpus: plain text, .xz, .gz, or a .zip holding one text file."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".xz":
            with lzma.open(path) as f:
                return f.read()
        if suffix == ".gz":
            with gzip.open(path) as f:
                return f.read()
        if suffix == ".zip":
            return _read_zip(path)
        return path.read_bytes()
    except (lzma.LZMAError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise CorpusError(f"could not read corpus {path}: {error}") from error


MAX_TEXT_FILE_BYTES = 256 * 2**20  # what `evaluate --text-file` reads at most; corpora go through --corpus
_CHUNK_BYTES = 1 << 20


def read_text_file(path: str | os.PathLike, *, max_chars: int | None = None,
                   max_bytes: int = MAX_TEXT_FILE_BYTES) -> str:
    """A text file, normalised (text8 rules, no trailing space), read a megabyte at a time with bounds.

    Reading stops once ``max_chars`` normalised characters are in hand, and a file with more than
    ``max_bytes`` bytes still to read is refused with a CorpusError: a file can be endless (/dev/zero, a
    pipe) or far larger than memory. A word cut by a chunk boundary is carried to the next chunk, so the
    result equals ``normalize`` of the text read."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces: list[str] = []
    size = read = 0
    carry = ""
    try:
        with open(path, "rb") as f:
            while max_chars is None or size < max_chars:
                chunk = f.read(_CHUNK_BYTES)
                read += len(chunk)
                if read > max_bytes:
                    limit = f"{max_bytes / 2**20:g} MiB" if max_bytes >= 2**20 else f"{max_bytes:,} bytes"
                    if max_chars is None:
                        raise CorpusError(f"{path} is larger than {limit}, the most a text file is read; score "
                                          "its start with --max-chars, or cut it to size first")
                    raise CorpusError(f"{path}: only {size:,} characters of text in its first {limit}, the "
                                      "most a text file is read")
                text = carry + decoder.decode(chunk, final=not chunk)
                carry = ""
                if chunk:  # the letters at the end may continue in the next chunk
                    whole = text.rstrip(string.ascii_letters)
                    text, carry = whole, text[len(whole):]
                piece = normalize(text, keep_trailing_space=False)
                pieces.append(piece)
                size += len(piece)
                if not chunk:
                    break
    except OSError as error:
        raise CorpusError(f"cannot read {path}: {error.strerror or error}") from error
    return "".join(pieces)


def load_corpus(source: str) -> tuple[str, str]:
    """Resolve ``source`` ("text8" or a path) to (normalised text, a description for model cards).

    Text that is already text8-clean passes through ``normalize`` unchanged, so one rule covers both.
    """
    if source == TEXT8.name:
        raw = download_corpus(TEXT8).read_bytes()
        description = f"text8 ({TEXT8.url}); {TEXT8.licence}"
    else:
        raw = read_corpus_bytes(source)
        description = f"local corpus {Path(source).name}"
    text = raw.decode("utf-8", errors="replace")
    if _looks_normalised(text):
        return text if text.startswith(" ") else " " + text, description
    return normalize(text), description


def _looks_normalised(text: str) -> bool:
    # Re-normalising 100M characters costs seconds of regex work; a clean corpus (text8 style) is
    # recognised by sampling, then verified in full with a cheap byte-set check.
    sample = text[:100_000]
    if normalize(sample).strip() != sample.strip():
        return False
    if "  " in text:  # e.g. two clean files joined: normalising collapses it (an empty "word" otherwise)
        return False
    return not (set(text.encode("ascii", errors="replace")) - set(b" abcdefghijklmnopqrstuvwxyz"))


def corpus_fingerprint(text: str) -> str:
    """sha256 of the normalised corpus text, part of the dataset cache key."""
    return hashlib.sha256(text.encode("ascii")).hexdigest()
