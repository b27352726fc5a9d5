"""Accuracy given characters seen, broken down by the kind of word being typed.

Does a unit's lead come from common short words (easy from the first letters alone) or from context?
Each scored character is put in a band by its target word, and accuracy by characters seen is counted
per band (rnnmem.accuracy's accumulator with a group per vocabulary word):

- **frequency**: the word's rank in the model's vocabulary, which is ordered by corpus frequency
  (rnnmem.dataset.build_vocabulary: id 2 is the most frequent word): the top 100, ranks 101–1,000, and
  1,001 to the vocabulary's end. Words outside the vocabulary are counted apart: no prediction can match them.
- **length**: the word's length in letters: 1–2, 3–4, 5–6, 7–9, 10 or more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .accuracy import AccuracyResult, accumulate_accuracy
from .dataset import UNKNOWN_ID
from .errors import InputError
from .inputs import text_sequences

FREQUENCY_EDGES = (100, 1000)  # vocabulary ranks where a frequency band ends
LENGTH_EDGES = (2, 4, 6, 9)  # letters where a length band ends (inclusive)
BREAKDOWNS = ("frequency", "length")
OUT_OF_VOCABULARY = "out of vocabulary"


def frequency_bands(words: list[str]) -> tuple[np.ndarray, list[str]]:
    """(V,) band of every vocabulary id by frequency rank (id − 2; -1 for <eos> and <unknown>), and the
    bands' labels. Bands a small vocabulary does not reach are left out."""
    ranks = np.arange(len(words)) - (UNKNOWN_ID + 1)  # (V,)
    edges = [edge for edge in FREQUENCY_EDGES if edge < len(words) - 2]
    bands = np.searchsorted(np.array(edges), ranks, side="right")
    bands[ranks < 0] = -1
    bounds = [0, *edges, len(words) - 2]
    # 1-based ranks, inclusive: "top 100", "101–1,000", "1,001–16,384"
    labels = [f"top {high:,}" if low == 0 else f"{low + 1:,}–{high:,}" for low, high in zip(bounds, bounds[1:])]
    return bands, labels


def length_bands(words: list[str]) -> tuple[np.ndarray, list[str]]:
    """(V,) band of every vocabulary id by its word's length in letters (-1 for <eos> and <unknown>), and
    the bands' labels."""
    lengths = np.array([len(word) for word in words])
    bands = np.searchsorted(np.array(LENGTH_EDGES), lengths, side="left")  # length ≤ edge: that band
    bands[: UNKNOWN_ID + 1] = -1
    bounds = [1, *(edge + 1 for edge in LENGTH_EDGES)]
    labels = [f"{low}–{edge} letters" for low, edge in zip(bounds, LENGTH_EDGES)] + [f"{bounds[-1]}+ letters"]
    return bands, labels


def word_bands(words: list[str], by: str) -> tuple[np.ndarray, list[str]]:
    if by not in BREAKDOWNS:
        raise InputError(f"unknown breakdown {by!r} (expected {' or '.join(BREAKDOWNS)})")
    return frequency_bands(words) if by == "frequency" else length_bands(words)


@dataclass
class BandAccuracy:
    """Accuracy by characters seen in each band of one breakdown, with the counts behind it."""

    by: str  # "frequency" or "length"
    labels: list[str]  # one per band, in order
    results: list[AccuracyResult]  # one per band (a band with no scored character: all counts zero)
    unknown: int  # characters of words outside the vocabulary (not scored, in no band)

    def as_dict(self) -> dict:
        return {"by": self.by, "out_of_vocabulary_chars": self.unknown,
                "bands": {label: result.as_dict() for label, result in zip(self.labels, self.results)}}


def accuracy_by_band(model, texts: str | Iterable[str], by: str = "frequency", *,
                     batch_size: int = 32) -> BandAccuracy:
    """Top-1/2/3 accuracy by characters seen for each band of ``by`` ("frequency" or "length"), over a
    text or a list of texts (e.g. the sequences a memory profile sampled, ``MemoryProfile.texts``), each
    cut into the model's training-length sequences."""
    bands, labels = word_bands(list(model.words), by)
    texts = [texts] if isinstance(texts, str) else list(texts)
    sequences = [pair for text in texts for pair in text_sequences(model, text)]
    table = np.where(bands < 0, 0, bands)  # specials are never scored; any group will do
    accumulator = accumulate_accuracy(model, sequences, batch_size=batch_size, groups=table,
                                      n_groups=len(labels))
    return BandAccuracy(by=by, labels=labels, results=[accumulator.result(g) for g in range(len(labels))],
                        unknown=int(accumulator.unknown))
