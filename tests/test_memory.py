"""The memory measure: context share, d50 and d90 on hand-made rows, on models whose memory is known by
construction, through memory_profile, the CLI, and on the article's published walkthrough data."""

import json

import numpy as np
import pytest
import torch

from rnnmem.cli import main as cli_main
from rnnmem.errors import InputError
from rnnmem.memory import distance_profile, measures_of_matrix, memory_profile, row_measures, summarise, word_starts
from rnnmem.model import AutocompleteRNN, ModelConfig

# ---- hand-made rows ----------------------------------------------------------------------------------


def test_word_starts_point_at_each_words_leading_space():
    assert word_starts(" ab cd").tolist() == [0, 0, 0, 3, 3, 3]
    assert word_starts(" a ").tolist() == [0, 0, 2]  # a trailing space starts the next word


def test_row_measures_on_hand_made_rows():
    text = " ab cd"  # positions 0..5; the word " cd" starts at 3
    M = np.zeros((6, 6))
    M[5] = [1, 0, 0, 0, 0, 1]  # half the mass on the text's first space, half on the current character
    M[4] = [0, 0, 0, 0, 3, 0]  # everything on the current character
    M[3] = [0, 1, 1, 2, 0, 0]  # at the word's own space: half before it (positions 1, 2), half on it
    m = row_measures(M, word_starts(text))
    assert m["context_share"][5] == pytest.approx(0.5)
    assert m["d50"][5] == 0 and m["d90"][5] == 5  # 50% is at t itself; 90% needs reaching back to 0
    assert m["context_share"][4] == 0 and m["d50"][4] == 0 and m["d90"][4] == 0
    assert m["context_share"][3] == pytest.approx(0.5)
    assert m["d50"][3] == 0  # the space alone holds exactly half
    assert m["d90"][3] == 2  # positions 1..3 hold 100%, 2..3 only 75%
    assert np.isnan(m["d90"][0]) and np.isnan(m["context_share"][1])  # rows with no mass say nothing


def test_row_measures_geometric_row():
    """A row decaying by half per character back: 90% of the mass needs d with 1 - 2^-(d+1) >= 0.9."""
    T = 30
    M = np.zeros((T, T))
    M[T - 1, :] = 0.5 ** np.arange(T)[::-1]
    text = " " + "a" * (T - 1)  # one word: no context
    m = row_measures(M, word_starts(text))
    assert m["d50"][T - 1] == 0 and m["d90"][T - 1] == 3 and m["context_share"][T - 1] == 0


def test_entries_after_the_diagonal_are_ignored():
    M = np.triu(np.ones((4, 4)), 1) * 100 + np.eye(4)
    m = row_measures(M, word_starts(" abc"))
    assert m["d90"].tolist() == [0, 0, 0, 0]


def test_distance_profile_normalises_each_row():
    M = np.array([[2.0, 0, 0], [1, 1, 0], [0, 0, 5]])
    sums, counts = distance_profile(M)
    assert counts.tolist() == [3, 2, 1]
    assert sums.tolist() == pytest.approx([1 + 0.5 + 1, 0.5 + 0, 0])


def test_summarise_resamples_whole_sequences():
    values = {"d90": np.array([1.0, 1.0, 5.0, 5.0, np.nan])}
    out = summarise(values, np.array([0, 0, 1, 1, 1]), seed=0)["d90"]
    assert out["mean"] == pytest.approx(3.0)  # NaN rows left out
    assert 1.0 <= out["low"] < out["mean"] < out["high"] <= 5.0
    single = summarise(values, np.zeros(5, dtype=int))["d90"]
    assert single["low"] == single["mean"] == single["high"]


# ---- models with known memory ------------------------------------------------------------------------

WORDS = ["<eos>", "<unknown>", "the", "cat", "sat", "on", "a", "mat"]
TEXT = " the cat sat on the mat the cat sat on a mat"


def _vanilla_rnn(forget_at_spaces: bool) -> AutocompleteRNN:
    """A one-layer tanh RNN whose memory is set by hand.

    forget_at_spaces: the space's embedding drives every unit deep into tanh's flat tail, so nothing
    before a space (nor the space) reaches later outputs: the output depends only on the current word's
    letters. Otherwise the recurrence is a near-identity in the linear regime (small inputs, W_hh = 0.99 I):
    every earlier character keeps reaching the output, so the model remembers far back."""
    torch.manual_seed(0)
    H = 8
    model = AutocompleteRNN(ModelConfig(unit="rnn", hidden_size=H, num_layers=1, embedding_size=H, words=WORDS,
                                        max_seq_len=200)).eval()
    rnn = model.recurrent
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.eye(H))
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
        model.embedding.weight.mul_(0.01)
        if forget_at_spaces:
            rnn.weight_hh_l0.copy_(0.5 * torch.eye(H))
            model.embedding.weight[1] = 60.0  # char id 1 is the space
        else:
            rnn.weight_hh_l0.copy_(0.99 * torch.eye(H))
    return model


def test_a_model_that_sees_only_the_current_word_has_no_context():
    profile = memory_profile(_vanilla_rnn(forget_at_spaces=True), TEXT, positions=len(TEXT), seed=0)
    share = profile.per_position["context_share"]
    assert np.nanmax(share) == 0.0
    starts = word_starts(TEXT)
    letters_seen = np.arange(len(TEXT)) - starts
    d90 = profile.per_position["d90"]
    ok = ~np.isnan(d90)
    assert ok.sum() > len(TEXT) // 2
    assert np.all(d90[ok] <= letters_seen[ok] - 1)  # never back to the word's own space


def test_a_model_with_long_memory_reaches_far_back():
    long_memory = memory_profile(_vanilla_rnn(forget_at_spaces=False), TEXT, positions=len(TEXT), seed=0)
    short = memory_profile(_vanilla_rnn(forget_at_spaces=True), TEXT, positions=len(TEXT), seed=0)
    assert long_memory.means["context_share"]["mean"] > 0.6
    assert long_memory.means["d90"]["mean"] > 10 * max(short.means["d90"]["mean"], 0.5)
    # at the last character, 90% of the mass needs most of the text
    assert long_memory.per_position["d90"][-1] > 0.7 * len(TEXT)
    assert long_memory.distance_mass[0] < 0.2  # spread out, not concentrated on the current character


def test_memory_profile_samples_whole_sequences_by_seed(tiny_models):
    model = tiny_models["gru"]  # max_seq_len 40: the text is cut into several sequences
    text = " ".join(["the cat sat on a mat and the dog ran to big red house"] * 6)
    a = memory_profile(model, text, positions=100, seed=1)
    b = memory_profile(model, text, positions=100, seed=1)
    c = memory_profile(model, text, positions=100, seed=2)
    assert 100 - len(" house") < a.positions <= 100 and a.sequences >= 3  # the last one cut before a word
    words = set(text.split())
    assert all(set(sample.split()) <= words for sample in a.texts)
    assert np.array_equal(a.per_position["d90"], b.per_position["d90"], equal_nan=True)
    assert not np.array_equal(a.per_position["d90"], c.per_position["d90"], equal_nan=True)
    for name in ("context_share", "d50", "d90"):
        m = a.means[name]
        assert m["low"] <= m["mean"] <= m["high"]


def test_memory_profile_is_part_of_the_public_api():
    import rnnmem

    assert rnnmem.memory_profile is memory_profile


def test_memory_profile_rejects_bad_input(tiny_models):
    with pytest.raises(InputError):
        memory_profile(tiny_models["gru"], "?!", positions=10)
    with pytest.raises(InputError):
        memory_profile(tiny_models["gru"], "the cat", positions=0)


def test_memory_cli_json(tmp_path, capsys):
    directory = _vanilla_rnn(forget_at_spaces=True).save(tmp_path / "model")
    text_file = tmp_path / "text.txt"
    text_file.write_text(TEXT)
    assert cli_main(["memory", str(directory), "--text-file", str(text_file), "--positions", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 15 <= report["positions"] <= 20 and report["context_share"]["mean"] == 0.0  # ends before a word
    assert cli_main(["memory", str(directory), "--text-file", str(text_file), "--positions", "0"]) == 2
    assert "error:" in capsys.readouterr().err


# ---- the article's published data -----------------------------------------------------------------------

def test_article_walkthrough_measures():
    """The article's own models, from their published connectivity: the reference figures (GRU .41 · 31.6,
    LSTM .39 · 15.3, Nested LSTM .14 · 2.6) that the shipped models are compared with."""
    from rnnmem.walkthrough import article_walkthrough

    expected = {"gru": (0.409, 31.64), "lstm": (0.392, 15.30), "nlstm": (0.139, 2.60)}
    for unit, (share, d90) in expected.items():
        data = article_walkthrough(unit)
        m = measures_of_matrix(data.connectivity, data.text)
        assert m["context_share"] == pytest.approx(share, abs=0.001)
        assert m["d90"] == pytest.approx(d90, abs=0.01)


def test_a_one_character_sequence_is_skipped_not_the_end_of_the_sample(monkeypatch):
    """A lone space drawn first must not end the sample: the sequences after it are still taken."""
    import rnnmem.memory as memory

    monkeypatch.setattr(memory, "_sequences_of", lambda model, texts: [(None, None, " "), (None, None, " the cat sat")])
    for seed in range(8):  # the lone space comes first for some seeds
        assert memory.sample_texts(None, ["unused"], positions=100, seed=seed) == [" the cat sat"]


def test_the_sample_ends_at_its_cut_sequence_not_in_openings_of_further_ones(monkeypatch):
    """Filling up from the openings of further sequences gave clusters of a word or two with no context,
    and a bootstrap interval down to zero whenever a resample drew only them: the sample ends at the cut.
    In the order A, B, C, 30 positions once took A, " ab" (B cut) and " xy" (C's opening)."""
    import rnnmem.memory as memory

    whole = [" alpha beta gamma delta", " ab cdefghijk", " xy zz"]  # 23, 13 and 6 characters
    monkeypatch.setattr(memory, "_sequences_of", lambda model, texts: [(None, None, text) for text in whole])
    orders = set()
    for seed in range(40):
        sample = memory.sample_texts(None, ["unused"], positions=30, seed=seed)
        cut = [text for text in sample if text not in whole]
        assert len(cut) <= 1 and sample[:len(sample) - len(cut)] == [t for t in sample if t in whole]
        assert all(any(full.startswith(text + " ") for full in whole) for text in cut)  # cut before a word
        assert sum(map(len, sample)) <= 30
        orders.add(tuple(sample))
    assert (whole[0], " ab") in orders  # the order A, B, C was drawn, and ended at B's cut


def test_a_first_sequence_whose_first_word_does_not_fit_is_passed_over(monkeypatch):
    """The sample stops at a cut only once it holds something: a sequence drawn first whose first word
    alone passes the positions asked for is left out and the next one taken, whatever the seed."""
    import rnnmem.memory as memory

    monkeypatch.setattr(memory, "_sequences_of",
                        lambda model, texts: [(None, None, " international affairs"), (None, None, " a cat sat on the mat")])
    for seed in range(8):
        assert memory.sample_texts(None, ["unused"], positions=10, seed=seed) == [" a cat sat"]


def test_the_last_sequence_is_cut_before_a_word_never_inside_one(monkeypatch):
    """A cut word would be explained as its first letters (" the in" for " the international"), so the
    sample stops before the first word that does not fit, and leaves out a sequence of no whole word."""
    import rnnmem.memory as memory

    monkeypatch.setattr(memory, "_sequences_of", lambda model, texts: [(None, None, " the international committee")])
    assert memory.sample_texts(None, ["unused"], positions=7) == [" the international committee"[:4]]
    assert memory.sample_texts(None, ["unused"], positions=18) == [" the international"]
    assert memory.sample_texts(None, ["unused"], positions=17) == [" the"]
    assert memory.sample_texts(None, ["unused"], positions=3) == []  # " th" would be the only choice
    with pytest.raises(InputError, match="seed must be a whole number of at least 0"):
        memory.sample_texts(None, ["unused"], seed=-1)
