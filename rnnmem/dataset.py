"""The autocomplete dataset of the article (docs/definitions.md, "The task").

Pure functions build each piece (vocabulary, alignment, packing, split); ``prepare_dataset`` runs them
once per corpus and settings and caches the arrays on disk, memory-mapped on reload.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .corpus import cache_dir, corpus_fingerprint, load_corpus
from .errors import InputError
from .text import CHARS, encode_chars

EOS, UNKNOWN = "<eos>", "<unknown>"
EOS_ID, UNKNOWN_ID = 0, 1  # both are masked out of the loss and the accuracy
# the most frequent words (ids 2…101): set apart as common by the repetition breakdown and --repeat-weight
FREQUENT_WORDS = 100
SPACE_CHAR_ID = CHARS.index(" ")
CACHE_FORMAT = 1  # bump when the arrays on disk change meaning


# Targets are stored as uint16: ids 0…65535, so at most 65,534 words besides <eos> and <unknown>.
MAX_VOCAB_WORDS = 2**16 - 2


def check_vocab_words(vocab_words: int) -> None:
    """InputError for a vocabulary whose word ids would not fit the 16-bit targets (they would wrap round)."""
    if isinstance(vocab_words, int) and vocab_words > MAX_VOCAB_WORDS:
        raise InputError(f"vocab_words is at most {MAX_VOCAB_WORDS:,} (word ids are stored in 16 bits), "
                         f"not {vocab_words:,}")


@dataclass(frozen=True)
class DatasetConfig:
    """Settings that define a prepared dataset; all of them are part of its cache key."""

    vocab_words: int = 2**14  # most frequent words kept; the rest become <unknown>
    max_seq_len: int = 200  # characters per sequence, packed at word boundaries
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    seed: int = 0  # the one seed of the split shuffle

    def __post_init__(self):
        check_vocab_words(self.vocab_words)  # at construction: before any corpus is read


def build_vocabulary(words: list[str], size: int) -> list[str]:
    """``<eos>``, ``<unknown>``, then the ``size`` most frequent words (ties broken by first appearance,
    which is what Counter.most_common does, so the vocabulary is deterministic)."""
    counts = Counter(words)
    return [EOS, UNKNOWN] + [w for w, _ in counts.most_common(size)]


def align(text: str, word_ids: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of normalised text: every character of a word, its leading space included,
    has the whole word as target. `` the cat`` -> targets ``the the the the cat cat cat cat``.

    Returns (char ids uint8, target word ids int32), both as long as ``text``.
    """
    chars = encode_chars(text)
    if len(text) and text[0] != " ":
        raise ValueError("normalised text starts with a space")
    words = text.split(" ")[1:]  # the leading space makes the first element empty
    ids = np.fromiter((word_ids.get(w, UNKNOWN_ID) for w in words), dtype=np.int32, count=len(words))
    word_index = np.cumsum(chars == 1) - 1  # (T,) which word each character belongs to
    targets = ids[word_index]
    # A trailing space starts a word not yet typed; it has no target (the empty word).
    if text.endswith(" "):
        targets[-1] = EOS_ID
    return chars, targets


def pack_sequences(word_lengths: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedily pack words (lengths include the leading space) into sequences of at most ``max_len``
    characters without splitting a word. Words longer than ``max_len`` are dropped (text8 has a
    handful). Returns (start offset, length) per sequence, in characters of the text."""
    starts, lengths = [], []
    offsets = np.concatenate([[0], np.cumsum(word_lengths)])
    seq_start, seq_len = 0, 0
    for i, n in enumerate(word_lengths.tolist()):
        if seq_len + n > max_len:
            if seq_len:
                starts.append(seq_start)
                lengths.append(seq_len)
            seq_start, seq_len = int(offsets[i]), 0
            if n > max_len:  # cannot fit anywhere: skip it and start after it
                seq_start = int(offsets[i + 1])
                continue
        seq_len += n
    if seq_len:
        starts.append(seq_start)
        lengths.append(seq_len)
    return np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int32)


def split_indices(n: int, config: DatasetConfig) -> dict[str, np.ndarray]:
    """Shuffle sequence indices with ``config.seed`` and cut them into train / valid / test."""
    order = np.random.default_rng(config.seed).permutation(n)
    n_valid = int(round(n * config.valid_fraction))
    n_test = int(round(n * config.test_fraction))
    return {
        "valid": np.sort(order[:n_valid]),
        "test": np.sort(order[n_valid:n_valid + n_test]),
        "train": np.sort(order[n_valid + n_test:]),
    }


@dataclass
class PreparedDataset:
    """Arrays of a prepared corpus. ``chars``/``targets`` are the whole aligned text; a sequence is a
    slice ``[start, start + length)`` of them; ``splits`` holds sequence indices per split."""

    words: list[str]
    chars: np.ndarray  # (N,) uint8
    targets: np.ndarray  # (N,) uint16
    starts: np.ndarray  # (S,) int64
    lengths: np.ndarray  # (S,) int32
    splits: dict[str, np.ndarray]
    config: DatasetConfig
    corpus_sha256: str
    description: str = ""  # where the corpus came from, for model cards and reports

    def sequences(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(start, length) of each sequence in ``split``."""
        idx = self.splits[split]
        return self.starts[idx], self.lengths[idx]

    def split_chars(self, split: str) -> int:
        return int(self.lengths[self.splits[split]].sum())


def pad_batch(pairs, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(B, T) int64 character ids and targets from (chars, targets) sequences of different lengths, each
    cut to ``max_len`` (when given) and padded with <eos>, which every loss and score masks out."""
    T = max(len(chars) for chars, _ in pairs)
    T = T if max_len is None else min(T, max_len)
    chars = np.zeros((len(pairs), T), dtype=np.int64)
    targets = np.zeros((len(pairs), T), dtype=np.int64)
    for row, (c, t) in enumerate(pairs):
        n = min(len(c), T)
        chars[row, :n] = c[:n]
        targets[row, :n] = t[:n]
    return chars, targets


def make_batch(dataset: PreparedDataset, starts: np.ndarray, lengths: np.ndarray, seq_len: int):
    """The sequences (start, length) of ``dataset`` as (B, T) long tensors of characters and targets, cut
    to ``seq_len`` and padded with <eos> (masked)."""
    pairs = [(dataset.chars[s:s + n], dataset.targets[s:s + n]) for s, n in zip(starts.tolist(), lengths.tolist())]
    chars, targets = pad_batch(pairs, seq_len)
    return torch.from_numpy(chars), torch.from_numpy(targets)



def sequence_texts(dataset: PreparedDataset, split: str, max_chars: int | None = None) -> list[str]:
    """The normalised text of the first sequences of ``split`` (up to ``max_chars`` characters in all):
    a fixed held-out sample, e.g. for the memory measure during training."""
    starts, lengths = dataset.sequences(split)
    texts, total = [], 0
    for start, length in zip(starts.tolist(), lengths.tolist()):
        if max_chars is not None and total >= max_chars:
            break
        texts.append("".join(CHARS[c] for c in np.asarray(dataset.chars[start:start + length]).tolist()))
        total += length
    return texts


def sequences_containing(dataset: PreparedDataset, fragments: list[str]) -> np.ndarray:
    """Indices of the sequences whose text contains any of ``fragments`` (normalised text), sorted."""
    haystack = np.asarray(dataset.chars).tobytes()
    sequence_ends = dataset.starts + dataset.lengths
    found = set()
    for fragment in fragments:
        needle = encode_chars(fragment).tobytes()
        at = haystack.find(needle)
        while at >= 0:
            # every sequence the occurrence overlaps (a fragment may straddle two packed sequences)
            first = int(np.searchsorted(sequence_ends, at, side="right"))
            last = int(np.searchsorted(dataset.starts, at + len(needle), side="left"))
            found.update(range(first, last))
            at = haystack.find(needle, at + 1)
    return np.array(sorted(found), dtype=np.int64)


def build_dataset(text: str, config: DatasetConfig, corpus_sha256: str = "") -> PreparedDataset:
    """All the pure steps on normalised ``text``, in memory."""
    words = text.split(" ")[1:]
    if text.endswith(" "):
        words = words[:-1]
        text = text[:-1]
    vocab = build_vocabulary(words, config.vocab_words)
    word_ids = {w: i for i, w in enumerate(vocab)}
    chars, targets = align(text, word_ids)
    word_lengths = np.fromiter((len(w) + 1 for w in words), dtype=np.int64, count=len(words))
    starts, lengths = pack_sequences(word_lengths, config.max_seq_len)
    return PreparedDataset(
        words=vocab,
        chars=chars,
        targets=targets.astype(np.uint16),
        starts=starts,
        lengths=lengths,
        splits=split_indices(len(starts), config),
        config=config,
        corpus_sha256=corpus_sha256,
    )


_ARRAYS = ("chars", "targets", "starts", "lengths")


def cache_key(corpus_sha256: str, config: DatasetConfig) -> str:
    blob = json.dumps({"corpus": corpus_sha256, "format": CACHE_FORMAT, **asdict(config)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save_dataset(dataset: PreparedDataset, folder: Path) -> None:
    """Write the arrays as .npy (memory-mappable) and the rest as JSON; the folder appears atomically.
    Each writer has its own temporary folder: two processes preparing the same corpus at once must not
    write into one (one would move it into place while the other still writes). The first to finish
    wins; the other's copy (the same arrays) is discarded."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".tmp-"))
    for name in _ARRAYS:
        np.save(tmp / f"{name}.npy", getattr(dataset, name))
    for split, idx in dataset.splits.items():
        np.save(tmp / f"split_{split}.npy", idx)
    meta = {"words": dataset.words, "config": asdict(dataset.config), "corpus_sha256": dataset.corpus_sha256}
    (tmp / "meta.json").write_text(json.dumps(meta))
    try:
        tmp.replace(folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / "meta.json").exists():  # else another process prepared it first: keep theirs
            raise


def load_dataset(folder: Path) -> PreparedDataset:
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    splits = {s: np.load(folder / f"split_{s}.npy") for s in ("train", "valid", "test")}
    return PreparedDataset(
        words=meta["words"],
        splits=splits,
        config=DatasetConfig(**meta["config"]),
        corpus_sha256=meta["corpus_sha256"],
        **arrays,
    )


def prepare_dataset(source: str, config: DatasetConfig, cache_root: Path | None = None,
                    log=print) -> PreparedDataset:
    """Load ``source`` ("text8" or a path), prepare it once, and reuse the cached arrays afterwards."""
    started = time.perf_counter()
    text, description = load_corpus(source)
    sha = corpus_fingerprint(text)
    folder = (cache_root or cache_dir() / "datasets") / cache_key(sha, config)
    if (folder / "meta.json").exists():
        dataset = load_dataset(folder)
        log(f"dataset: reloaded {folder} in {time.perf_counter() - started:.1f}s")
    else:
        dataset = build_dataset(text, config, sha)
        folder.parent.mkdir(parents=True, exist_ok=True)
        save_dataset(dataset, folder)
        dataset = load_dataset(folder)
        log(f"dataset: prepared {len(text):,} characters into {folder} in {time.perf_counter() - started:.1f}s")
    dataset.description = description
    return dataset


def distance_read_before(chars: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(B, T) for a batch of sequences: at the characters of a word that was the target of an earlier word
    in the same sequence (row), how many characters back its latest earlier occurrence began (from that
    word's leading space to this one's); 0 elsewhere. A word's characters run from its leading space, where
    its target is first predicted, to its last letter; padding (character 0) and a start before the first
    space are 0. How far back a unit must reach to recall the word: the recall-distance breakdown."""
    distances = np.zeros(targets.shape, dtype=np.int64)
    for row, (row_chars, row_targets) in enumerate(zip(chars, targets)):
        starts = np.flatnonzero(row_chars == SPACE_CHAR_ID)  # every word's leading space
        length = int(np.flatnonzero(row_chars != 0)[-1]) + 1 if row_chars.any() else 0  # before the padding
        latest_start: dict[int, int] = {}  # word id → where its latest occurrence so far began
        for start, end in zip(starts, [*starts[1:], length]):
            word = int(row_targets[start])
            if word in latest_start:
                distances[row, start:end] = start - latest_start[word]
            latest_start[word] = int(start)
    return distances


def repeated_words(chars: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(B, T) for a batch of sequences: 1 at the characters of a word that was the target of an earlier word
    in the same sequence (row), else 0 (``distance_read_before`` > 0)."""
    return (distance_read_before(chars, targets) > 0).astype(np.int64)


def rarer_words_read_before(chars: np.ndarray, targets: np.ndarray, frequent: int = FREQUENT_WORDS) -> np.ndarray:
    """(B, T) bool for a batch of sequences: the characters of a rarer word (beyond the ``frequent`` most
    frequent) that was an earlier word of the same sequence, where a unit that remembers what it read can
    recall it. The repetition breakdown's third band (rnnmem.breakdowns) and --repeat-weight's characters."""
    return (targets > UNKNOWN_ID + frequent) & (repeated_words(chars, targets) == 1)
