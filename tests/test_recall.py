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
                                   f"row is on its letters, which are {14 / (position + 1):.0%} of the characters "
                                   "so far.")


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


def decaying_control_rows(targets: np.ndarray):
    """Rows for hand-made profiles: at a recall moment half the mass on the earlier readings' letters and
    half on the output's own character; elsewhere a row halving with every character back (so a control
    profile read at the wrong distances would be another one)."""
    from rnnmem.recall import earlier_letters

    def rows(chars_, positions, ys):
        assert (ys == targets[positions]).all()
        out = np.zeros((len(positions), len(chars_)))
        for row, position in zip(out, positions):
            letters = earlier_letters(chars_, targets, position)
            if len(letters):
                row[letters] = 0.5 / len(letters)
                row[position] = 0.5
            else:
                row[:position + 1] = 0.5 ** (position - np.arange(position + 1))
        return out

    return rows


def test_recall_profile_on_hand_made_rows_against_its_control(monkeypatch):
    """Share .5 at every recall moment; expected: the control profile (the mean share of an earlier rarer
    word's letter d characters back, over the control rows) summed over the recalled letters' distances,
    unknown where no control letter lies that far back; lift over the moments whose expected is known."""
    import rnnmem.recall as recall

    monkeypatch.setattr(recall, "MIN_CONTROL_LETTERS", 1)  # a hand-sized sequence: one control letter will do
    chars, targets, _ = sequence()
    profile = recall.recall_profile(None, [(chars, targets)], controls=5, frequent=0,
                                    rows=decaying_control_rows(targets))
    moments, controls = recall.moments(chars, targets, frequent=0)
    assert profile.moments == len(moments) == 5 and profile.controls == len(controls) == 5  # every candidate
    assert profile.per_moment["share"] == pytest.approx(np.full(5, 0.5))
    t = SEQUENCE_TEXT  # the profile by hand, from the text: letters of earlier (rarer) words, d back
    sums, counts = np.zeros(len(t)), np.zeros(len(t))
    for control in controls:
        row = 0.5 ** (control - np.arange(control + 1))
        row /= row.sum()
        start = t.rindex(" ", 0, control + 1)
        for letter in (i for i in range(start) if t[i] != " "):
            sums[control - letter] += row[letter]
            counts[control - letter] += 1
    by_hand = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    np.testing.assert_allclose(profile.control_profile[0], by_hand, equal_nan=True)  # one position bin (50)
    expected = [by_hand[moment - recall.earlier_letters(chars, targets, moment)].sum() for moment in moments]
    np.testing.assert_allclose(profile.per_moment["expected"], expected, equal_nan=True)
    known = ~np.isnan(expected)
    assert 0 < known.sum() < 5  # some recalled letters lie further back than any control letter
    assert profile.means["lift"]["mean"] == pytest.approx(0.5 * known.sum() / np.nansum(expected))
    assert profile.means["expected"]["mean"] == pytest.approx(np.nanmean(expected))
    assert profile.means["share"]["mean"] == pytest.approx(0.5) and profile.means["sequences"] == 1
    assert profile.per_moment["distance"].tolist() == distance_read_before(chars[None], targets[None])[0][moments].tolist()
    assert [band["moments"] for band in profile.by_distance.values()] == [5, 0, 0]
    assert list(profile.by_distance) == ["under 50", "50–99", "100+"]
    summary = profile.summary()
    assert summary["by_distance"]["100+"]["lift"]["mean"] is None  # nothing that far back: None, not NaN
    assert summary["moments"] == 5 and summary["lift"]["mean"] == pytest.approx(profile.means["lift"]["mean"])


def test_the_control_profile_is_matched_on_position_where_it_can_be():
    from rnnmem.recall import MIN_CONTROL_LETTERS, control_profile

    sums, counts = np.zeros((2, 3)), np.zeros((2, 3))
    sums[0], counts[0] = [1.0, 2.0, 0.0], [MIN_CONTROL_LETTERS, MIN_CONTROL_LETTERS, 1]
    sums[1], counts[1] = [4.0, 0.3, 0.5], [MIN_CONTROL_LETTERS, 1, 1]
    profile = control_profile(sums, counts)
    m = MIN_CONTROL_LETTERS
    assert profile[0, :2].tolist() == pytest.approx([1 / m, 2 / m]) and profile[1, 0] == pytest.approx(4 / m)
    assert profile[1, 1] == pytest.approx(2.3 / (m + 1))  # too few in its own bin: over all bins
    assert np.isnan(profile[:, 2]).all()  # too few anywhere: nothing to compare with


def test_controls_are_drawn_by_seed_and_a_text_without_recall_is_refused(monkeypatch):
    import rnnmem.recall
    from rnnmem.errors import InputError
    from rnnmem.recall import recall_profile

    monkeypatch.setattr(rnnmem.recall, "MIN_CONTROL_LETTERS", 1)

    chars, targets, _ = sequence()
    rows = decaying_control_rows(targets)
    one = recall_profile(None, [(chars, targets)] * 3, controls=1, frequent=0, rows=rows, seed=1)
    assert one.controls == 15 and one.sequences == 3  # one per recall moment: 15 of 15 candidates
    assert one.means["lift"]["low"] <= one.means["lift"]["mean"] <= one.means["lift"]["high"]
    asked = {}  # seed -> the positions whose rows were asked for, sequence by sequence

    def recording(seed):
        asked[seed] = []
        return lambda chars_, positions, ys: asked[seed].append(positions.tolist()) or rows(chars_, positions, ys)

    few = {seed: recall_profile(None, [(chars, targets)] * 5, controls=1, frequent=3, rows=recording(seed), seed=seed)
           for seed in (0, 1, 2)}
    assert few[0].controls == 5  # one recall moment a sequence ("sense"): five of the ten rarer new words
    assert sum(len(positions) for positions in asked[0]) == 10
    again = recall_profile(None, [(chars, targets)] * 5, controls=1, frequent=3, rows=recording("again"), seed=0)
    assert asked["again"] == asked[0] and again.summary() == few[0].summary()  # the same seed: the same draw, figures
    assert asked[1] != asked[0] or asked[2] != asked[0]
    new_words = sequence(" the grammar of sense")[:2]
    with pytest.raises(InputError, match="nothing to recall"):
        recall_profile(None, [new_words], frequent=0, rows=rows)
    with pytest.raises(InputError, match="controls"):
        recall_profile(None, [(chars, targets)], controls=0, rows=rows)


def test_no_lift_where_the_rows_put_next_to_nothing_that_far_back(monkeypatch):
    import rnnmem.recall as recall

    monkeypatch.setattr(recall, "MIN_CONTROL_LETTERS", 1)
    chars, targets, _ = sequence()

    def far_rows(chars_, positions, ys):  # almost everything on the output's own character
        out = np.full((len(positions), len(chars_)), 1e-9)
        out[np.arange(len(positions)), positions] = 1.0
        return out * (np.arange(len(chars_))[None] <= np.asarray(positions)[:, None])

    profile = recall.recall_profile(None, [(chars, targets)], controls=5, frequent=0, rows=far_rows)
    assert 0 < profile.means["share"]["mean"] < 1e-6 and 0 < profile.means["expected"]["mean"] < recall.MIN_EXPECTED
    assert np.isnan(profile.means["lift"]["mean"]) and profile.summary()["lift"]["low"] is None


def test_a_model_that_forgets_at_spaces_recalls_nothing_and_one_that_remembers_does(monkeypatch):
    """Hand-set vanilla RNNs (tests/test_memory.py): one that forgets everything at a space puts no mass on
    an earlier word, one with a near-identity recurrence reaches it."""
    import rnnmem.recall as recall
    from tests.test_memory import TEXT, _vanilla_rnn

    monkeypatch.setattr(recall, "MIN_CONTROL_LETTERS", 1)
    forgets = recall.recall_profile(_vanilla_rnn(forget_at_spaces=True), TEXT, frequent=0)
    assert forgets.moments > 0 and forgets.means["share"]["mean"] == 0 and forgets.means["expected"]["mean"] == 0
    assert forgets.summary()["lift"]["mean"] is None  # 0 / 0: no memory to compare
    remembers = recall.recall_profile(_vanilla_rnn(forget_at_spaces=False), TEXT, frequent=0)
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
    assert cli_main(["recall", "lstm", "--text-file", str(path), "--max-chars", "150"]) == 2  # before "grammar" again
    assert "nothing to recall" in capsys.readouterr().err


def test_a_recall_sample_takes_whole_sequences_in_the_seeds_order_to_its_size():
    from rnnmem.recall import recall_sample

    texts = [f" text number {i} " + "x" * i for i in range(40)]
    sample = recall_sample(texts, 300, seed=3)
    assert sample == recall_sample(texts, 300, seed=3) and sample != recall_sample(texts, 300, seed=4)
    assert sum(map(len, sample[:-1])) < 300 <= sum(map(len, sample))  # stops at the first to reach the size
    assert all(text in texts for text in sample) and len(set(sample)) == len(sample)
    assert sorted(recall_sample(texts, 10**6)) == sorted(texts)  # a small split: all of it


def test_recall_cli_reads_a_corpus_split(tmp_path, capsys, toy_corpus, tiny_models):
    """The corpus path (the split as the model was trained on, the first --max-chars characters): the toy
    corpus's thirteen words are all among the 100 most frequent, so nothing is rarer: nothing to recall."""
    from rnnmem.cli import main as cli_main

    model_dir = tmp_path / "tiny-gru"
    tiny_models["gru"].save(model_dir)
    assert cli_main(["recall", str(model_dir), "--corpus", str(toy_corpus), "--split", "valid",
                     "--max-chars", "3000"]) == 2
    assert "nothing to recall" in capsys.readouterr().err
