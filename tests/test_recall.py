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


# ---- recall against its control, over sequences ---------------------------------------------------------

SEQUENCE_TEXT = " the grammar of the sense and the grammar of sense"


def sequence(text: str = SEQUENCE_TEXT) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(chars, targets) of one sequence, word ids in order of first appearance (all beyond ``frequent=0``)."""
    words = text.split()
    ids = {word: index + 2 for index, word in enumerate(dict.fromkeys(words))}
    chars = encode_chars(text).astype(np.int64)
    targets = np.zeros(len(text), dtype=np.int64)
    starts = [i for i, c in enumerate(text) if c == " "]
    for start, end, word in zip(starts, [*starts[1:], len(text)], words):
        targets[start:end] = ids[word]
    return chars, targets, ids


def test_moments_are_first_letters_of_words_read_before_or_new():
    from rnnmem.recall import earlier_letters, moments

    chars, targets, _ = sequence()
    recall, control = moments(chars, targets, frequent=0)
    t = SEQUENCE_TEXT
    repeats = [t.index(" the", 1), t.index(" the grammar", 5), t.index(" grammar", 20), t.index(" of", 20),
               t.rindex(" sense")]
    assert recall.tolist() == sorted(start + 1 for start in repeats)
    assert control.tolist() == [t.index(w) + 1 for w in (" the", " grammar", " of", " sense", " and")]
    assert moments(chars, targets, frequent=3)[0].tolist() == [t.rindex(" sense") + 1]  # "the", "grammar", "of": frequent
    grammar = t.index(" grammar", 20) + 1
    assert earlier_letters(chars, targets, grammar).tolist() == list(range(t.index(" grammar") + 1, 12))
    last = len(t) - 1  # the last letter of the second "sense"
    assert earlier_letters(chars, targets, last).tolist() == list(range(t.index(" sense") + 1, t.index(" sense") + 6))


def test_recall_profile_on_hand_made_rows_against_its_control():
    """Control rows spread evenly over the characters read; recall rows put half their mass on the earlier
    readings' letters: share .5 each, expected the control profile summed over those letters' distances."""
    from rnnmem.recall import earlier_letters, moments, recall_profile

    chars, targets, _ = sequence()

    def rows(chars_, positions, ys):
        assert (ys == targets[positions]).all()
        out = np.zeros((len(positions), len(chars_)))
        for row, position in zip(out, positions):
            letters = earlier_letters(chars_, targets, position)
            if len(letters):
                row[letters] = 0.5 / len(letters)
                row[position] = 0.5
            else:
                row[:position + 1] = 1.0 / (position + 1)
        return out

    profile = recall_profile(None, [(chars, targets)], controls=5, frequent=0, rows=rows)
    recall, control = moments(chars, targets, frequent=0)
    assert profile.moments == len(recall) == 5 and profile.controls == len(control) == 5  # every candidate
    assert profile.per_moment["share"] == pytest.approx(np.full(5, 0.5))
    reach = np.zeros(len(chars))  # the control profile by hand: mean of 1/(t+1) over controls reaching d
    count = np.zeros(len(chars))
    for t in control:
        reach[:t + 1] += 1.0 / (t + 1)
        count[:t + 1] += 1
    expected_profile = np.divide(reach, count, out=np.zeros(len(chars)), where=count > 0)
    assert profile.control_profile == pytest.approx(expected_profile)
    expected = [expected_profile[t - earlier_letters(chars, targets, t)].sum() for t in recall]
    assert profile.per_moment["expected"] == pytest.approx(expected)
    assert profile.means["lift"]["mean"] == pytest.approx(2.5 / sum(expected))
    assert profile.means["share"]["mean"] == pytest.approx(0.5)
    assert profile.per_moment["distance"].tolist() == distance_read_before(chars[None], targets[None])[0][recall].tolist()
    assert sum(band["moments"] for band in profile.by_distance.values()) == 5
    assert list(profile.by_distance) == ["under 50", "50–99", "100+"]
    summary = profile.summary()
    assert summary["by_distance"]["100+"]["lift"]["mean"] is None  # nothing that far back: None, not NaN
    assert summary["moments"] == 5 and summary["lift"]["mean"] == pytest.approx(2.5 / sum(expected))


def test_controls_are_drawn_by_seed_and_a_text_without_recall_is_refused():
    from rnnmem.errors import InputError
    from rnnmem.recall import recall_profile

    chars, targets, _ = sequence()
    even = lambda chars_, positions, ys: np.tile(np.ones(len(chars_)), (len(positions), 1)) * (  # noqa: E731
        np.arange(len(chars_))[None] <= np.asarray(positions)[:, None])
    one = recall_profile(None, [(chars, targets)] * 3, controls=1, frequent=0, rows=even, seed=1)
    assert one.controls == 15 and one.sequences == 3  # one per recall moment: 15 of 15 candidates
    few = [recall_profile(None, [(chars, targets)] * 5, controls=1, frequent=3, rows=even, seed=seed)
           for seed in (0, 0, 1)]
    assert few[0].controls == 5  # one recall moment a sequence ("sense"): five of the ten rarer new words
    assert few[0].control_profile.tolist() == few[1].control_profile.tolist()
    assert few[0].control_profile.tolist() != few[2].control_profile.tolist()
    new_words = sequence(" the grammar of sense")[:2]
    with pytest.raises(InputError, match="nothing to recall"):
        recall_profile(None, [new_words], frequent=0, rows=even)
    with pytest.raises(InputError, match="controls"):
        recall_profile(None, [(chars, targets)], controls=0, rows=even)


def test_a_model_that_forgets_at_spaces_recalls_nothing_and_one_that_remembers_does():
    """Hand-set vanilla RNNs (tests/test_memory.py): one that forgets everything at a space puts no mass on
    an earlier word, one with a near-identity recurrence reaches it."""
    from rnnmem.recall import recall_profile
    from tests.test_memory import TEXT, _vanilla_rnn

    forgets = recall_profile(_vanilla_rnn(forget_at_spaces=True), TEXT, frequent=0)
    assert forgets.moments > 0 and forgets.means["share"]["mean"] == 0 and forgets.means["expected"]["mean"] == 0
    assert forgets.summary()["lift"]["mean"] is None  # 0 / 0: no memory to compare
    remembers = recall_profile(_vanilla_rnn(forget_at_spaces=False), TEXT, frequent=0)
    assert remembers.moments == forgets.moments and remembers.means["share"]["mean"] > 0.05
    assert remembers.means["lift"]["mean"] > 0.5


def test_batched_rows_equal_one_row_at_a_time(tiny_models):
    from rnnmem.attribution import connectivity_of_id, connectivity_of_ids
    from rnnmem.inputs import prepare_text

    for unit, model in tiny_models.items():
        prepared = prepare_text(model, " the cat sat on a mat and the dog ran")
        positions = np.array([3, 17, 9, len(prepared) - 1])
        ys = np.array([2, 5, 3, 7])
        batched = connectivity_of_ids(model, prepared.chars, positions, ys)
        single = np.stack([connectivity_of_id(model, prepared, int(p), int(y)) for p, y in zip(positions, ys)])
        np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-9 * single.max(), err_msg=unit)
        assert (batched[0, 4:] == 0).all()
        assert connectivity_of_ids(model, prepared.chars, np.array([], dtype=int), np.array([])).shape == (0, len(prepared))


def test_recall_cli_on_a_text_file(tmp_path, capsys):
    import json

    from rnnmem.cli import main as cli_main
    from rnnmem.walkthrough import PARAGRAPH

    path = tmp_path / "walkthrough.txt"
    path.write_text(PARAGRAPH)
    assert cli_main(["recall", "lstm", "--text-file", str(path), "--controls", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["moments"] == 1 and report["by_distance"]["100+"]["moments"] == 1  # the second "grammar"
    assert report["unit"] == "lstm" and 0 < report["share"]["mean"] < 1
    assert cli_main(["recall", "lstm", "--text-file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 recall moments" in out and "read under 50 back (0): no moments" in out and "lift" in out
    assert cli_main(["recall", "lstm"]) == 2
    assert "exactly one of --corpus or --text-file" in capsys.readouterr().err


def test_no_lift_where_the_rows_put_next_to_nothing_that_far_back():
    from rnnmem.recall import MIN_EXPECTED, _summaries

    sequence_of = np.array([0, 1, 1])
    far = _summaries(np.array([1e-7, 0.0, 3e-7]), np.full(3, MIN_EXPECTED / 10), sequence_of, seed=0)
    assert np.isnan(far["lift"]["mean"]) and np.isnan(far["lift"]["high"])
    assert far["share"]["mean"] == pytest.approx(4e-7 / 3)  # the shares themselves still stand
    near = _summaries(np.array([0.1, 0.0, 0.2]), np.array([0.05, 0.05, 0.05]), sequence_of, seed=0)
    assert near["lift"]["mean"] == pytest.approx(2.0) and near["lift"]["low"] <= 2.0 <= near["lift"]["high"]
