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
    measured = ship_weights.split_sequences

    def recording(model, corpus, split, data_seed):
        seeds.append(data_seed)
        return measured(model, corpus, split, data_seed)

    monkeypatch.setattr(ship_weights, "split_sequences", recording)
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


def test_remeasure_rewrites_memory_and_card_and_leaves_weights_evaluations_and_notes(tmp_path, monkeypatch,
                                                                                     finished_run, toy_corpus):
    weights = tmp_path / "weights"
    _ship(monkeypatch, finished_run, toy_corpus, weights)
    shipped = weights / "gru"
    kept = {name: (shipped / name).read_bytes() for name in ("model.safetensors", "evaluation_test.json",
                                                              "evaluation_valid.json", "training_log.csv")}
    memory = json.loads((shipped / "memory.json").read_text())
    # the toy corpus's words are all among the 100 most frequent: nothing rarer to recall, and the card says so
    assert memory["recall"] == {"split": "test", "max_chars": 3000, "moments": 0}
    card = (shipped / "README.md").read_text()
    assert "hold no rarer word read twice in one sequence" in card
    notes = card.split("\n## Notes\n\n", 1)[1]
    assert notes.startswith("Weights stored in float16")
    (shipped / "memory.json").unlink()
    (shipped / "README.md").write_text(card.replace("## Memory", "## Memory (an older card)"))
    monkeypatch.setattr(sys, "argv", ["ship_weights", "--remeasure", "--corpus", str(toy_corpus), "--units", "gru",
                                      "--eval-chars", "3000", "--memory-positions", "60", "--dest", str(weights)])
    ship_weights.main()
    assert json.loads((shipped / "memory.json").read_text()) == memory  # measured the same way: the same figures
    assert (shipped / "README.md").read_text() == card  # written anew, the notes kept
    assert {name: (shipped / name).read_bytes() for name in kept} == kept
    (shipped / "README.md").write_text(card.split("\n## Notes\n\n", 1)[0])
    with pytest.raises(SystemExit, match="no notes section to keep"):
        ship_weights.main()
    monkeypatch.setattr(sys, "argv", ["ship_weights", "--corpus", str(toy_corpus)])
    with pytest.raises(SystemExit):  # neither --runs nor --remeasure
        ship_weights.main()


def test_recall_report_is_the_recall_commands_figures_and_the_card_shows_them(tmp_path, capsys):
    """On a corpus whose rarer words (beyond the model's 100 most frequent) recur within sequences: the
    figures memory.json carries are those ``python -m rnnmem recall --split test --max-chars N --json``
    prints, and the model card's recall table shows them, a "–" where no lift can be given."""
    import random

    import torch

    from rnnmem.cli import main as cli_main
    from rnnmem.memory_report import recall_report
    from rnnmem.model import ModelConfig
    from rnnmem.modelcard import model_card_text

    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [a + b + c for a in letters[:6] for b in letters[:5] for c in letters[:5]][:130]
    rng = random.Random(5)
    rarer = words[110:116]  # model ids 112-117: rarer than the 100 most frequent
    corpus = tmp_path / "repeats.txt"
    corpus.write_text(" " + " ".join(rng.choice(rarer) if rng.random() < 0.4 else rng.choice(words[:100])
                                     for _ in range(8000)))
    torch.manual_seed(0)
    model = AutocompleteRNN(ModelConfig(unit="gru", hidden_size=12, num_layers=1, embedding_size=8,
                                        words=["<eos>", "<unknown>", *words], max_seq_len=60)).eval()
    model.save(tmp_path / "model")
    report = recall_report(model, str(corpus), 4000)
    assert report["moments"] > 30 and report["controls"] > 0 and report["max_chars"] == 4000
    assert cli_main(["recall", str(tmp_path / "model"), "--corpus", str(corpus), "--split", "test",
                     "--max-chars", "4000", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {key: printed[key] for key in report if key in printed} == {key: report[key] for key in printed
                                                                       if key in report}
    assert set(printed) - set(report) == {"model", "corpus"}
    card = model_card_text(model, memory={"recall": report})
    assert "### Recall of words read before" in card
    row = next(line for line in card.splitlines() if line.startswith("| all |"))
    assert row.startswith(f"| all | {report['moments']:,} | {100 * report['share']['mean']:.1f}% (")
    assert row.endswith(f" | {report['lift']['mean']:.2f} ({report['lift']['low']:.2f}–{report['lift']['high']:.2f}) |")
    no_lift = {**report, "by_distance": {**report["by_distance"], "100+": {
        "moments": 3, "sequences": 2, "share": {"mean": 0.0, "low": 0.0, "high": 0.0},
        "expected": {"mean": 0.0, "low": 0.0, "high": 0.0}, "lift": {"mean": None, "low": None, "high": None}}}}
    assert "| 100+ | 3 | 0.0% (0.0–0.0) | 0.0% (0.0–0.0) | – |" in model_card_text(model, memory={"recall": no_lift})
