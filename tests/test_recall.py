"""rnnmem.recall: the share of a connectivity row on the letters of the explained word's earlier readings."""

from __future__ import annotations

import numpy as np
import pytest

from rnnmem.dataset import distance_read_before
from rnnmem.recall import earlier_readings
from rnnmem.text import encode_chars, normalize

TEXT = normalize("the grammar school taught grammar and the grammar of latin")


def test_share_is_the_rows_mass_on_the_earlier_letters_against_an_even_row():
    position = TEXT.index(" grammar of") + 1  # the "g" of the third "grammar"
    row = np.zeros(position + 1)
    first, second = TEXT.index(" grammar"), TEXT.index(" grammar and")
    row[first + 1:first + 8] = 0.5  # 7 letters × 0.5: 3.5 on the first reading
    row[second + 1] = 1.0  # 1.0 on the second reading's "g"
    row[second] = 4.0  # a leading space is not a letter of the word
    row[position] = 1.5  # the current "g": not an earlier reading
    readings = earlier_readings(TEXT, position, "grammar", row)
    assert readings.starts == (first, second)
    assert readings.share == pytest.approx(4.5 / 10.0)
    assert readings.letters == 14 and readings.chars_so_far == position + 1
    assert readings.even_share == pytest.approx(14 / (position + 1))
    assert readings.distance == TEXT.index(" grammar of") - second
    assert readings.describe() == (f"“grammar”, read 2 times, last {readings.distance} characters back: 45% of this "
                                   f"row is on its letters, {14 / (position + 1):.0%} of the characters so far.")


def test_the_word_being_typed_and_words_not_yet_read_do_not_count():
    second = TEXT.index(" grammar and")
    for position in (second, second + 3, second + 7):  # its leading space, a letter, its last letter
        readings = earlier_readings(TEXT, position, "grammar", np.ones(position + 1))
        assert readings.starts == (TEXT.index(" grammar"),)  # only the first, read in full before
        assert readings.describe().startswith(f"“grammar”, read {second - TEXT.index(' grammar')} characters back: ")
    first = TEXT.index(" grammar")
    assert earlier_readings(TEXT, first + 3, "grammar", np.ones(first + 4)) is None  # nothing read before
    assert earlier_readings(TEXT, len(TEXT) - 1, "latin", np.ones(len(TEXT))) is None
    assert earlier_readings(TEXT, len(TEXT) - 1, "gram", np.ones(len(TEXT))) is None  # whole words only
    assert earlier_readings(TEXT, len(TEXT) - 1, "", np.ones(len(TEXT))) is None
    assert earlier_readings(TEXT, len(TEXT) - 1, "the grammar", np.ones(len(TEXT))) is None


def test_distance_is_the_one_training_and_the_breakdowns_count():
    """The recall distance under a row is rnnmem.dataset.distance_read_before's, letter for letter."""
    words = TEXT.split()
    ids = {word: index + 2 for index, word in enumerate(dict.fromkeys(words))}
    chars = encode_chars(TEXT).astype(np.int64)[None, :]
    targets = np.zeros_like(chars)
    starts = [i for i, c in enumerate(TEXT) if c == " "]
    for start, end, word in zip(starts, [*starts[1:], len(TEXT)], words):
        targets[0, start:end] = ids[word]
    distances = distance_read_before(chars, targets)[0]
    for position in range(len(TEXT)):
        word = words[len([s for s in starts if s <= position]) - 1]
        readings = earlier_readings(TEXT, position, word, np.ones(position + 1))
        assert (readings.distance if readings else 0) == distances[position], position


def test_rows_longer_than_the_position_signed_rows_and_zero_rows():
    position = TEXT.index(" grammar and") + 1
    row = np.zeros(len(TEXT))
    row[TEXT.index(" grammar") + 1] = -3.0  # a signed attribution: its magnitude, as the colours show
    row[position] = 1.0
    row[position + 1:] = 100.0  # past the selected character: not part of its row
    assert earlier_readings(TEXT, position, "grammar", row).share == pytest.approx(0.75)
    zero = earlier_readings(TEXT, position, "grammar", np.zeros(position + 1))
    assert zero.share == 0.0 and ": 0.0% of this row" in zero.describe()
    with pytest.raises(ValueError, match="outside the text"):
        earlier_readings(TEXT, len(TEXT), "grammar", row)


@pytest.mark.parametrize("share, shown", [(0.23, "23%"), (0.087, "8.7%"), (0.0004, "under 0.1%"), (0.0, "0.0%"),
                                          (0.0996, "10.0%"), (0.996, "100%")])
def test_percentages_keep_small_shares_readable(share, shown):
    from rnnmem.recall import _percent

    assert _percent(share) == shown
