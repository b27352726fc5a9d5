"""Accuracy given characters seen, broken down by the kind of word being typed.

Does a unit's lead come from common short words (easy from the first letters alone) or from context?
Each scored character is put in a band by its target word, and accuracy by characters seen is counted
per band (rnnmem.accuracy's accumulator with a group per vocabulary word):

- **frequency**: the word's rank in the model's vocabulary, which is ordered by corpus frequency
  (rnnmem.dataset.build_vocabulary: id 2 is the most frequent word): the top 100, ranks 101–1,000, and
  1,001 to the vocabulary's end. Words outside the vocabulary are counted apart: no prediction can match them.
- **length**: the word's length in letters: 1–2, 3–4, 5–6, 7–9, 10 or more.
- **repetition**: the 100 most frequent words apart; the rarer ones by whether they were already an
  earlier word of the same sequence (the model's training-length sequences, 200 characters for the
  shipped models, cut at word boundaries). A unit that remembers the words it read can type a rarer word
  again from fewer letters than a new one: a signal of memory, though not a clean one. A repeated word
  also sits later in its sequence (a repeat is never the first word) and in a passage on its topic, so
  even a unit without memory scores it somewhat higher: read the gap between the two bands of one unit
  against another unit's gap, not on its own. The frequent words are set apart because otherwise
  repeated words are mostly "the", "of" and "and", easy for any unit from the first letters.
- **distance**: the repetition breakdown with its repeated rarer words split by how far back the word was
  last read (from that occurrence's leading space to this one's): fewer than 50 characters, 50–99, 100 or
  more. How far back a unit can recall a word, in the article's walkthrough the second "grammar" 130
  characters after the first; the same caution as for repetition applies, and a band of long distances
  holds fewer words (the sequences are 200 characters).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .accuracy import NOTHING_TO_SCORE, AccuracyAccumulator, AccuracyResult, accumulate_accuracy
from .dataset import (FREQUENT_WORDS, UNKNOWN_ID, distance_read_before, rarer_words_read_before,  # noqa: F401
                      repeated_words)  # (repeated_words: this module's API)
from .errors import InputError
from .inputs import text_sequences

FREQUENCY_EDGES = (FREQUENT_WORDS, 1000)  # vocabulary ranks where a frequency band ends
LENGTH_EDGES = (2, 4, 6, 9)  # letters where a length band ends (inclusive)
DISTANCE_EDGES = (50, 100)  # characters back where a band of repeated words' distance starts
BREAKDOWNS = ("frequency", "length", "repetition", "distance")
# What a breakdown's bands say about a word: the title of the panels it draws
BANDED_BY = {"frequency": "word's vocabulary rank", "length": "word's length",
             "repetition": "word's frequency and repetition in its sequence",
             "distance": "word's frequency and how far back it was last read in its sequence"}
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
    """The (V,) bands of a breakdown by word ("frequency" or "length") and their labels."""
    if by not in ("frequency", "length"):
        raise InputError(f"unknown breakdown by word {by!r} (expected frequency or length)")
    return frequency_bands(words) if by == "frequency" else length_bands(words)


def repetition_bands(frequent: int = FREQUENCY_EDGES[0]):
    """The repetition breakdown: a function of a batch's (chars, targets) giving every position's band (0:
    one of the ``frequent`` most frequent words; 1: a rarer word new in its sequence; 2: a rarer word
    already read in it), and the bands' labels."""
    def bands(chars: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return np.where(targets <= UNKNOWN_ID + frequent, 0, 1) + rarer_words_read_before(chars, targets, frequent)

    return bands, [f"top {frequent:,}", "rarer, new in its sequence", "rarer, already read in its sequence"]


def distance_spans(edges: tuple[int, ...] = DISTANCE_EDGES) -> list[str]:
    """The recall-distance bands' spans of characters: "under 50", "50–99", "100+" for edges (50, 100)."""
    bounds = [0, *edges]
    return [*(f"{low}–{high - 1}" if low else f"under {high}" for low, high in zip(bounds, bounds[1:])),
            f"{edges[-1]}+"]


def distance_bands(frequent: int = FREQUENCY_EDGES[0], edges: tuple[int, ...] = DISTANCE_EDGES):
    """The recall-distance breakdown: a function of a batch's (chars, targets) giving every position's band
    (0: one of the ``frequent`` most frequent words; 1: a rarer word new in its sequence; 2 on: a rarer word
    read before, by how many characters back it was last read, bands starting at ``edges``), and the
    bands' labels."""
    labels = [f"top {frequent:,}", "rarer, new in its sequence",
              *(f"rarer, read {span} characters back" for span in distance_spans(edges))]

    def bands(chars: np.ndarray, targets: np.ndarray) -> np.ndarray:
        distances = distance_read_before(chars, targets)
        rarer = targets > UNKNOWN_ID + frequent
        by_distance = 2 + np.searchsorted(np.array(edges), distances, side="right")
        return np.where(rarer, np.where(distances > 0, by_distance, 1), 0)

    return bands, labels


def breakdown_groups(model, by: str):
    """The groups of breakdown ``by`` for rnnmem.accuracy's accumulator (a table by word, or a function by
    position) and their labels."""
    if by not in BREAKDOWNS:
        raise InputError(f"unknown breakdown {by!r} (expected {', '.join(BREAKDOWNS)})")
    # a vocabulary smaller than the frequent words' number: all of it is frequent
    frequent = min(FREQUENCY_EDGES[0], len(model.words) - (UNKNOWN_ID + 1))
    if by == "repetition":
        return repetition_bands(frequent)
    if by == "distance":
        return distance_bands(frequent)
    bands, labels = word_bands(list(model.words), by)
    return np.where(bands < 0, 0, bands), labels  # specials are never scored; any group will do


@dataclass
class BandAccuracy:
    """Accuracy by characters seen in each band of one breakdown, with the counts behind it."""

    by: str  # one of BREAKDOWNS
    labels: list[str]  # one per band, in order
    results: list[AccuracyResult]  # one per band (a band with no scored character: all counts zero)
    unknown: int  # characters of words outside the vocabulary (not scored, in no band)

    @classmethod
    def of(cls, accumulator: AccuracyAccumulator, labels: list[str], by: str) -> "BandAccuracy":
        """From an accumulator run with ``breakdown_groups(model, by)`` (whose labels these are)."""
        return cls(by=by, labels=labels, results=[accumulator.result(g) for g in range(len(labels))],
                   unknown=int(accumulator.unknown))

    def as_dict(self) -> dict:
        """Plain JSON: a band has no cross-entropy of its own (null, not NaN)."""
        return {"by": self.by, "out_of_vocabulary_chars": self.unknown,
                "bands": {label: {**result.as_dict(), "cross_entropy": None}
                          for label, result in zip(self.labels, self.results)}}


def accuracy_by_band(model, texts: str | Iterable[str], by: str = "frequency", *,
                     batch_size: int = 32) -> BandAccuracy:
    """Top-1/2/3 accuracy by characters seen for each band of ``by`` (one of BREAKDOWNS), over a text or a
    list of texts (e.g. the sequences a memory profile sampled, ``MemoryProfile.texts``), each cut into the
    model's training-length sequences."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    sequences = [pair for text in texts for pair in text_sequences(model, text)]
    return BandAccuracy.of(*_accumulate_by_band(model, sequences, by, batch_size=batch_size), by)


def accuracy_with_bands(model, sequences: Iterable, by: str, *, batch_size: int = 32,
                        progress=None) -> tuple[AccuracyResult, BandAccuracy]:
    """The accuracy over ``sequences`` ((chars, targets) pairs, as rnnmem.accuracy takes) and its breakdown
    by ``by``, from one pass; InputError when nothing is scored, as ``accuracy_by_chars_seen``."""
    accumulator, labels = _accumulate_by_band(model, sequences, by, batch_size=batch_size, progress=progress)
    if not accumulator.counts.any():
        raise InputError(NOTHING_TO_SCORE)
    return accumulator.result(), BandAccuracy.of(accumulator, labels, by)


def _accumulate_by_band(model, sequences: Iterable, by: str, **kwargs) -> tuple[AccuracyAccumulator, list[str]]:
    groups, labels = breakdown_groups(model, by)
    return accumulate_accuracy(model, sequences, groups=groups, n_groups=len(labels), **kwargs), labels
