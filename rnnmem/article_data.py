"""The article's published accuracy curves (``data/article_accuracy.json``), by our unit ids.

The article published them for its 2×600 GRU, LSTM and Nested LSTM trained 2 epochs on text8 on a GPU;
each unit's name in that file is its ``article_name`` in rnnmem.units.
"""

from __future__ import annotations

import json
from importlib import resources

from .units import REGISTRY

ARTICLE_UNITS = tuple(unit.id for unit in REGISTRY.values() if unit.article_name)  # ("gru", "lstm", "nlstm")


def load_article_accuracy() -> dict[str, dict]:
    """The article's published accuracy curves, by our unit id, in the shape of an evaluation file
    (``accuracy_by_chars_seen`` with top1/top2/top3; no counts). Trailing all-zero columns are dropped:
    they mark word lengths the authors' test split did not have, not zero accuracy."""
    text = resources.files("rnnmem").joinpath("data/article_accuracy.json").read_text(encoding="utf-8")
    data = json.loads(text)
    curves = {}
    for unit in ARTICLE_UNITS:
        rows = [list(map(float, row)) for row in data[REGISTRY[unit].article_name]]
        n = len(rows[0])
        while n > 0 and all(row[n - 1] == 0 for row in rows):
            n -= 1
        curves[unit] = {"accuracy_by_chars_seen": {f"top{k + 1}": rows[k][:n] for k in range(3)}, "counts": None}
    return curves
