"""Recall: how much of a connectivity row rests on an earlier reading of the word being explained.

The article's second walkthrough moment is a recall: at the "g" of the second "grammar", a unit that
remembers the first "grammar" (130 characters back) can suggest it again, and its connectivity row shows
where that suggestion comes from.

- ``earlier_readings`` measures it for one row: the share of the row (its mass, normalised to sum 1) on
  the letters of the explained word's earlier occurrences in the text, beside the share those letters
  would get if the row were spread evenly over the characters read so far. A pure function of text and a
  row; the Connectivity page states it under each row (rnnmem.app.widgets.recall_note).
- ``recall_profile`` measures it over a corpus, against a control. At every **recall moment** (the first
  letter of a rarer word already read in its sequence: the second "grammar" after "g") the row's share on
  the earlier readings' letters is compared with the share a row gives such letters anyway: the **control
  profile** is the mean share of a letter of an earlier rarer word d characters back at **control
  moments** (the first letter of a rarer word new in its sequence, drawn from the same sequences), by
  where the output sits in its sequence (bins of ``POSITION_BIN`` characters: a later output's row spreads
  over more characters). ``expected`` is that profile summed over the recalled letters' distances;
  **lift** = Σ share / Σ expected over the moments. Lift 1: the row looks at the word it read no more
  than at any other rarer word's letters as far back; above 1, it seeks that word out. The intervals
  resample whole sequences, recall moments and control rows together. No lift where no control letter
  lies that far back, or where the rows put next to nothing there (``MIN_EXPECTED``). Unlike the accuracy
  on repeated words (rnnmem.breakdowns, "repetition"), it reads the attribution itself: not whether the
  word was suggested, which its later place in the sequence and its topic also help, but what the
  prediction rests on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .attribution import connectivity_of_ids
from .breakdowns import DISTANCE_EDGES, distance_spans
from .dataset import FREQUENT_WORDS, SPACE_CHAR_ID, UNKNOWN_ID, distance_read_before
from .errors import InputError
from .inputs import text_sequences
from .memory import _read_text_file
from .text import word_starts

RECALL_MEASURES = ("share", "expected", "lift")
# Control moments per recall moment: on a text of a few sequences as many as it has (a corpus sample: 2)
TEXT_CONTROLS = 50
POSITION_BIN = 50  # controls are matched on where the output sits in its sequence, in bins of this many characters
MIN_CONTROL_LETTERS = 5  # control letters at one distance for their mean to stand (in a bin; else over all bins)
RESAMPLES = 1000
FEW_MOMENTS = 30  # fewer recall moments than this make an anecdote, not a figure (the pages say so)
# Below this mean expected share the rows put next to nothing that far back (a vanilla RNN's at 50 or more
# characters: about 1e-7), and a lift would be a ratio of rounding noise: it is left out (NaN).
MIN_EXPECTED = 1e-4


@dataclass(frozen=True)
class EarlierReadings:
    """Where the explained ``word`` was read in full before the word being typed at ``position``.

    ``starts``: each earlier occurrence's leading space, in reading order; ``distance``: characters from the
    latest one's leading space to the current word's (as rnnmem.dataset.distance_read_before counts);
    ``share``: the row's mass on those occurrences' letters (the row normalised to sum 1; 0 for an all-zero
    row); ``letters``: how many letters that is; ``chars_so_far``: the characters the row spans (0..position).
    """

    word: str
    position: int
    starts: tuple[int, ...]
    distance: int
    share: float
    letters: int
    chars_so_far: int

    @property
    def even_share(self) -> float:
        """The share those letters would hold in a row spread evenly over the characters read so far."""
        return self.letters / self.chars_so_far

    def describe(self) -> str:
        """One sentence for a visitor, e.g. "“grammar”, read 130 characters back: 23% of this row is on its
        letters, which are 4.4% of the characters so far." """
        times = len(self.starts)
        read = (f"read {self.distance} characters back" if times == 1
                else f"read {times} times, last {self.distance} characters back")
        return (f"“{self.word}”, {read}: {_percent(self.share)} of this row is on its letters, which are "
                f"{_percent(self.even_share)} of the characters so far.")


def _percent(share: float) -> str:
    """A share as a percentage a reader can compare: one decimal below 10%, none above; "under 0.1%" for a
    share that would round to 0.0% without being none."""
    if 0 < share < 0.0005:
        return "under 0.1%"
    return f"{share:.1%}" if share < 0.1 else f"{share:.0%}"


def earlier_readings(text: str, position: int, word: str, row: np.ndarray) -> EarlierReadings | None:
    """How much of connectivity ``row`` (over characters 0..position of normalised ``text``; longer rows
    are cut there) rests on the letters of ``word`` where the text had it in full before the word being
    typed at ``position``. None when the text has no such earlier ``word``: nothing to recall."""
    if not 0 <= position < len(text):
        raise ValueError(f"position {position} is outside the text (0..{len(text) - 1})")
    if not word or " " in word:
        return None
    current_start = int(word_starts(text)[position])
    starts = []
    at = text.find(f" {word} ", 0)
    while 0 <= at < current_start:  # an occurrence ending before the current word's leading space
        starts.append(at)
        at = text.find(f" {word} ", at + 1)
    if not starts:
        return None
    row = np.abs(np.asarray(row, dtype=np.float64)[:position + 1])  # magnitudes, as drawn (signed attributions)
    total = float(row.sum())
    letters = np.concatenate([np.arange(start + 1, start + 1 + len(word)) for start in starts])
    share = float(row[letters].sum()) / total if total > 0 else 0.0
    return EarlierReadings(word=word, position=position, starts=tuple(starts), distance=current_start - starts[-1],
                           share=share, letters=len(letters), chars_so_far=position + 1)


def moments(chars: np.ndarray, targets: np.ndarray, frequent: int = FREQUENT_WORDS) -> tuple[np.ndarray, np.ndarray]:
    """For one sequence (``chars``, ``targets``: (T,)), the positions of its recall moments (the first
    letter of a rarer word, beyond the ``frequent`` most frequent, already read in the sequence) and of
    its control candidates (the first letter of a rarer word new in it)."""
    chars, targets = np.asarray(chars), np.asarray(targets)
    starts = np.flatnonzero(chars == SPACE_CHAR_ID)
    firsts = starts[starts + 1 < len(chars)] + 1
    firsts = firsts[(chars[firsts] != SPACE_CHAR_ID) & (chars[firsts] > 0)]  # a letter: not a space, not padding
    rarer = firsts[targets[firsts] > UNKNOWN_ID + frequent]
    read = distance_read_before(chars[None], targets[None])[0][rarer] > 0
    return rarer[read], rarer[~read]


def earlier_letters(chars: np.ndarray, targets: np.ndarray, position: int) -> np.ndarray:
    """The positions of the letters of every earlier occurrence (before the current word's leading space)
    of the word being typed at ``position``, in one sequence."""
    is_space = np.asarray(chars) == SPACE_CHAR_ID
    start = int(np.flatnonzero(is_space[:position + 1])[-1])
    before = np.arange(start)
    return before[(np.asarray(targets)[:start] == targets[position]) & ~is_space[:start]]


def rarer_letters_before(chars: np.ndarray, targets: np.ndarray, position: int, frequent: int) -> np.ndarray:
    """The positions of the letters of every rarer word read in full before the word at ``position``:
    where a control moment's row is measured, so that the control is a rarer word's letters as far back,
    not spaces and frequent words."""
    chars, targets = np.asarray(chars), np.asarray(targets)
    start = int(np.flatnonzero(chars[:position + 1] == SPACE_CHAR_ID)[-1])
    before = np.arange(start)
    return before[(targets[:start] > UNKNOWN_ID + frequent) & (chars[:start] != SPACE_CHAR_ID)]


@dataclass
class RecallProfile:
    """Recall against its control, over the recall moments of a set of sequences (module docstring)."""

    per_moment: dict[str, np.ndarray]  # "share", "expected" (NaN: no control that far back), "distance",
    #                                    "sequence", "position": (M,) each
    control_profile: np.ndarray  # (bins, D): mean share of a rarer word's letter d back, by the output's position bin
    controls: int  # control rows measured
    means: dict[str, dict[str, float]]  # RECALL_MEASURES -> {"mean", "low", "high"} (95% bootstrap), "sequences"
    by_distance: dict[str, dict]  # band label -> {"moments", "sequences", and RECALL_MEASURES as in ``means``}
    sequences: int
    seed: int
    unit: str = ""
    characters: int = 0  # the sequences' characters in all
    extras: dict = field(default_factory=dict)

    @property
    def moments(self) -> int:
        return len(self.per_moment["share"])

    def summary(self) -> dict:
        """The figures as JSON-able values (NaN: None)."""
        def clean(value):
            if isinstance(value, dict):
                return {key: clean(item) for key, item in value.items()}
            return None if isinstance(value, float) and np.isnan(value) else value

        return {"unit": self.unit, "moments": self.moments, "controls": self.controls, "sequences": self.sequences,
                "characters": self.characters, "seed": self.seed, **clean(self.means),
                "by_distance": clean(self.by_distance)}


Rows = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (chars, positions, ys) -> (N, T) rows


def _as_sequences(model, sequences) -> list[tuple[np.ndarray, np.ndarray]]:
    """(chars, targets) sequences from text (a string, a list of them, or a ``pathlib.Path``), each cut
    into the model's training-length sequences, or from such pairs."""
    if isinstance(sequences, Path):
        sequences = _read_text_file(sequences)
    if isinstance(sequences, str):
        return text_sequences(model, sequences)
    sequences = list(sequences)
    if all(isinstance(text, str) for text in sequences):
        return [pair for text in sequences for pair in text_sequences(model, text)]
    return [(np.asarray(chars), np.asarray(targets, dtype=np.int64)) for chars, targets in sequences]


def recall_sample(texts: list[str], max_chars: int, seed: int = 0) -> list[str]:
    """Whole texts (a split's sequences) drawn in a seeded order until at least ``max_chars`` characters
    are gathered (the last one whole): a recall moment needs one row, not a sequence's whole matrix, so a
    recall sample can hold many more sequences than a memory profile's for the same cost."""
    chosen, total = [], 0
    for index in np.random.default_rng(seed).permutation(len(texts)).tolist():
        if total >= max_chars:
            break
        chosen.append(texts[index])
        total += len(texts[index])
    return chosen


def control_profile(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean share of a rarer word's letter d characters back, (…, bins, D), from control ``sums`` and
    ``counts`` of the same shape: by position bin where the bin has ``MIN_CONTROL_LETTERS`` at that
    distance, else over all bins where they have, else NaN (nothing to compare with)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        by_bin = np.where(counts >= MIN_CONTROL_LETTERS, sums / counts, np.nan)
        total = counts.sum(-2, keepdims=True)
        pooled = np.where(total >= MIN_CONTROL_LETTERS, sums.sum(-2, keepdims=True) / total, np.nan)
    return np.where(np.isnan(by_bin), pooled, by_bin)


def _measure(pairs, found, chosen, rows: Rows, frequent: int, bins: int, length: int, progress):
    """Every recall moment's share and the cells (position bin, distance) of its recalled letters, and the
    control letters' shares summed per sequence and cell, with their counts."""
    control_sums, control_counts = (np.zeros((len(pairs), bins, length)) for _ in range(2))
    recalled, controls = [], 0  # (sequence, position, share, cells)
    for s, ((chars, targets), (recall, _)) in enumerate(zip(pairs, found)):
        positions = np.concatenate([recall, np.asarray(chosen[s], dtype=np.int64)]).astype(np.int64)
        if len(positions):
            measured = np.abs(np.asarray(rows(chars, positions, targets[positions]), dtype=np.float64))
            for index, (row, position) in enumerate(zip(measured, positions.tolist())):
                total = row.sum()
                if not total > 0:
                    continue  # an all-zero row says nothing
                bin_ = position // POSITION_BIN
                if index < len(recall):
                    letters = earlier_letters(chars, targets, position)
                    recalled.append((s, position, row[letters].sum() / total, (bin_, position - letters)))
                else:
                    letters = rarer_letters_before(chars, targets, position, frequent)
                    np.add.at(control_sums[s, bin_], position - letters, row[letters] / total)
                    np.add.at(control_counts[s, bin_], position - letters, 1)
                    controls += 1
        if progress:
            progress(s + 1, len(pairs))
    cells = np.zeros((len(recalled), bins * length))
    for m, (_, _, _, (bin_, back)) in enumerate(recalled):
        np.add.at(cells[m], bin_ * length + back, 1)
    return recalled, cells, control_sums, control_counts, controls


def _figures(share, cells, sequence, profiles, weights) -> dict:
    """Mean share, mean expected share and lift (Σ share / Σ expected over the moments with a control at
    all their distances) for the point estimate (``profiles[0]``, ``weights[0]``: every sequence once) and
    each bootstrap resample of whole sequences (the control profile resampled with them); 95% intervals
    from the resamples, where the moments come from more than one sequence."""
    expected = np.nan_to_num(profiles) @ cells.T  # (R, M)
    known = (np.isnan(profiles) @ cells.T) == 0
    counted = weights[:, sequence]  # (R, M): how often each moment's sequence was drawn
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a band no resample measures: NaN, said by its mean
        values = {"share": (counted * share).sum(1) / counted.sum(1),
                  "expected": (counted * known * expected).sum(1) / (counted * known).sum(1),
                  "lift": (counted * known * share).sum(1) / (counted * known * expected).sum(1)}
        out = {}
        for name, value in values.items():
            spread = len(np.unique(sequence)) > 1
            low, high = np.nanpercentile(value[1:], [2.5, 97.5]) if spread and len(value) > 1 else (value[0],) * 2
            out[name] = {"mean": float(value[0]), "low": float(low), "high": float(high)}
    if not out["expected"]["mean"] >= MIN_EXPECTED:  # nothing that far back to compare with (or no moments)
        out["lift"] = {"mean": np.nan, "low": np.nan, "high": np.nan}
    return {"sequences": len(np.unique(sequence)), **out}


def recall_profile(model, sequences, *, controls: int = 2, seed: int = 0, frequent: int = FREQUENT_WORDS,
                   edges: tuple[int, ...] = DISTANCE_EDGES, rows: Rows | None = None,
                   progress: Callable[[int, int], None] | None = None) -> RecallProfile:
    """Recall against its control (module docstring) over ``sequences``: text (a string, a list of
    strings or a ``pathlib.Path``; cut into the model's training-length sequences) or (chars, targets)
    pairs, e.g. a corpus split's. ``controls`` control moments are drawn per recall moment (seeded; fewer
    where the sequences have fewer). ``rows(chars, positions, ys)`` gives the connectivity rows (default:
    ``connectivity_of_ids`` on ``model``; tests pass hand-made ones). ``progress(done, total)`` after each
    sequence. Figures by distance band as rnnmem.breakdowns' "distance" breakdown (``edges``)."""
    if not isinstance(controls, (int, np.integer)) or isinstance(controls, bool) or controls < 1:
        raise InputError("controls must be a whole number of at least 1")
    pairs = _as_sequences(model, sequences)
    found = [moments(chars, targets, frequent) for chars, targets in pairs]
    recall_count = sum(len(recall) for recall, _ in found)
    if not recall_count:
        raise InputError("the text has no rarer word read twice in one sequence: nothing to recall")
    draw, resample = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    candidates = [(s, int(p)) for s, (_, control) in enumerate(found) for p in control]
    chosen = [[] for _ in pairs]
    for i in sorted(draw.choice(len(candidates), size=min(controls * recall_count, len(candidates)),
                                replace=False).tolist()):
        chosen[candidates[i][0]].append(candidates[i][1])
    rows = rows or (lambda chars, positions, ys: connectivity_of_ids(model, chars, positions, ys))
    length = max(len(chars) for chars, _ in pairs)
    bins = -(-length // POSITION_BIN)
    recalled, cells, sums, counts, measured_controls = _measure(pairs, found, chosen, rows, frequent, bins, length,
                                                                progress)
    # every sequence once, then RESAMPLES draws of whole sequences (recall and control together)
    weights = np.vstack([np.ones(len(pairs)), np.stack([np.bincount(resample.integers(0, len(pairs), len(pairs)),
                                                                    minlength=len(pairs))
                                                        for _ in range(RESAMPLES)])])
    profiles = control_profile((weights @ sums.reshape(len(pairs), -1)).reshape(-1, bins, length),
                               (weights @ counts.reshape(len(pairs), -1)).reshape(-1, bins, length)).reshape(
                                   len(weights), -1)
    distances = distance_read_before(np.stack([np.pad(c, (0, length - len(c))) for c, _ in pairs]),
                                     np.stack([np.pad(t, (0, length - len(t))) for _, t in pairs]))
    share = np.array([share for _, _, share, _ in recalled])
    sequence = np.array([s for s, *_ in recalled], dtype=np.int64)
    point = np.nan_to_num(profiles[0]) @ cells.T
    per_moment = {"share": share,
                  "expected": np.where((np.isnan(profiles[0]) @ cells.T) == 0, point, np.nan),
                  "distance": np.array([distances[s, p] for s, p, *_ in recalled], dtype=np.int64),
                  "sequence": sequence, "position": np.array([p for _, p, *_ in recalled], dtype=np.int64)}
    band = np.searchsorted(np.array(edges), per_moment["distance"], side="right")
    by_distance = {label: {"moments": int((band == b).sum()),
                           **_figures(share[band == b], cells[band == b], sequence[band == b], profiles, weights)}
                   for b, label in enumerate(distance_spans(edges))}
    return RecallProfile(per_moment=per_moment, control_profile=profiles[0].reshape(bins, length),
                         controls=measured_controls, means=_figures(share, cells, sequence, profiles, weights),
                         by_distance=by_distance, sequences=len(pairs), seed=seed, unit=getattr(model, "unit", ""),
                         characters=sum(len(chars) for chars, _ in pairs))
