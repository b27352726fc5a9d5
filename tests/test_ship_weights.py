"""scripts.ship_weights, which turns finished runs into the shipped default models: it evaluates on the
run's own split, and a model that fails the float16 check never replaces the shipped one."""

import json
import sys

import pytest

from rnnmem.model import AutocompleteRNN
from rnnmem.train import TrainConfig, train
from scripts import ship_weights


def _ship(monkeypatch, runs, corpus, dest) -> None:
    monkeypatch.setattr(sys, "argv", ["ship_weights", "--runs", str(runs), "--corpus", str(corpus), "--units",
                                      "gru", "--eval-chars", "3000", "--memory-positions", "60", "--dest", str(dest)])
    ship_weights.main()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, toy_corpus):
    runs = tmp_path_factory.mktemp("runs")
    config = TrainConfig(unit="gru", hidden_size=16, num_layers=1, embedding_size=8, corpus=str(toy_corpus),
                         vocab_words=20, seq_len=40, max_chars=6_000, batch_size=8, learning_rate=0.01,
                         valid_every_chars=3_000, valid_chars=1_000, memory_positions=0, data_seed=3,
                         checkpoint_every_seconds=1e9)
    train(config, runs / "gru", log=lambda m: None, progress=False)
    return runs


def test_ships_a_run_measured_on_its_own_split(tmp_path, monkeypatch, finished_run, toy_corpus):
    seeds = []
    measured = ship_weights._corpus_sequences

    def recording(model, corpus, split, data_seed):
        seeds.append(data_seed)
        return measured(model, corpus, split, data_seed)

    monkeypatch.setattr(ship_weights, "_corpus_sequences", recording)
    reported = ship_weights.memory_report

    def recording_memory(*args, data_seed, **kwargs):
        seeds.append(("memory", data_seed))
        return reported(*args, data_seed=data_seed, **kwargs)

    monkeypatch.setattr(ship_weights, "memory_report", recording_memory)
    _ship(monkeypatch, finished_run, toy_corpus, tmp_path / "weights")
    shipped = tmp_path / "weights" / "gru"
    # the run's --data-seed, not the default split, for the evaluations and the memory measure
    assert seeds and set(seeds) == {3, ("memory", 3)}
    assert AutocompleteRNN.from_directory(shipped).unit == "gru"
    for name in ("evaluation_test.json", "evaluation_valid.json", "memory.json", "README.md", "training_log.csv"):
        assert (shipped / name).is_file(), name
    assert json.loads((shipped / "memory.json").read_text())["held_out"]["positions"] > 0
    evaluation = json.loads((shipped / "evaluation_test.json").read_text())  # with its breakdown by repetition
    assert evaluation["breakdown"]["by"] == "repetition"
    assert sum(sum(band["counts"]) for band in evaluation["breakdown"]["bands"].values()) == evaluation["chars"]
    assert "### Rarer words, new or already read in their sequence" in (shipped / "README.md").read_text()
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["gru"]  # nothing left beside it


def test_a_failed_float16_check_leaves_the_shipped_model_alone(tmp_path, monkeypatch, finished_run, toy_corpus):
    shipped = tmp_path / "weights" / "gru"
    shipped.mkdir(parents=True)
    (shipped / "model.safetensors").write_bytes(b"the shipped weights")
    monkeypatch.setattr(ship_weights, "fp16_drift", lambda fp32, fp16: 0.01)
    with pytest.raises(SystemExit, match="float16 changes accuracy"):
        _ship(monkeypatch, finished_run, toy_corpus, tmp_path / "weights")
    assert (shipped / "model.safetensors").read_bytes() == b"the shipped weights"
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["gru"]
