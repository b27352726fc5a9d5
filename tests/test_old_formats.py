"""Files written by the code before the restructuring (tests/data/old_run: a tiny GRU run made with commit
398ba45) still load, resume and export: runs in progress must survive an upgrade."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from rnnmem.dataset import DatasetConfig, build_dataset
from rnnmem.refs import load
from rnnmem.text import normalize
from rnnmem.train import CHECKPOINT_FILE, TrainConfig, export_checkpoint, read_log, train

from .conftest import toy_text

OLD_RUN = Path(__file__).resolve().parent / "data" / "old_run"


def toy() -> tuple:
    return build_dataset(normalize(toy_text()), DatasetConfig(vocab_words=20, max_seq_len=40), "toy")


def test_an_old_model_directory_loads_strictly():
    loaded = load(str(OLD_RUN))
    assert loaded.files_dir == OLD_RUN and loaded.model.config.hidden_size == 8
    assert loaded.model.suggest("the c", k=2).words  # the vocabulary and weights work together


def test_an_old_checkpoint_resumes_and_the_new_one_exports_without_its_corpus(tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(OLD_RUN, run)
    old = torch.load(run / CHECKPOINT_FILE, weights_only=False)
    assert "model_config" not in old  # really the old format
    train(TrainConfig(), run, resume=True, resume_overrides={"max_chars": 4600}, dataset=toy(), log=lambda m: None,
          progress=False)
    new = torch.load(run / CHECKPOINT_FILE, weights_only=False)
    assert new["progress"]["step"] > old["progress"]["step"] and new["model_config"]["words"] == list(toy().words)
    rows = read_log(run / "training_log.csv")
    assert [row["step"] for row in rows][:2] == [row["step"] for row in old["log"]]  # the old log continues

    monkeypatch.chdir(tmp_path)  # no corpus here: the new checkpoint carries the vocabulary itself
    exported = export_checkpoint(run, tmp_path / "exported", log=lambda m: None)
    model = load(str(exported)).model
    assert all(torch.equal(model.state_dict()[k], v) for k, v in new["model"].items())


def test_an_old_checkpoint_exports_by_preparing_its_corpus_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy.txt").write_text(toy_text())  # the old run's corpus, as its configuration names it
    exported = export_checkpoint(OLD_RUN, tmp_path / "exported", log=lambda m: None)
    old = torch.load(OLD_RUN / CHECKPOINT_FILE, weights_only=False)
    model = load(str(exported)).model
    assert model.words == list(toy().words)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in old["model"].items())
