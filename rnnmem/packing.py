"""Model directories as numbered, checksummed parts that fit a size-limited way back.

The GPU machine (README, "Article-size models on a GPU") returns at most 8 files from its output folder,
each at most 16 MiB, 64 MiB together. An article-size model is about 31 MB in float16, and sharding cannot
bring its files under 16 MiB: huggingface_hub never splits a tensor, and the dense layer alone
(16,386 x 600 float16 = 19.7 MB = 18.8 MiB) is larger than one file may be. So a model directory travels
as one tar archive cut into parts of at most ``PART_BYTES``, each named with its generation, place and
checksum::

    gru-g003-1of2-0123456789abcdef.part

``pack_directory`` writes generation g+1 of a directory's parts, then deletes generation g, so a complete
generation is on disk at every moment: a run killed at any point, even mid-write, leaves its last complete
pack. ``unpack_parts`` takes, for each name, the newest generation whose parts are all present with the
right checksums, and extracts it.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .errors import PackError

# The way back from the GPU machine (/work/.library/device/README.md, "Limits").
MAX_FILES = 8
MAX_FILE_BYTES = 16 * 2**20
MAX_TOTAL_BYTES = 64 * 2**20
PART_BYTES = 16_000_000  # under MAX_FILE_BYTES; two parts hold a 2x600 LSTM or Nested LSTM (31.6 MB)
# Bytes of a model directory besides its weights: config.json (the vocabulary, ~250 kB for 16,386 words)
# is counted exactly; this covers the card, log, summary, evaluations and tar headers.
PACK_OVERHEAD_BYTES = 100_000
_PART = re.compile(r"^(?P<name>[A-Za-z0-9_]+)-g(?P<gen>\d{3,})-(?P<index>\d+)of(?P<count>\d+)-"
                   r"(?P<sha>[0-9a-f]{16})\.part$")
_MEMBER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # plain file names only: no folders, nothing hidden


@dataclass(frozen=True)
class Part:
    path: Path
    name: str  # the packed directory's name (a unit)
    generation: int
    index: int  # 1-based
    count: int
    sha: str  # first 16 hex digits of the part's sha256

    @classmethod
    def parse(cls, path: Path) -> "Part | None":
        match = _PART.match(path.name)
        if match is None:
            return None
        return cls(path, match["name"], int(match["gen"]), int(match["index"]), int(match["count"]), match["sha"])


def parts_in(folder: Path) -> list[Part]:
    return [part for path in sorted(Path(folder).iterdir()) if (part := Part.parse(path)) is not None]


def archive_bytes(directory: Path, name: str) -> bytes:
    """A tar of the files directly in ``directory``, stored under ``name/`` (sorted, with fixed times and
    owners, so the same files give the same archive). Uncompressed: float16 weights shrink by about a
    tenth with gzip, for seconds of CPU at every save, and the packs fit without it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(Path(directory).iterdir()):
            if not path.is_file():
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{name}/{path.name}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pack_directory(directory: Path, out: Path, name: str, part_bytes: int = PART_BYTES) -> list[Path]:
    """Write ``directory`` into ``out`` as the next generation of parts named ``name``, then remove the
    older generations of ``name``. Returns the new parts' paths."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ValueError(f"a pack name is letters, digits and _ only: {name!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    older = [part for part in parts_in(out) if part.name == name]
    generation = max((part.generation for part in older), default=0) + 1
    blob = archive_bytes(directory, name)
    count = max(1, math.ceil(len(blob) / part_bytes))
    written = []
    for index in range(count):
        chunk = blob[index * part_bytes:(index + 1) * part_bytes]
        sha = hashlib.sha256(chunk).hexdigest()[:16]
        path = out / f"{name}-g{generation:03d}-{index + 1}of{count}-{sha}.part"
        path.write_bytes(chunk)
        written.append(path)
    for part in older:  # only now: until here the previous generation is the complete one
        part.path.unlink(missing_ok=True)
    return written


def complete_generations(folder: Path) -> dict[str, list[Part]]:
    """For each pack name in ``folder``, the parts of its newest generation that is complete: every part
    present, each matching the checksum in its name. Names with no complete generation are left out."""
    by_generation: dict[tuple[str, int], list[Part]] = {}
    for part in parts_in(folder):
        by_generation.setdefault((part.name, part.generation), []).append(part)
    chosen: dict[str, list[Part]] = {}
    for (name, generation), parts in sorted(by_generation.items(), key=lambda item: -item[0][1]):
        if name in chosen:
            continue
        parts.sort(key=lambda part: part.index)
        count = parts[0].count
        if [p.index for p in parts] != list(range(1, count + 1)) or any(p.count != count for p in parts):
            continue  # a part is missing (the run stopped while writing this generation)
        if all(hashlib.sha256(p.path.read_bytes()).hexdigest()[:16] == p.sha for p in parts):
            chosen[name] = parts
    return chosen


def unpack_parts(folder: Path, dest: Path) -> dict[str, Path]:
    """Extract every pack in ``folder`` (its newest complete generation) into ``dest/<name>/``, replacing
    what was there. Returns {name: directory}. Refuses archives holding anything but plain files."""
    unpacked = {}
    for name, parts in complete_generations(folder).items():
        blob = b"".join(part.path.read_bytes() for part in parts)
        target = Path(dest) / name
        files = {}
        try:
            with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as archive:
                for member in archive.getmembers():
                    folder_name, _, file_name = member.name.partition("/")
                    if not (member.isfile() and folder_name == name and _MEMBER.match(file_name)):
                        raise PackError(f"pack {name}: unexpected entry {member.name!r}")
                    files[file_name] = archive.extractfile(member).read()
        except (tarfile.TarError, EOFError, OSError) as error:
            raise PackError(f"pack {name}: the archive cannot be read ({error})") from error
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.iterdir():
            if stale.is_file():
                stale.unlink()
        for file_name, data in files.items():
            (target / file_name).write_bytes(data)
        unpacked[name] = target
    return unpacked


def check_return_limits(pack_bytes: dict[str, int], *, part_bytes: int = PART_BYTES, other_files: int = 1) -> None:
    """Refuse a run whose packs could not all come back in one call: ``pack_bytes`` is each pack's size
    (an upper bound), ``other_files`` the files beside the parts (the run log). Counts, besides the packs,
    the one pack that is being replaced (its new generation is written before the old one goes)."""
    if part_bytes > MAX_FILE_BYTES:
        raise ValueError(f"parts of {part_bytes:,} bytes are over the {MAX_FILE_BYTES:,}-byte limit per file")
    parts = {name: max(1, math.ceil(size / part_bytes)) for name, size in pack_bytes.items()}
    files = sum(parts.values()) + max(parts.values(), default=0) + other_files
    total = sum(pack_bytes.values())
    if files > MAX_FILES or total > MAX_TOTAL_BYTES:
        sizes = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in pack_bytes.items())
        raise PackError(f"these units cannot come back in one call ({sizes}: up to {files} files, "
                         f"{total / 2**20:.1f} MiB; the limits are {MAX_FILES} files and "
                         f"{MAX_TOTAL_BYTES // 2**20} MiB): run fewer units per call")
