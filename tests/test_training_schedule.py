"""Training beyond the article's recipe: the learning-rate schedule, warm starts, the memory column of
the training log, and the walkthrough paragraph kept out of the training data."""

import json

import numpy as np
import pytest
import torch

from rnnmem.dataset import DatasetConfig, build_dataset, sequence_texts, sequences_containing
from rnnmem.errors import InputError
from rnnmem.model import AutocompleteRNN, ModelFilesError
from rnnmem.text import normalize
from rnnmem.runfiles import cumulative_seconds
from rnnmem.train import TrainConfig, learning_rate_at, read_log, train, training_sequences
from rnnmem.walkthrough import PARAGRAPH, held_out_fragments

from .conftest import toy_text


def test_learning_rate_schedule_at_given_characters():
    constant = TrainConfig(learning_rate=0.01)
    assert learning_rate_at(constant, 0, 1000) == learning_rate_at(constant, 999, 1000) == 0.01
    warm = TrainConfig(learning_rate=0.01, warmup_chars=100)
    assert learning_rate_at(warm, 0, 1000) == pytest.approx(0.01 / 100)
    assert learning_rate_at(warm, 49, 1000) == pytest.approx(0.005)
    assert learning_rate_at(warm, 100, 1000) == 0.01
    cosine = TrainConfig(learning_rate=0.01, lr_schedule="cosine", warmup_chars=100, min_lr_ratio=0.1)
    assert learning_rate_at(cosine, 100, 1100) == pytest.approx(0.01)  # the peak, right after warm-up
    assert learning_rate_at(cosine, 600, 1100) == pytest.approx(0.001 + 0.009 * 0.5)  # half way down
    assert learning_rate_at(cosine, 1100, 1100) == pytest.approx(0.001)  # the floor at the budget's end
    assert learning_rate_at(cosine, 5000, 1100) == pytest.approx(0.001)  # and after it
    rates = [learning_rate_at(cosine, c, 1100) for c in range(100, 1101, 50)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))  # never rises during the decay
    with pytest.raises(ValueError, match="schedule"):
        learning_rate_at(TrainConfig(lr_schedule="step"), 0, 10)


def _config(**overrides) -> TrainConfig:
    base = dict(unit="gru", hidden_size=16, num_layers=1, embedding_size=8, corpus="toy", vocab_words=20,
                seq_len=40, max_chars=8_000, batch_size=8, learning_rate=0.01, valid_every_chars=4_000,
                valid_chars=1_000, memory_positions=120, checkpoint_every_seconds=1e9)
    return TrainConfig(**(base | overrides))


def test_the_schedule_reaches_the_optimiser(tmp_path, toy_dataset, monkeypatch):
    seen = []
    original = torch.optim.Adam.step

    def record(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    config = _config(lr_schedule="cosine", warmup_chars=1_000, min_lr_ratio=0.0)
    train(config, tmp_path / "run", dataset=toy_dataset, log=lambda m: None, progress=False)
    assert seen[0] < 0.01 * 0.05  # warming up from (almost) zero
    assert max(seen) == pytest.approx(0.01, rel=0.05)
    assert seen[-1] < 0.01 * 0.02  # decayed to (almost) zero by the end of the budget


def test_warm_start_continues_from_a_model_and_its_history(tmp_path, toy_dataset):
    first = train(_config(), tmp_path / "first", dataset=toy_dataset, log=lambda m: None, progress=False)
    config = _config(init_from=str(tmp_path / "first"), max_chars=4_000, learning_rate=1e-9)
    second = train(config, tmp_path / "second", dataset=toy_dataset, log=lambda m: None, progress=False)
    # with a learning rate of ~0, the warm-started weights are the first run's
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), name
    first_rows = read_log(tmp_path / "first" / "training_log.csv")
    rows = read_log(tmp_path / "second" / "training_log.csv")
    assert rows[:len(first_rows)] == first_rows  # the history carried over
    assert rows[-1]["chars_seen"] > first_rows[-1]["chars_seen"]  # counted on from there
    assert rows[-1]["step"] > first_rows[-1]["step"]
    reloaded = AutocompleteRNN.from_directory(tmp_path / "second")
    summary = json.loads((tmp_path / "second" / "training_summary.json").read_text())
    assert summary["warm_start"]["characters_seen_before"] == int(first_rows[-1]["chars_seen"])
    assert summary["characters_seen"] == int(rows[-1]["chars_seen"])
    # time counts on from the first run's too, so the Training page's time axis never runs backwards
    first_summary = json.loads((tmp_path / "first" / "training_summary.json").read_text())
    assert all(a["seconds"] <= b["seconds"] for a, b in zip(rows, rows[1:]))
    assert summary["seconds"] >= rows[-1]["seconds"] > first_summary["seconds"] > 0
    assert "warm start" in (tmp_path / "second" / "README.md").read_text()
    assert reloaded.config.words == first.config.words


def test_warm_start_refuses_a_mismatched_directory(tmp_path, toy_dataset):
    train(_config(), tmp_path / "gru16", dataset=toy_dataset, log=lambda m: None, progress=False)
    for mismatch, field in ((dict(hidden_size=24), "hidden_size"), (dict(unit="lstm"), "unit"),
                            (dict(seq_len=60), "max_seq_len"), (dict(data_seed=1), "data-seed")):
        with pytest.raises(ModelFilesError, match=field):
            train(_config(init_from=str(tmp_path / "gru16"), **mismatch), tmp_path / f"bad_{field}",
                  dataset=toy_dataset, log=lambda m: None, progress=False)
    other = build_dataset(normalize(toy_text(seed=5) + " zebra zebra quokka"), DatasetConfig(vocab_words=21,
                                                                                             max_seq_len=40))
    with pytest.raises(ModelFilesError, match="vocabulary"):
        train(_config(init_from=str(tmp_path / "gru16"), vocab_words=21), tmp_path / "bad_vocab",
              dataset=other, log=lambda m: None, progress=False)
    with pytest.raises(ModelFilesError):
        train(_config(init_from=str(tmp_path / "nowhere")), tmp_path / "bad_dir", dataset=toy_dataset,
              log=lambda m: None, progress=False)


def test_cumulative_seconds_repairs_a_clock_restarted_by_warm_starts():
    rows = [{"seconds": 10.0}, {"seconds": 20.0}, {"seconds": 5.0}, {"seconds": None}, {"seconds": 8.0},
            {"seconds": 1.0}]
    assert [r["seconds"] for r in cumulative_seconds(rows)] == [10.0, 20.0, 25.0, None, 28.0, 29.0]
    monotone = [{"seconds": 1.0, "step": 1}, {"seconds": 2.5, "step": 2}]
    assert cumulative_seconds(monotone) == monotone and cumulative_seconds([]) == []


def test_a_corpus_with_nothing_to_train_on_is_refused(tmp_path):
    # the walkthrough paragraph is never training data: a corpus of only that paragraph leaves nothing
    only_paragraph = build_dataset(normalize(" ".join([PARAGRAPH] * 3)), DatasetConfig(vocab_words=20,
                                                                                      max_seq_len=40))
    with pytest.raises(InputError, match="too small"):
        train(_config(), tmp_path / "run", dataset=only_paragraph, log=lambda m: None, progress=False)
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_training_log_has_the_memory_measure(tmp_path, toy_dataset):
    train(_config(), tmp_path / "run", dataset=toy_dataset, log=lambda m: None, progress=False)
    rows = read_log(tmp_path / "run" / "training_log.csv")
    assert len(rows) == 2
    for row in rows:
        assert 0 <= row["context_share"] <= 1 and 0 <= row["d50"] <= row["d90"] < 40
    train(_config(memory_positions=0), tmp_path / "off", dataset=toy_dataset, log=lambda m: None, progress=False)
    assert all(row["d90"] is None for row in read_log(tmp_path / "off" / "training_log.csv"))


def test_the_walkthrough_paragraph_is_never_trained_on(toy_dataset):
    """A corpus holding the paragraph (here in the corpus's own slightly different version) loses exactly
    the training sequences that hold part of it; other splits keep theirs (they are never trained on)."""
    variant = normalize(PARAGRAPH).replace(" education from", " education for children from")
    text = normalize(toy_text(4000)) + variant + normalize(toy_text(4000, seed=3))
    dataset = build_dataset(text, DatasetConfig(vocab_words=40, max_seq_len=40), "toy+walkthrough")
    holding = sequences_containing(dataset, held_out_fragments())
    assert len(holding) >= 5  # ~200 characters in 40-character sequences
    held_chars = sum(int(dataset.lengths[i]) for i in holding)
    assert held_chars >= 0.8 * len(variant)  # the fragments find (nearly) all of it
    starts, lengths, left_out = training_sequences(dataset)
    assert set(left_out.tolist()) == set(holding.tolist())
    trained = set(dataset.starts[dataset.splits["train"]].tolist()) - set(starts.tolist())
    assert trained == set(dataset.starts[np.intersect1d(holding, dataset.splits["train"])].tolist())
    assert len(np.intersect1d(holding, dataset.splits["train"])) > 0  # the case tested did arise
    assert len(sequences_containing(toy_dataset, held_out_fragments())) == 0


def test_any_six_word_run_of_the_paragraph_is_held_out():
    """Every start, the last run included: a corpus sequence holding only six words of the paragraph from
    an odd position (here its last six) is found."""
    words = normalize(PARAGRAPH).split()
    fragments = held_out_fragments()
    assert fragments == [" " + " ".join(words[i:i + 6]) for i in range(len(words) - 5)]
    tail = " " + " ".join(words[-6:])
    text = normalize(toy_text(3000)) + tail + normalize(toy_text(3000, seed=3))
    dataset = build_dataset(text, DatasetConfig(vocab_words=40, max_seq_len=100), "toy+tail")
    holding = sequences_containing(dataset, fragments)
    assert len(holding) >= 1
    texts = {i: text for split, index in dataset.splits.items()
             for i, text in zip(index.tolist(), sequence_texts(dataset, split))}
    assert all(tail not in texts[i] for i in set(range(len(dataset.starts))) - set(holding.tolist()))


def test_a_setting_no_run_can_use_is_refused_before_anything_is_written(tmp_path):
    TrainConfig().check()  # the defaults are a run
    TrainConfig(max_chars=10, epochs=float("nan")).check()  # a character budget: epochs unused
    for bad in ({"valid_every_chars": 0}, {"batch_size": 0}, {"learning_rate": float("inf")}, {"seq_len": 1},
                {"warmup_chars": -1}, {"max_chars": 0}, {"epochs": 0.0}, {"grad_clip": -0.5}, {"unit": "transformer"},
                {"softmax": "hierarchical"}, {"checkpoint_every_seconds": 0}, {"hidden_size": True}):
        with pytest.raises(InputError, match=next(iter(bad))):
            train(TrainConfig(corpus=str(tmp_path / "no-corpus.txt"), **bad), tmp_path / "run")
    assert not (tmp_path / "run").exists()
