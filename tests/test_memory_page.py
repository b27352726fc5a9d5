"""The Memory page's library side: distance in words, the profile's bands, profiles of hand-built models whose
memory is known, accuracy breakdowns (frequency, length, repetition, distance), the tables and their exports, the CLI's
``memory --csv``, the corpus setting, and the page itself (AppTest)."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from rnnmem.accuracy import AccuracyAccumulator, accumulate_accuracy, accuracy_by_chars_seen
from rnnmem.breakdowns import (accuracy_by_band, distance_bands, distance_read_before, frequency_bands, length_bands,
                               repeated_words, repetition_bands)
from rnnmem.cli import main as cli_main
from rnnmem.errors import SettingsError
from rnnmem.memory import cluster_band, memory_profile, profile_of_matrices, word_distance_profile, word_index
from rnnmem.memory_tables import (SUMMARY_COLUMNS, article_profile, csv_bytes, download_name, export_frame,
                                  json_bytes, matrix_frame, profile_frame, read_csv, row_shares, summary_frame,
                                  summary_table)
from rnnmem.model import AutocompleteRNN, ModelConfig
from rnnmem.settings import parse_settings
from tests.test_app import app, models_toml, texts, unescape  # noqa: F401 (fixtures)
from tests.test_memory import TEXT, WORDS, _vanilla_rnn

# ---- distance in words -------------------------------------------------------------------------------------


def test_word_index_counts_words_from_their_leading_space():
    assert word_index(" ab cd").tolist() == [0, 0, 0, 1, 1, 1]  # the space belongs to the word it starts
    assert word_index(" ab ").tolist() == [0, 0, 0, 1]  # a trailing space starts a new word
    assert word_index("ab cd").tolist() == [0, 0, 1, 1, 1]  # no leading space: the first word is still 0


def test_word_distance_profile_on_a_hand_made_matrix():
    text = " ab cd"  # words: 0 at positions 0-2, 1 at 3-5
    M = np.zeros((6, 6))
    M[5] = [1, 1, 0, 0, 0, 2]  # half on the word before, half on the current word
    M[1] = [0, 3, 0, 0, 0, 0]
    sums, counts = word_distance_profile(M, text)
    assert sums.tolist() == pytest.approx([0.5 + 1.0, 0.5])
    assert counts.tolist() == [2, 1]  # two rows have mass; only row 5 has a word one back


def test_cluster_band_resamples_whole_clusters():
    sums, counts = np.array([[2.0, 1.0], [6.0, 0.0]]), np.array([[2.0, 1.0], [2.0, 0.0]])
    mean, low, high = cluster_band(sums, counts, rng=np.random.default_rng(0))
    assert mean.tolist() == [2.0, 1.0]  # (2+6)/(2+2); distance 1 only from the first cluster
    assert low[0] == pytest.approx(1.0) and high[0] == pytest.approx(3.0)  # all-first or all-second
    assert low[1] == high[1] == 1.0  # resamples without the first cluster count nothing there
    one = cluster_band(sums[:1], counts[:1], rng=np.random.default_rng(0))
    assert [a.tolist() for a in one] == [[1.0, 1.0]] * 3


# ---- hand-built models with known memory ---------------------------------------------------------------------


def _delay_line(delay: int) -> AutocompleteRNN:
    """A tanh RNN wired as a shift register: unit 0 takes the current character, unit i copies unit i−1 one
    step later, and the output reads unit ``delay`` alone, so the prediction at t depends on the character
    at t − delay and on nothing else."""
    torch.manual_seed(0)
    H = delay + 1
    model = AutocompleteRNN(ModelConfig(unit="rnn", hidden_size=H, num_layers=1, embedding_size=4, words=WORDS,
                                        max_seq_len=200)).eval()
    rnn = model.recurrent
    with torch.no_grad():
        model.embedding.weight.mul_(0.3)
        rnn.weight_ih_l0.zero_()
        rnn.weight_ih_l0[0] = 1.0
        rnn.weight_hh_l0.copy_(torch.diag(torch.ones(H - 1), -1))  # h_t[i] = tanh(h_{t-1}[i-1])
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
        model.output.weight.zero_()
        model.output.weight[:, delay] = torch.linspace(1, 2, len(WORDS))
    return model


def test_a_model_that_copies_a_character_from_far_back_puts_all_its_mass_there():
    delay = 7
    profile = memory_profile(_delay_line(delay), TEXT, positions=len(TEXT), seed=0)
    curve = profile.curves["chars"]
    assert curve["mean"][delay] == pytest.approx(1.0)
    others = np.delete(curve["mean"][:len(TEXT)], delay)
    assert np.nanmax(others) == pytest.approx(0.0, abs=1e-9)
    assert curve["rows"][delay] == len(TEXT) - delay  # rows before t = delay have no mass: left out
    assert profile.means["d50"]["mean"] == delay and profile.means["d90"]["mean"] == delay


def test_a_model_that_sees_only_the_current_word_has_its_profile_at_word_distance_zero():
    profile = memory_profile(_vanilla_rnn(forget_at_spaces=True), TEXT, positions=len(TEXT), seed=0)
    words = profile.curves["words"]
    assert words["mean"][0] == pytest.approx(1.0)
    assert np.nanmax(words["mean"][1:]) == pytest.approx(0.0, abs=1e-12)
    assert profile.means["context_share"]["mean"] == 0.0
    far = memory_profile(_vanilla_rnn(forget_at_spaces=False), TEXT, positions=len(TEXT), seed=0)
    assert far.curves["words"]["mean"][1] > 0.1  # the long-memory model reaches into earlier words


def test_a_profile_keeps_its_sample_and_bands_over_sequences(tiny_models):
    text = " ".join(["the cat sat on a mat and the dog ran to big red house"] * 6)
    profile = memory_profile(tiny_models["gru"], text, positions=150, seed=3)
    assert sum(len(t) for t in profile.texts) == profile.positions and len(profile.texts) == profile.sequences
    assert 150 - len(" house") < profile.positions <= 150  # the last sequence ends before a word
    for scale in ("chars", "words"):
        curve = profile.curves[scale]
        reached = curve["rows"] > 0
        assert np.all(curve["low"][reached] <= curve["mean"][reached] + 1e-12)
        assert np.all(curve["mean"][reached] <= curve["high"][reached] + 1e-12)
        assert curve["mean"][0] > 0
    assert profile.curves["chars"]["rows"][0] == profile.positions


def test_the_article_reference_profile_matches_its_published_figures():
    gru = article_profile("gru")
    assert gru.sequences == 1 and gru.means["d90"]["mean"] == pytest.approx(31.64, abs=0.01)
    assert gru.curves["chars"]["mean"][0] > 0 and gru.curves["words"]["rows"][0] == gru.positions


# ---- breakdowns -------------------------------------------------------------------------------------------------


def test_frequency_and_length_bands_of_a_tiny_vocabulary():
    words = ["<eos>", "<unknown>"] + [f"w{i}" for i in range(1200)]
    bands, labels = frequency_bands(words)
    assert labels == ["top 100", "101–1,000", "1,001–1,200"]
    assert bands[:2].tolist() == [-1, -1] and bands[2] == 0 and bands[101] == 0 and bands[102] == 1
    assert bands[1001] == 1 and bands[1002] == 2
    bands, labels = length_bands(["<eos>", "<unknown>", "a", "of", "the", "grammar", "extraordinary"])
    assert labels == ["1–2 letters", "3–4 letters", "5–6 letters", "7–9 letters", "10+ letters"]
    assert bands.tolist() == [-1, -1, 0, 0, 1, 3, 4]


def test_the_accumulator_counts_hits_per_group():
    chars = np.array([[1, 2, 3, 1, 2]])  # " ab a": chars seen 0 1 2 0 1
    targets = np.array([[2, 2, 2, 3, 1]])  # word 2, word 3, then an out-of-vocabulary word
    logits = torch.zeros((1, 5, 4))
    logits[0, :, 2] = 1.0  # word 2 always first
    acc = AccuracyAccumulator(groups=np.array([0, 0, 0, 1]), n_groups=2)
    acc.add(logits, chars, targets)
    assert acc.result(0).counts == [1, 1, 1] and acc.result(0).top1 == [1.0, 1.0, 1.0]
    assert acc.result(1).counts == [1] and acc.result(1).top1 == [0.0] and acc.result(1).top2 == [1.0]
    assert acc.unknown == 1 and acc.result().counts == [2, 1, 1]


def test_repetition_bands_by_hand():
    """Words 5, 7, 5, 9, 7, 3 of two letters each: the second 5 and the second 7 were read before in their
    sequence; a second row starts inside a word (no leading space: new) and ends in padding; word 3 is
    among the frequent ones."""
    def row(words):
        chars, targets = [], []
        for word in words:
            chars += [1, 4, 4]
            targets += [word] * 3
        return chars, targets

    chars, targets = row([5, 7, 5, 9, 7, 3])
    second_chars = [4, 4] + row([5, 5])[0] + [0] * 10  # "xx" then " ab ab", padded (target <eos>)
    second_targets = [5, 5] + row([5, 5])[1] + [0] * 10
    batch_chars, batch_targets = np.array([chars, second_chars]), np.array([targets, second_targets])
    assert repeated_words(batch_chars, batch_targets)[0].tolist() == [0] * 6 + [1] * 3 + [0] * 3 + [1] * 3 + [0] * 3
    # the row's first two characters belong to no word read here; its first whole 5 is new, the second not;
    # the padding is no word
    assert repeated_words(batch_chars, batch_targets)[1].tolist() == [0, 0, 0, 0, 0, 1, 1, 1] + [0] * 10
    bands, labels = repetition_bands(frequent=3)  # ids 2, 3 and 4 are the frequent words
    assert labels == ["top 3", "rarer, new in its sequence", "rarer, already read in its sequence"]
    assert bands(batch_chars, batch_targets)[0].tolist() == [1] * 6 + [2] * 3 + [1] * 3 + [2] * 3 + [0] * 3


def test_distance_bands_by_hand():
    """Words 5, 7, 5, 9, 5, 3 of two letters each (three characters with the leading space): the second 5
    was last read 6 characters back, the third 3·2 = 6 after the second (the latest occurrence counts, not
    the first); with edges (5, 7) they fall in the band starting at 5, and a 5 repeated 60 characters on
    (19 words of a frequent id between) in the band from 7 on."""
    def row(words):
        return [c for _ in words for c in (1, 4, 4)], [w for w in words for _ in range(3)]

    chars, targets = row([5, 7, 5, 9, 5, 3])
    assert distance_read_before(np.array([chars]), np.array([targets]))[0].tolist() == \
        [0] * 6 + [6] * 3 + [0] * 3 + [6] * 3 + [0] * 3
    far_chars, far_targets = row([5] + [3] * 19 + [5])
    distances = distance_read_before(np.array([far_chars]), np.array([far_targets]))[0]
    assert distances[-3:].tolist() == [60] * 3 and distances[:3].tolist() == [0] * 3
    # a frequent word repeated has a distance (id 3 again: 3 characters back) but stays in the frequent band
    assert distances[6:9].tolist() == [3] * 3
    bands, labels = distance_bands(frequent=3, edges=(5, 7))  # ids 2, 3 and 4 frequent
    assert labels == ["top 3", "rarer, new in its sequence", "rarer, read under 5 characters back",
                      "rarer, read 5–6 characters back", "rarer, read 7+ characters back"]
    assert bands(np.array([chars]), np.array([targets]))[0].tolist() == [1] * 6 + [3] * 3 + [1] * 3 + [3] * 3 + [0] * 3
    assert bands(np.array([far_chars]), np.array([far_targets]))[0].tolist() == [1] * 3 + [0] * 57 + [4] * 3
    # the repetition breakdown's repeated band is the distance breakdown's bands from 2 on, position by position
    repeated_band = repetition_bands(frequent=3)[0](np.array([chars]), np.array([targets]))[0] == 2
    assert np.array_equal(repeated_band, bands(np.array([chars]), np.array([targets]))[0] >= 2)
    # a distance equal to an edge starts that edge's band: 6 back with edges (6, 9) is "6–8", 9 back is "9+"
    at_edges, _ = distance_bands(frequent=3, edges=(6, 9))
    chars, targets = row([5, 7, 5, 8, 9, 8])  # 5 again 6 back; 8 again 6 back
    assert at_edges(np.array([chars]), np.array([targets]))[0].tolist() == [1] * 6 + [3] * 3 + [1] * 6 + [3] * 3
    chars, targets = row([5, 7, 6, 5])  # 5 again 9 back
    assert at_edges(np.array([chars]), np.array([targets]))[0].tolist() == [1] * 9 + [4] * 3
    chars, targets = row([5, 6, 6])  # 6 again 3 back: under the first edge
    assert at_edges(np.array([chars]), np.array([targets]))[0].tolist() == [1] * 6 + [2] * 3


def test_accuracy_by_band_splits_the_overall_accuracy(tiny_models):
    model = tiny_models["gru"]
    text = "the cat sat on a mat and the dog ran to the big red house " * 3
    total = accuracy_by_chars_seen(model, text)
    for by in ("frequency", "length", "repetition", "distance"):
        bands = accuracy_by_band(model, text, by)
        counts = np.zeros(len(total.counts), dtype=int)
        correct = np.zeros(len(total.counts), dtype=int)
        for result in bands.results:
            counts[:len(result.counts)] += np.asarray(result.counts, dtype=int)
            correct[:len(result.counts)] += np.asarray(result.correct["top1"], dtype=int)
        assert counts.tolist() == total.counts and correct.tolist() == total.correct["top1"]
    repetition = accuracy_by_band(model, text, "repetition")  # 20 toy words: all of them frequent
    assert repetition.labels[0] == "top 13" and repetition.results[0].counts == total.counts


def test_the_accumulator_counts_by_position_as_by_word(tiny_models):
    """Groups given by position go through the same counting as groups by word: the word table applied by
    position gives the same results; the repetition bands of a text that repeats rarer words count by hand."""
    from rnnmem.inputs import text_sequences

    model = tiny_models["lstm"]
    text = " ".join(model.words[2:8] + model.words[5:8])  # ids 2 to 7, then 5 to 7 again: one sequence
    sequences = text_sequences(model, text)
    assert len(sequences) == 1
    table = np.arange(len(model.words)) % 3
    by_word = accumulate_accuracy(model, sequences, groups=table, n_groups=3)
    by_position = accumulate_accuracy(model, sequences, groups=lambda chars, targets: table[targets], n_groups=3)
    for group in range(3):
        results = [found.result(group).as_dict() | {"cross_entropy": None} for found in (by_word, by_position)]
        assert results[0] == results[1]  # (a group's cross-entropy is NaN, never equal to itself)
    bands, labels = repetition_bands(frequent=3)  # ids 2 to 4 frequent; 5 to 7 rarer, and they come back
    repeated = accumulate_accuracy(model, sequences, groups=bands, n_groups=3)
    positions = {word: len(model.words[word]) + 1 for word in range(2, 8)}  # its leading space and letters
    assert sum(repeated.result(0).counts) == sum(positions[w] for w in range(2, 5))
    assert sum(repeated.result(1).counts) == sum(positions[w] for w in range(5, 8))
    assert sum(repeated.result(2).counts) == sum(positions[w] for w in range(5, 8))
    with pytest.raises(ValueError, match="a group outside"):
        accumulate_accuracy(model, sequences, groups=lambda chars, targets: np.full(targets.shape, 3), n_groups=3)


# ---- tables, exports, CLI ------------------------------------------------------------------------------------


def test_exports_parse_back_to_the_tables_the_page_draws():
    series = [("gru", "article (published)", article_profile("gru")), ("lstm", "article (published)",
                                                                        article_profile("lstm"))]
    frame = profile_frame(series, "words", max_distance=10)
    assert frame["distance"].max() == 10 and set(frame["unit"]) == {"GRU", "LSTM"}
    back = read_csv(csv_bytes(frame))
    assert back.equals(frame) or np.allclose(back[["mean", "low", "high"]], frame[["mean", "low", "high"]])
    assert back[["unit", "distance", "rows"]].equals(frame[["unit", "distance", "rows"]])
    data = json.loads(json_bytes(frame, "profile-words", {"units": ["GRU", "LSTM"], "maxdist": 10}))
    assert data["state"]["maxdist"] == 10 and data["columns"] == list(frame.columns)
    assert [row["mean"] for row in data["rows"]] == frame["mean"].tolist()
    summary = summary_frame(series)
    assert summary.loc[(summary.unit == "GRU") & (summary.measure == "d90"), "mean"].item() == pytest.approx(31.64, abs=0.01)
    name = download_name("profile-words", {"source": "Pasted", "text": "a <b>/../c", "units": ["GRU", "LSTM"]}, "csv")
    assert name.startswith("memory-profile-words_source-Pasted_text-") and name.endswith("_units-GRU+LSTM.csv")
    assert "/" not in name and "<" not in name


def test_a_matrix_frame_holds_row_shares_of_the_lower_triangle():
    M = np.array([[2.0, 9, 9], [1, 3, 9], [0, 0, 0]])
    shares = row_shares(M)
    assert shares.tolist() == [[1, 0, 0], [0.25, 0.75, 0], [0, 0, 0]]
    frame = matrix_frame(" ab", M)
    assert len(frame) == 6 and frame["share"].tolist() == [1, 0.25, 0.75, 0, 0, 0]
    assert frame["output word"].tolist() == ["ab"] * 6 and frame["words back"].tolist() == [0] * 6


def test_memory_cli_writes_the_profile_and_summaries_as_csv(tmp_path, capsys):
    model = _delay_line(5)
    directory = model.save(tmp_path / "model")
    text_file = tmp_path / "text.txt"
    text_file.write_text(TEXT)
    out = tmp_path / "memory.csv"
    assert cli_main(["memory", str(directory), "--text-file", str(text_file), "--positions", "40", "--csv",
                     str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    table = read_csv(out.read_bytes())
    expected = export_frame([("rnn", str(directory), memory_profile(model, TEXT, positions=40, seed=0))])
    assert table.shape == expected.shape and list(table["table"].unique()) == ["profile", "summary"]
    chars = table[(table.table == "profile") & (table.scale == "chars")]
    assert chars.loc[chars.distance == 5, "mean"].item() == pytest.approx(1.0)
    d90 = table[(table.table == "summary") & (table.measure == "d90")]
    assert d90["mean"].item() == report["d90"]["mean"] == 5
    assert np.allclose(table["mean"], expected["mean"], equal_nan=True)
    assert cli_main(["memory", str(directory), "--text-file", str(text_file), "--csv", str(tmp_path / "no/such/dir.csv")]) == 2
    assert "error: cannot write" in capsys.readouterr().err


def test_the_memory_corpus_setting(tmp_path):
    settings = parse_settings({"app": {"memory_corpus": "data/wiki.xz"}}, base_dir=tmp_path)
    assert settings.memory_corpus == (tmp_path / "data" / "wiki.xz").resolve()
    assert parse_settings({}, base_dir=tmp_path).memory_corpus is None
    with pytest.raises(SettingsError, match="memory_corpus"):
        parse_settings({"app": {"memory_corpus": 3}}, base_dir=tmp_path)


# ---- the page ----------------------------------------------------------------------------------------------------


def test_memory_page_shows_the_profile_summaries_breakdowns_and_matrices(app):  # noqa: F811
    at = app("memory", units=["GRU", "LSTM"], positions="300", by="length", scale="words")
    assert not at.exception
    captions = [unescape(caption.value) for caption in at.caption]
    assert any("GRU: 198 positions in 1 sequence" in caption for caption in captions)
    assert any(c.startswith("Models: GRU: ") and "(local) · 2×224; LSTM: " in c for c in captions)  # which
    charts = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert len(charts) == 5  # profile, breakdowns, two matrices, the difference
    assert len(at.get("download_button")) == 24  # CSV and JSON of each and of the two tables; PNG and SVG of each
    from rnnmem import load_model
    from rnnmem.walkthrough import PARAGRAPH
    ours = memory_profile(load_model("gru"), PARAGRAPH, positions=300, seed=0)
    expected = summary_frame([("gru", "this app's model", ours), ("gru", "article (published)", article_profile("gru"))])
    shown = at.get("table")[0].value
    gru = shown[shown.unit == "GRU"].reset_index(drop=True)
    assert gru.equals(summary_table(expected))  # the measure of one sequence: means, no interval
    assert list(shown.columns) == ["unit", "source", "context share", "d50", "d90", "positions"]


def recall_table_shown(at) -> pd.DataFrame:
    return next(table.value for table in at.get("table") if "lift" in table.value.columns)


def test_memory_page_measures_recall_against_its_control_with_the_articles_rows(app):  # noqa: F811
    """On the walkthrough: one recall moment (the second "grammar"), ours as rnnmem.recall measures it, the
    article's GRU with 23% of its row on the first "grammar" as published; the caption says one moment is
    an anecdote."""
    from rnnmem import load_model
    from rnnmem.recall import recall_profile
    from rnnmem.walkthrough import PARAGRAPH

    at = app("memory", units=["GRU", "NLSTM"], positions="300")
    assert not at.exception
    shown = recall_table_shown(at)
    assert list(shown.columns) == ["unit", "source", "moments", "share", "expected", "lift", "lift, read under 50 back",
                                   "lift, read 50–99 back", "lift, read 100+ back"]
    assert shown[["unit", "source"]].values.tolist() == [
        ["GRU", "this app's model"], ["Nested LSTM", "this app's model"], ["GRU", "article (published)"],
        ["Nested LSTM", "article (published)"]]
    assert shown.moments.tolist() == [1, 1, 1, 1]
    assert shown.share.tolist()[2] == "23.0%"  # the article's GRU, from its published row
    ours = recall_profile(load_model("gru"), PARAGRAPH, controls=50)
    assert shown.share.tolist()[0] == f"{100 * ours.means['share']['mean']:.1f}%"
    # no rarer word's letters 124–130 characters back at the paragraph's control moments: no lift to give
    assert np.isnan(ours.means["lift"]["mean"]) and shown.lift.tolist() == ["–"] * 4
    assert shown["lift, read under 50 back"].tolist() == ["–"] * 4
    captions = " ".join(unescape(c.value) for c in at.caption)
    assert "Sample: the article's walkthrough paragraph." in captions
    assert "Few recall moments make an anecdote, not a figure" in captions


def test_memory_page_recall_on_a_corpus_sample_and_on_a_text_with_nothing_to_recall(app, models_toml,  # noqa: F811
                                                                                     monkeypatch, tmp_path):
    import rnnmem.app.memory
    from rnnmem import load_model
    from rnnmem.recall import recall_profile, recall_sample
    from rnnmem.settings import SETTINGS_ENV

    at = app("memory", units=["LSTM"], source="Pasted", text="the grammar of a language")
    assert not at.exception
    assert any("No recall to measure on your text" in unescape(i.value) and "nothing to recall" in i.value
               for i in at.info)

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("unused: the split comes from held_out_texts below")
    settings = tmp_path / "models.toml"
    settings.write_text(models_toml.read_text().replace('= "./', f'= "{models_toml.parent}/')
                        + f'\n[app]\nmemory_corpus = "{corpus}"\n')
    monkeypatch.setenv(SETTINGS_ENV, str(settings))
    split = [f" the grammar of {word} and the {word} of grammar in schools" for word in
             ("latin", "greek", "physics", "music", "poetry", "chess")] * 5
    monkeypatch.setattr(rnnmem.app.memory, "held_out_texts", lambda model, path: split)
    at = app("memory", units=["LSTM"], source="Corpus", positions="100", seed="4")
    assert not at.exception
    shown = recall_table_shown(at)
    ours = recall_profile(load_model("lstm"), recall_sample(split, rnnmem.app.memory.RECALL_CHARS, 4), seed=4)
    assert ours.moments == 60 and shown.moments.tolist() == [60]  # "grammar" and the topic word, in each
    m = ours.means["lift"]
    assert not np.isnan(m["mean"]) and shown.lift.tolist() == [f"{m['mean']:.2f} ({m['low']:.2f}–{m['high']:.2f})"]
    captions = " ".join(unescape(c.value) for c in at.caption)
    assert (f"Sample: {sum(len(text) for text in split):,} characters of the test split of corpus.txt (whole "
            "sequences in the seed's order, to 60,000 or just past)" in captions)
    assert "Few recall moments" not in captions


def test_the_summary_table_has_a_row_per_unit_and_source_in_the_series_order():
    frame = pd.DataFrame([
        ["LSTM", "this app's model", "context share", 0.41, 0.38, 0.44, 300, 2, 0],
        ["LSTM", "this app's model", "d50", 2.5, 2.5, 2.5, 300, 2, 0],  # collapsed, but an interval
        ["LSTM", "this app's model", "d90", 12.1161, 10.0, 14.25, 300, 2, 0],
        ["GRU", "article (published)", "context share", 0.409, 0.409, 0.409, 198, 1, 0],
        ["GRU", "article (published)", "d50", float("nan"), float("nan"), float("nan"), 198, 1, 0],
        ["GRU", "article (published)", "d90", 31.641, 31.641, 31.641, 198, 1, 0],
    ], columns=SUMMARY_COLUMNS)
    table = summary_table(frame)
    assert table.to_dict("records") == [
        {"unit": "LSTM", "source": "this app's model", "context share": "0.410 (0.380–0.440)",
         "d50": "2.500 (2.500–2.500)",
         "d90": "12.116 (10.000–14.250)", "positions": 300},
        {"unit": "GRU", "source": "article (published)", "context share": "0.409", "d50": "–", "d90": "31.641",
         "positions": 198}]


@pytest.mark.parametrize("by, title, reading", [
    ("repetition", "word's frequency and repetition in its sequence",
     "types a rarer word it already read in the sequence from fewer letters"),
    ("distance", "word's frequency and how far back it was last read in its sequence",
     "a unit that remembers further back still types a word it read from fewer letters"),
])
def test_memory_page_breaks_accuracy_down_by_repetition_and_distance(app, by, title, reading):  # noqa: F811
    """The panels are titled by the breakdown, and the caption says how to read them (the bands themselves:
    test_repetition_bands_by_hand, test_distance_bands_by_hand; the test models' few words are all frequent)."""
    at = app("memory", units=["GRU"], positions="300", by=by)
    assert not at.exception
    spec = json.loads((at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart"))[1].proto.spec)
    assert spec["facet"]["column"]["title"] == title
    captions = " ".join(unescape(caption.value) for caption in at.caption)
    assert reading in captions


def test_memory_page_without_a_configured_corpus_says_so(app):  # noqa: F811
    at = app("memory", units=["GRU"], source="Corpus")
    assert not at.exception
    assert any("No corpus is configured" in info.value for info in at.info)


def test_memory_page_with_a_pasted_text_of_no_usable_word_says_why(app):  # noqa: F811
    """A word longer than the model's sequences fits none, so the text leaves nothing to sample."""
    at = app("memory", units=["GRU"], source="Pasted", text="a" * 250)
    assert not at.exception
    shown = " ".join(unescape(w) for w in texts(at.warning))
    assert "Cannot measure memory on your text: the text has no word short enough" in shown
    assert "at most 200 characters" in shown


def test_memory_page_matrices_go_to_the_workers_as_loaded_models(app, monkeypatch):  # noqa: F811
    """A worker loads a model by its reference, so the full matrices must be asked for with the LoadedModel;
    the bare network would be computed in the server process."""
    import rnnmem.app.cache as cache
    from rnnmem.modelref import LoadedModel

    asked = []
    real = cache.analysis_workers()

    class Recording:
        def connectivity_matrix(self, item, text, k=3):
            asked.append(item)
            return real.connectivity_matrix(item, text, k=k)

        def __getattr__(self, name):  # the rest as the real pool
            return getattr(real, name)

    monkeypatch.setattr(cache, "analysis_workers", Recording)
    cache.connectivity.clear()
    try:
        at = app("memory", units=["GRU", "LSTM"], positions="300")
    finally:
        cache.connectivity.clear()
    assert not at.exception
    assert len(asked) == 2 and all(isinstance(item, LoadedModel) for item in asked)


def test_memory_page_recall_reads_its_rows_from_the_workers_as_loaded_models(app, monkeypatch):  # noqa: F811
    """Recall's rows go to the worker pool with the LoadedModel (a worker loads a model by its reference)."""
    import rnnmem.app.memory as memory_page
    from rnnmem.modelref import LoadedModel

    asked = []
    real = memory_page.analysis_workers()

    class Recording:
        def connectivity_rows(self, item, chars, positions, ys):
            asked.append(item)
            return real.connectivity_rows(item, chars, positions, ys)

        def __getattr__(self, name):  # the rest as the real pool
            return getattr(real, name)

    monkeypatch.setattr(memory_page, "analysis_workers", Recording)
    at = app("memory", units=["GRU"], positions="300", seed="77")  # a seed no other test measures: computed here
    assert not at.exception
    assert asked and all(isinstance(item, LoadedModel) for item in asked)


def test_memory_page_says_which_link_values_it_ignored(app):  # noqa: F811
    at = app("memory", units=["GRU", "LSTM"], positions="200", seq="abc", diff_a="XYZ", diff_b="RNN")
    assert not at.exception
    shown = " ".join(unescape(w) for w in texts(at.warning))
    assert "The link's sampled sequence 'abc' is not a whole number; showing the first." in shown
    assert "The link's first unit of the difference 'XYZ' is not one of GRU, LSTM; using the default." in shown
    assert "second unit of the difference 'RNN' is not one of GRU, LSTM" in shown  # a unit the page does not show
    assert at.selectbox(key="diff_a").value == "GRU" and at.selectbox(key="diff_b").value == "LSTM"
    assert at.slider(key="seq").value == 1
    at = app("memory", units=["GRU", "LSTM"], positions="200", seq="7", diff_a="LSTM", diff_b="GRU")
    assert "sampled sequence 7 is out of range (1 to 2); showing the first." in " ".join(
        unescape(w) for w in texts(at.warning))
    assert at.selectbox(key="diff_a").value == "LSTM"  # a good value is taken, and says nothing
    assert not any("difference" in w for w in texts(at.warning))


def test_memory_page_keeps_the_sequence_slider_in_range_when_the_sample_shrinks(app):  # noqa: F811
    """Streamlit carries a bound slider's value across a change of range; a value past the new end raised
    (StreamlitValueAboveMaxError) on the next run, once the walkthrough's single sequence disabled it."""
    pasted = " ".join(["the quick brown fox jumps over the lazy dog and runs far away"] * 16)
    at = app("memory", units=["GRU"], positions="1000", source="Pasted", text=pasted)
    assert not at.exception and at.slider(key="seq").max >= 3
    at.slider(key="seq").set_value(3).run()
    assert not at.exception
    at.segmented_control(key="source").set_value("Walkthrough").run()
    at.run()  # the next click on the page
    assert not at.exception
    assert at.slider(key="seq").value == 1 and at.slider(key="seq").disabled  # the first, as the message says


def test_a_visitors_model_of_another_shape_gets_no_corpus_preparation(tmp_path, tiny_models):
    """Each new (vocabulary, sequence length) costs a full preparation of the corpus and a disk cache that
    stays: a link naming Hub models of ever new shapes must not buy them. The configured models may."""
    from rnnmem.app.memory import _texts_for, shipped_shapes
    from rnnmem.app.models import ShownModel
    from rnnmem.errors import InputError
    from rnnmem.modelref import LoadedModel, parse_model_ref

    assert shipped_shapes() == {(16384, 200)}
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat and the dog ran " * 150)
    loaded = LoadedModel(tiny_models["gru"], parse_model_ref("hf://alice/tiny@" + "a" * 40), revision="a" * 40)
    words = len(tiny_models["gru"].words) - 2
    with pytest.raises(InputError, match=rf"has {words} words and 40-character sequences; this server prepares its "
                                         r"corpus only for models cut like the shipped ones \(16,384 words and "
                                         r"200-character sequences\)"):
        _texts_for(ShownModel("gru", loaded, None, visitor=True), corpus)
    texts = _texts_for(ShownModel("gru", loaded, None), corpus)  # the server's own configuration: prepared
    assert texts and all(text.startswith(" ") and set(text.split()) <= set(corpus.read_text().split())
                         for text in texts)


def test_a_hub_link_to_a_model_of_another_shape_gets_no_corpus_preparation(app, models_toml, monkeypatch,  # noqa: F811
                                                                          tmp_path, tiny_models):
    """Through the page: a visitor's Hub model (a tiny one: another vocabulary and sequence length) is
    refused on the configured corpus with the reason, before any unit is measured."""
    import rnnmem.app.models
    from rnnmem.modelref import LoadedModel, parse_model_ref
    from rnnmem.refs import load
    from rnnmem.settings import SETTINGS_ENV

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat and the dog ran " * 150)
    settings = tmp_path / "models.toml"
    settings.write_text(models_toml.read_text().replace('= "./', f'= "{models_toml.parent}/')
                        + f'\n[app]\nmemory_corpus = "{corpus}"\n')
    monkeypatch.setenv(SETTINGS_ENV, str(settings))
    sha = "0123456789abcdef0123456789abcdef01234567"

    def fake_load(reference):  # a Hub reference gives the tiny model; the configured ones load as usual
        if reference.startswith("hf://"):
            return LoadedModel(tiny_models["gru"], parse_model_ref(reference), revision=sha)
        return load(reference)

    monkeypatch.setattr(rnnmem.app.models, "load", fake_load)
    prepared = []
    monkeypatch.setattr(rnnmem.app.memory, "held_out_texts", lambda model, path: prepared.append(model) or [" the cat"])
    rnnmem.app.models._visitor_models().clear()
    try:
        at = app("memory", units=["GRU", "LSTM"], source="Corpus", lstm_model=f"hf://someone/tiny@{sha}")
    finally:
        rnnmem.app.models._visitor_models().clear()
    assert not at.exception
    shown = " ".join(unescape(w) for w in texts(at.warning))
    assert f"LSTM's model has {len(tiny_models['gru'].words) - 2} words and 40-character sequences" in shown
    assert not prepared  # not even the configured GRU's split: the page stopped first


def test_memory_charts_download_as_svg_and_png():
    """The Memory page's charts go through the same route to images as every other chart (vl-convert)."""
    from xml.etree import ElementTree

    from rnnmem import exports, memory_charts, memory_tables

    profile = memory_tables.profile_frame(memory_tables.article_series(["gru", "lstm"]), "chars", 20)
    chart = memory_charts.profile_chart(profile, log_y=True)
    assert ElementTree.fromstring(exports.chart_svg(chart)).tag.endswith("svg")
    assert exports.chart_png(chart).startswith(b"\x89PNG")


def test_clicking_a_unit_in_the_memory_charts_legends_picks_it_out():
    """The page says "click a unit in the legend to pick it out": compiled to Vega, each chart's unit legend
    is bound to the pick (its symbols answer clicks) and its symbols are opaque until a unit is picked.
    (The profile's legend was once merged from its faint band layer: pale symbols, and no binding.)"""
    import vl_convert

    from rnnmem import exports, memory_charts, memory_tables

    profile = memory_tables.profile_frame(memory_tables.article_series(["gru", "lstm"]), "chars", 20)
    breakdown = pd.DataFrame([["GRU", band, seen, "top-1", 0.1 * seen, 10] for band in ("new", "read")
                              for seen in range(4)], columns=memory_tables.BREAKDOWN_COLUMNS)
    for chart in (memory_charts.profile_chart(profile), memory_charts.breakdown_chart(breakdown)):
        vega = vl_convert.vegalite_to_vega(exports.vega_lite_spec(chart), vl_version=exports._vega_lite_version())
        legends = [legend for legend in vega.get("legends", []) + [legend for mark in vega.get("marks", [])
                                                                 for legend in mark.get("legends", [])]
                   if legend.get("title") == "unit"]
        assert len(legends) == 1
        symbols = legends[0]["encode"]["symbols"]
        assert symbols.get("interactive") is True
        unpicked, picked_out = symbols["update"]["opacity"]
        assert "unit_pick" in unpicked["test"] and unpicked["value"] == 1 and picked_out["value"] < 1


@pytest.mark.parametrize("seed", ["INF", "inf", "1e309", "nan", "x"])
def test_a_seed_that_is_no_number_is_ignored_with_a_message(app, seed):  # noqa: F811
    """A link's seed the number box cannot read (found by the generated-link test: "INF" crashed it)."""
    at = app("memory", units=["GRU"], positions="100", seed=seed)
    assert not at.exception


def test_visitors_asking_for_the_same_profile_at_once_compute_it_once():
    """A shared link brings several visitors to one profile: the first computes it, the others wait and
    get its result; if the first stops, a waiting one computes it instead."""
    import threading

    from rnnmem.app.memory import _Profiles

    profiles, started, release, calls, waited = _Profiles(), threading.Event(), threading.Event(), [], []

    def slow():
        calls.append("slow")
        started.set()
        release.wait(10)
        return "profile"

    class Waiting:  # what a waiting visitor's page shows
        def __enter__(self):
            waited.append(True)
            release.set()  # the second visitor is waiting: let the first finish

        def __exit__(self, *exc):
            return False

    results = []
    first = threading.Thread(target=lambda: results.append(profiles.get(("k",), slow)))
    first.start()
    started.wait(10)
    results.append(profiles.get(("k",), lambda: calls.append("again") or "other", Waiting))
    first.join(10)
    assert results == ["profile", "profile"] and calls == ["slow"] and waited == [True]

    # The computing visitor stops (its page was left): the one waiting takes over.
    started.clear()
    release.clear()

    def stopped():
        started.set()
        release.wait(10)
        raise RuntimeError("the visitor left")

    errors = []
    first = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, profiles.get, ("j",), stopped)))
    first.start()
    started.wait(10)
    assert profiles.get(("j",), lambda: "mine", Waiting) == "mine"
    first.join(10)
    assert len(errors) == 1 and profiles.get(("j",), lambda: "not again") == "mine"


def test_a_corpus_file_edited_in_place_is_measured_again(tmp_path):
    from rnnmem.app.memory import profile_text_key

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("one text")
    before = profile_text_key(("corpus", str(corpus)), corpus)
    os.utime(corpus, (1, 1))
    assert profile_text_key(("corpus", str(corpus)), corpus) != before
    assert profile_text_key(("pasted", "a text"), "a text") == ("pasted", "a text")


def test_memory_page_shows_the_models_stored_held_out_figures(app, models_toml, monkeypatch, tmp_path):  # noqa: F811
    """A model with a memory.json beside its weights (the shipped LSTM's) gets "stored" rows in the summaries
    and the recall table, its figures as stored; an unusable file is named in a warning, not shown; the
    toggle (in the link) leaves them out."""
    from rnnmem.refs import shipped_dir
    from rnnmem.settings import SETTINGS_ENV

    stored = json.loads((shipped_dir("lstm") / "memory.json").read_text())
    lines = models_toml.read_text().replace('= "./', f'= "{models_toml.parent}/')
    rnn = (shipped_dir("rnn") / "memory.json").read_text()  # no lift 50 or more back: next to nothing there
    for unit, memory in (("lstm", json.dumps(stored)), ("gru", '{"held_out": {"positions": "many"}}'), ("rnn", rnn)):
        directory = tmp_path / unit
        directory.mkdir()
        for name in ("config.json", "model.safetensors", "README.md"):
            (directory / name).symlink_to(shipped_dir(unit) / name)
        (directory / "memory.json").write_text(memory)
        lines = lines.replace(f'{unit} = "{models_toml.parent}/{unit}"', f'{unit} = "{directory}"')
    settings = tmp_path / "models.toml"
    settings.write_text(lines)
    monkeypatch.setenv(SETTINGS_ENV, str(settings))

    at = app("memory", units=["RNN", "GRU", "LSTM"], positions="300")
    assert not at.exception
    assert [unescape(w.value) for w in at.warning] == [
        "Stored figures not shown: GRU: memory.json: held_out: positions must be a non-negative integer"]
    summary = at.get("table")[0].value
    row = summary[(summary.source == "stored: test split") & (summary.unit == "LSTM")]
    assert row.positions.tolist() == [stored["held_out"]["positions"]]
    d90 = stored["held_out"]["d90"]
    assert row.d90.tolist() == [f"{d90['mean']:.3f} ({d90['low']:.3f}–{d90['high']:.3f})"]
    recall = recall_table_shown(at)
    assert recall[recall.source == "stored: test split"].unit.tolist() == ["Vanilla RNN", "LSTM"]
    assert recall[recall.unit == "Vanilla RNN"]["lift, read 50–99 back"].tolist()[-1] == "–"  # stored None
    row = recall[(recall.source == "stored: test split") & (recall.unit == "LSTM")]
    lift, far = stored["recall"]["lift"], stored["recall"]["by_distance"]["100+"]["lift"]
    assert row.moments.tolist() == [stored["recall"]["moments"]]
    assert row.lift.tolist() == [f"{lift['mean']:.2f} ({lift['low']:.2f}–{lift['high']:.2f})"]
    assert row["lift, read 100+ back"].tolist() == [f"{far['mean']:.2f} ({far['low']:.2f}–{far['high']:.2f})"]
    captions = " ".join(unescape(c.value) for c in at.caption)
    assert ("stored (Vanilla RNN, LSTM): the first 300,000 characters of the test split of the model's training "
            "corpus, measured when it was shipped" in captions)
    assert "has hundreds, as the stored rows do." in captions  # beside the walkthrough's single moment

    at = app("memory", units=["RNN", "GRU", "LSTM"], positions="300", stored="false")
    assert not at.exception and not at.warning
    assert "stored: test split" not in at.get("table")[0].value.source.tolist()
    assert "stored: test split" not in recall_table_shown(at).source.tolist()


def test_stored_recall_rows_without_moments_or_with_other_bands():
    """A stored sample with no recall moment gives no row; a band with no moments and a band the file does
    not have are "–" beside rows that have them."""
    from rnnmem.memory_tables import recall_frame, recall_table

    figure = {"mean": 0.5, "low": 0.4, "high": 0.6}
    none = {"mean": None, "low": None, "high": None}
    measured = {"split": "test", "max_chars": 1000, "moments": 4, "characters": 1000, "controls": 8, "sequences": 3,
                "seed": 0, "share": figure, "expected": figure, "lift": figure,
                "by_distance": {"under 50": {"moments": 4, "sequences": 3, "share": figure, "expected": figure,
                                             "lift": figure},
                                "50–99": {"moments": 0, "sequences": 0, "share": none, "expected": none, "lift": none}}}
    older = {**measured, "by_distance": {"under 50": measured["by_distance"]["under 50"]}}
    nothing = {"split": "test", "max_chars": 1000, "moments": 0}
    table = recall_table(recall_frame([], [("gru", measured), ("lstm", older), ("rnn", nothing)]))
    assert table.unit.tolist() == ["GRU", "LSTM"] and table.moments.tolist() == [4, 4]
    assert table["lift, read 50–99 back"].tolist() == ["–", "–"]
    assert table["lift, read under 50 back"].tolist() == ["0.50 (0.40–0.60)"] * 2
