"""The memory figures a shipped model carries in its ``memory.json`` and model card.

One function for both shipped sets (``scripts.ship_weights`` for the CPU-trained defaults,
``scripts.collect_article_models`` for the article-size GPU models), so that their cards quote figures
measured the same way: the memory measure (rnnmem.memory) on whole sequences of the corpus's test split,
recall against its control (rnnmem.recall) on the test split's first characters, and the model's
connectivity, ranks and probabilities on the article's walkthrough paragraph beside the article's own
published model of the same unit.
"""

from __future__ import annotations

from .errors import InputError
from .held_out import held_out_texts, split_sequences, take_chars
from .memory import memory_profile
from .recall import recall_profile
from .walkthrough import model_report

MEMORY_SEED = 0  # one seed for every shipped model: the same test sequences, in the same order
# The test split's first characters that recall is measured on: the accuracy's sample in
# scripts.ship_weights (--eval-chars), about 1,600 recall moments for the shipped vocabulary.
RECALL_CHARS = 300_000


def recall_report(model, corpus: str, max_chars: int = RECALL_CHARS, seed: int = MEMORY_SEED, *,
                  data_seed: int = 0) -> dict:
    """Recall against its control (rnnmem.recall, two control moments per recall moment) on the first
    ``max_chars`` characters of ``corpus``'s test split, as ``python -m rnnmem recall MODEL --corpus CORPUS
    --split test --max-chars N --json`` reports it; ``{"moments": 0}`` beside the sample's size if no rarer
    word is read twice in one of its sequences."""
    sequences, _, _ = split_sequences(model, corpus, "test", data_seed)
    sample = list(take_chars(sequences, max_chars))
    head = {"split": "test", "max_chars": max_chars}
    try:
        profile = recall_profile(model, sample, seed=seed)
    except InputError:  # no rarer word read twice: nothing to recall, which the card says
        return {**head, "moments": 0}
    return {**head, **profile.summary()}


def memory_report(model, corpus: str, positions: int, seed: int = MEMORY_SEED, *, data_seed: int = 0,
                  recall_chars: int | None = RECALL_CHARS) -> dict:
    """{"held_out": memory on ``positions`` positions of the test split, "recall": recall against its
    control on its first ``recall_chars`` characters (left out if None), "walkthrough": the paragraph's
    measures (ours and the article's), "moments": the three walkthrough moments}. ``corpus`` must be the
    one the model was trained on, split with the ``data_seed`` it was trained with, so that its test split
    is held out."""
    profile = memory_profile(model, held_out_texts(model, corpus, data_seed=data_seed), positions=positions,
                             seed=seed)
    report = model_report(model)
    figures = {"held_out": {"split": "test", **profile.summary()}}
    if recall_chars is not None:
        figures["recall"] = recall_report(model, corpus, recall_chars, seed, data_seed=data_seed)
    return {**figures, "walkthrough": {"model": report["model"], "article": report.get("article")},
            "moments": report["moments"]}
