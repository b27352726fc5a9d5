"""Recall: how much of a connectivity row rests on an earlier reading of the word being explained.

The article's second walkthrough moment is a recall: at the "g" of the second "grammar", a unit that
remembers the first "grammar" (130 characters back) can suggest it again, and its connectivity row shows
where that suggestion comes from. ``earlier_readings`` measures it for any row: the share of the row (its
mass, normalised to sum 1) on the letters of the explained word's earlier occurrences in the text, beside
the share those letters would get if the row were spread evenly over the characters read so far. Pure
functions on text and a row; the Connectivity page states it under each row (rnnmem.app.widgets.recall_note).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .text import word_starts


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
        letters, 4.4% of the characters so far." """
        times = len(self.starts)
        read = (f"read {self.distance} characters back" if times == 1
                else f"read {times} times, last {self.distance} characters back")
        return (f"“{self.word}”, {read}: {_percent(self.share)} of this row is on its letters, "
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
