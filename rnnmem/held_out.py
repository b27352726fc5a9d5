"""A model's held-out text: a corpus prepared as the model's training data was, and split as it was.

The evaluations, the memory measure and recall are only fair on text the model never learnt, so every
one of them (the CLI's ``--corpus``, ``scripts.ship_weights``, the model cards' figures, the Memory page's
corpus source) takes its corpus text through here: the same vocabulary size, sequence length and split
seed as the model's training run, the targets in the model's own vocabulary.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from .dataset import UNKNOWN_ID, DatasetConfig, PreparedDataset, prepare_dataset, sequence_texts


def dataset_like(model, corpus: str, data_seed: int = 0, *, log=lambda message: None) -> PreparedDataset:
    """``corpus`` prepared as ``model``'s training data was (its vocabulary size and sequence length;
    ``data_seed`` the split's seed). The prepared corpus is cached on disk (rnnmem.dataset)."""
    return prepare_dataset(corpus, DatasetConfig(vocab_words=len(model.words) - 2,
                                                 max_seq_len=model.config.max_seq_len, seed=data_seed), log=log)


def split_sequences(model, corpus: str, split: str, data_seed: int = 0, *, log=lambda message: None):
    """(sequences, characters, description): the (chars, targets) sequences of ``corpus``'s ``split``, in
    order and lazily, with targets re-indexed into the model's vocabulary (a model trained on another
    corpus has other word ids); their characters in all; the corpus's description."""
    dataset = dataset_like(model, corpus, data_seed, log=log)
    if list(dataset.words) == list(model.words):
        remap = None
    else:
        index = model.word_ids
        remap = np.array([index.get(w, UNKNOWN_ID) for w in dataset.words], dtype=np.int64)
    starts, lengths = dataset.sequences(split)

    def sequences():
        for s, n in zip(starts.tolist(), lengths.tolist()):
            targets = np.asarray(dataset.targets[s:s + n], dtype=np.int64)
            yield np.asarray(dataset.chars[s:s + n]), (remap[targets] if remap is not None else targets)

    return sequences(), int(lengths.sum()), dataset.description or corpus


def take_chars(sequences: Iterable, max_chars: int | None) -> Iterator:
    """The (chars, targets) sequences up to ``max_chars`` characters in all, the last one cut to fit (a
    prediction depends only on the characters before it, so a cut sequence scores as it would whole)."""
    seen = 0
    for chars, targets in sequences:
        if max_chars is not None:
            if seen >= max_chars:
                return
            chars, targets = chars[:max_chars - seen], targets[:max_chars - seen]
        seen += len(chars)
        yield chars, targets


def held_out_texts(model, corpus: str, split: str = "test", *, data_seed: int = 0, log=lambda m: None) -> list[str]:
    """The normalised text of every sequence of ``corpus``'s ``split``, prepared as ``model``'s training
    data was, so that the test split is text the model never learnt."""
    return sequence_texts(dataset_like(model, corpus, data_seed, log=log), split)
