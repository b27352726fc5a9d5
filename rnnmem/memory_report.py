"""The memory figures a shipped model carries in its ``memory.json`` and model card.

One function for both shipped sets (``scripts.ship_weights`` for the CPU-trained defaults,
``scripts.collect_article_models`` for the article-size GPU models), so that their cards quote figures
measured the same way: the memory measure (rnnmem.memory) on whole sequences of the corpus's test split,
and the model's connectivity, ranks and probabilities on the article's walkthrough paragraph beside the
article's own published model of the same unit.
"""

from __future__ import annotations

from .dataset import DatasetConfig, prepare_dataset, sequence_texts
from .memory import memory_profile
from .walkthrough import model_report

MEMORY_SEED = 0  # one seed for every shipped model: the same test sequences, in the same order


def held_out_texts(model, corpus: str, split: str = "test", *, data_seed: int = 0, log=lambda m: None) -> list[str]:
    """The normalised text of every sequence of ``corpus``'s ``split``, prepared as ``model``'s training
    data was (its vocabulary size and sequence length; ``data_seed`` the split's seed), so that the test
    split is text the model never learnt. The prepared corpus is cached on disk (rnnmem.dataset)."""
    dataset = prepare_dataset(corpus, DatasetConfig(vocab_words=len(model.words) - 2,
                                                    max_seq_len=model.config.max_seq_len, seed=data_seed), log=log)
    return sequence_texts(dataset, split)


def memory_report(model, corpus: str, positions: int, seed: int = MEMORY_SEED, *, data_seed: int = 0) -> dict:
    """{"held_out": memory on ``positions`` positions of the test split, "walkthrough": the paragraph's
    measures (ours and the article's), "moments": the three walkthrough moments}. ``corpus`` must be the
    one the model was trained on, split with the ``data_seed`` it was trained with, so that its test split
    is held out."""
    profile = memory_profile(model, held_out_texts(model, corpus, data_seed=data_seed), positions=positions,
                             seed=seed)
    report = model_report(model)
    return {"held_out": {"split": "test", **profile.summary()},
            "walkthrough": {"model": report["model"], "article": report.get("article")},
            "moments": report["moments"]}
