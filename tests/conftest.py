"""Shared fixtures: a tiny learnable corpus and tiny trained models, built in the test session."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from rnnmem.dataset import DatasetConfig, build_dataset
from rnnmem.model import AutocompleteRNN, ModelConfig
from rnnmem.text import normalize
from rnnmem.train import TrainConfig, train

TOY_WORDS = "the cat sat on a mat and dog ran to big red house".split()


def toy_text(n_words: int = 6000, seed: int = 0) -> str:
    """A learnable corpus: words follow a fixed successor pattern, with some noise."""
    rng = random.Random(seed)
    successor = {w: TOY_WORDS[(i + 3) % len(TOY_WORDS)] for i, w in enumerate(TOY_WORDS)}
    words, word = [], "the"
    for _ in range(n_words):
        words.append(word)
        word = successor[word] if rng.random() < 0.8 else rng.choice(TOY_WORDS)
    return " " + " ".join(words)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Datasets and downloads go to a per-session temporary cache, never the user's."""
    monkeypatch.setenv("RNNMEM_CACHE", str(tmp_path_factory.getbasetemp() / "rnnmem-cache"))


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "toy.txt"
    path.write_text(toy_text())
    return path


@pytest.fixture(scope="session")
def toy_dataset():
    return build_dataset(normalize(toy_text()), DatasetConfig(vocab_words=20, max_seq_len=40), "toy")


def tiny_config(unit: str, words: list[str], hidden: int = 12) -> ModelConfig:
    return ModelConfig(unit=unit, hidden_size=hidden, num_layers=2, embedding_size=10, words=words, max_seq_len=40)


@pytest.fixture(scope="session")
def tiny_models(toy_dataset) -> dict[str, AutocompleteRNN]:
    """One untrained tiny model per unit (random weights, fixed seed): enough for exact-math tests."""
    models = {}
    for i, unit in enumerate(("rnn", "gru", "lstm", "nlstm")):
        torch.manual_seed(100 + i)
        models[unit] = AutocompleteRNN(tiny_config(unit, list(toy_dataset.words))).eval()
    return models


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, toy_dataset) -> Path:
    """A tiny GRU trained for a few seconds on the toy corpus, as a complete model directory."""
    out = tmp_path_factory.mktemp("trained") / "gru"
    config = TrainConfig(unit="gru", hidden_size=24, num_layers=1, embedding_size=12, corpus="toy",
                         vocab_words=20, seq_len=40, max_chars=60_000, batch_size=16, learning_rate=0.01,
                         valid_every_chars=40_000, valid_chars=2_000, checkpoint_every_seconds=1e9)
    train(config, out, dataset=toy_dataset, log=lambda m: None, progress=False)
    return out
