"""Chart builders: the data they draw, their encodings, and the article's reference numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rnnmem import charts

REPO = Path(__file__).resolve().parent.parent


def test_article_accuracy_is_packaged_with_its_source_and_matches_definitions():
    raw = json.loads((REPO / "rnnmem" / "data" / "article_accuracy.json").read_text())
    assert "MIT" in raw["_source"] and "distillpub/post--memorization-in-rnns" in raw["_source"]
    curves = charts.load_article_accuracy()
    assert set(curves) == {"gru", "lstm", "nlstm"}
    # docs/definitions.md, "Characters seen and accuracy": top-1 at 0 / 1 / 2 / 3 characters seen.
    expected = {"gru": [.165, .383, .556, .658], "lstm": [.167, .376, .539, .641], "nlstm": [.137, .326, .492, .591]}
    for unit, values in expected.items():
        np.testing.assert_allclose(curves[unit]["accuracy_by_chars_seen"]["top1"][:4], values, atol=6e-4)
        table = curves[unit]["accuracy_by_chars_seen"]
        assert all(a <= b <= c for a, b, c in zip(table["top1"], table["top2"], table["top3"]))  # cumulative
        assert table["top1"][-1] > 0  # trailing no-data columns dropped


def evaluation() -> dict:
    return {"accuracy_by_chars_seen": {"top1": [0.1, 0.3, 0.5], "top2": [0.2, 0.4, 0.6], "top3": [0.3, 0.5, 0.7]},
            "counts": [10, 0, 4]}


def test_accuracy_frame_rows_skip_empty_counts_and_respect_options():
    frame = charts.accuracy_frame([("gru", "this app's model", evaluation())], topk=(1, 3), max_seen=5)
    assert set(frame["top-k"]) == {"top-1", "top-3"}
    assert list(frame["chars seen"]) == [0, 2, 0, 2]  # nothing was scored at 1 character seen
    assert frame.loc[0, "unit"] == "GRU" and frame.loc[0, "characters scored"] == 10
    clipped = charts.accuracy_frame([("gru", "x", evaluation())], max_seen=0)
    assert list(clipped["chars seen"].unique()) == [0]


def test_accuracy_chart_encodes_unit_colour_topk_dash_and_tooltips():
    article = charts.load_article_accuracy()
    frame = charts.accuracy_frame([("gru", "this app's model", evaluation()),
                                   ("gru", charts.ARTICLE_SOURCE, article["gru"])])
    spec = charts.accuracy_chart(frame).to_dict()
    lines, points = spec["layer"]
    encoding = lines["encoding"]
    assert encoding["color"]["field"] == "unit"
    assert encoding["color"]["scale"] == {"domain": ["GRU"], "range": [charts.UNIT_COLOURS["gru"]]}  # only drawn units
    assert encoding["strokeDash"]["field"] == "top-k"
    assert encoding["opacity"]["field"] == "source"
    assert points["encoding"]["opacity"]["field"] == "source"  # a faded line's points fade too
    assert {t["field"] for t in encoding["tooltip"]} >= {"unit", "accuracy", "chars seen", "characters scored"}
    assert encoding["y"]["axis"]["format"] == "%"


def test_loss_frame_and_chart():
    logs = {"gru": [{"step": 10, "chars_seen": 1000, "seconds": 5, "train_loss": 6.0, "valid_loss": 6.2},
                    {"step": 20, "chars_seen": 2000, "seconds": 9, "train_loss": 5.0, "valid_loss": float("nan")}]}
    frame = charts.loss_frame(logs)
    assert len(frame) == 3  # the NaN validation loss is left out
    assert set(frame["split"]) == {"training", "validation"}
    spec = charts.loss_chart(frame, x="steps", log_y=True).to_dict()
    for layer in spec["layer"]:  # the lines, and their points
        assert layer["encoding"]["x"]["field"] == "step"
        assert layer["encoding"]["y"]["scale"]["type"] == "log"
    assert charts.loss_frame({}).empty


def test_line_style_legends_draw_their_sample_lines():
    """The legends of dashes (top-k, training or validation, the article's curves) and of faded lines show a
    sample line per entry: compiled to Vega, no legend's symbols are made transparent or filled, as
    Vega-Lite makes them for a line with a point overlay (once, the legends showed labels only)."""
    import vl_convert

    from rnnmem.exports import _vega_lite_version, vega_lite_spec

    article = charts.load_article_accuracy()
    accuracy = charts.accuracy_chart(charts.accuracy_frame([("gru", "this app's model", evaluation()),
                                                            ("gru", charts.ARTICLE_SOURCE, article["gru"])]))
    loss = charts.loss_chart(charts.loss_frame({"gru": [{"step": 1, "chars_seen": 10, "seconds": 1.0,
                                                         "train_loss": 3.0, "valid_loss": 3.1}]}))
    from rnnmem import memory_charts, memory_tables

    profile = memory_charts.profile_chart(memory_tables.profile_frame(memory_tables.article_series(["gru"]), "chars", 9))
    for chart, titles in ((accuracy, {"top-k", "source"}), (loss, {"loss"}), (profile, {"source"})):
        vega = vl_convert.vegalite_to_vega(vega_lite_spec(chart), vl_version=_vega_lite_version())
        legends = {legend["title"]: legend for legend in vega["legends"]}
        assert set(legends) == titles | {"unit"}
        for title in titles:
            assert legends[title]["symbolType"] == "stroke" and legends[title]["symbolStrokeColor"] == "#555"
            update = legends[title].get("encode", {}).get("symbols", {}).get("update", {})
            assert update.get("stroke", {}).get("value") != "transparent" and "fill" not in update
        assert legends["unit"]["symbolType"] == "circle" and legends["unit"]["symbolOpacity"] == 1


def test_text_layout_wraps_at_word_boundaries():
    text = " the cat sat on the mat"
    places = charts.text_layout(text, columns=10)
    assert len(places) == len(text)
    lines = {}
    for ch, (line, col) in zip(text, places):
        lines.setdefault(line, []).append((col, ch))
    rendered = ["".join(ch for _, ch in sorted(cells)) for _, cells in sorted(lines.items())]
    assert rendered == [" the cat ", "sat on ", "the mat"]  # "sat on the" fits, but not with its space
    assert all(col < 10 for _, col in places)


def test_text_layout_splits_words_longer_than_a_line():
    places = charts.text_layout(" " + "a" * 25, columns=10)
    assert max(line for line, _ in places) == 2
    assert all(col < 10 for _, col in places)
    with pytest.raises(ValueError):
        charts.text_layout("x", columns=1)


def test_connectivity_text_frame_marks_context_selected_and_later():
    text = " ab cd"
    scaled = np.array([0.1, 0.5, 1.0, 0.2, 0.9, 0.4])
    frame = charts.connectivity_text_frame(text, scaled, position=3)
    assert list(frame["state"]) == ["context"] * 3 + ["selected", "later", "later"]
    assert list(frame["connectivity"]) == [0.1, 0.5, 1.0, 0.2, 0.0, 0.0]  # nothing after the selection
    assert list(frame["seen"]) == [0, 1, 2, 0, 1, 2]
    assert list(frame["char"]) == list(text)


def test_connectivity_chart_keeps_user_text_as_data_and_selects_by_index():
    hostile = " <img src=x onerror=alert(1)> <script>window.__pwned=1</script>"
    frame = charts.connectivity_text_frame(hostile, np.linspace(0, 1, len(hostile)), position=10)
    spec = charts.connectivity_text_chart(frame, select_on="pointerover").to_dict()
    params = spec["params"]
    assert params[0]["name"] == "pick" and params[0]["select"]["fields"] == ["index"]
    assert params[0]["select"]["on"] == "pointerover"
    letters = spec["layer"][1]
    assert letters["mark"]["type"] == "text" and letters["encoding"]["text"]["field"] == "char"
    data = next(iter(spec["datasets"].values()))
    assert "".join(row["char"] for row in data) == hostile  # drawn as text marks, character by character


def test_connectivity_colours_are_the_articles_by_default():
    """viridis(0.29 + r·(2/3 − 0.29)) for r = connectivity / row max in [0, 1], opaque, light text; later
    characters unfilled; a legend shows the scale. "faded" keeps the old square-root opacity."""
    frame = charts.connectivity_text_frame(" the cat sat", np.linspace(0, 1, 12), position=6)
    cells, letters = charts.connectivity_text_chart(frame).to_dict()["layer"]
    fill = cells["encoding"]["fill"]
    assert fill["condition"]["test"] == "(datum.state === 'later')" and fill["condition"]["value"] is None
    assert fill["scale"] == {"domain": [0, 1], "scheme": {"name": "viridis", "extent": [0.29, 2 / 3]}}
    legend = charts.connectivity_legend().to_dict()
    assert legend["encoding"]["fill"]["scale"] == fill["scale"]  # the legend is the cells' own scale
    rows = next(iter(legend["datasets"].values()))
    assert rows[0]["r"] == 0 and rows[-1]["r"] == 1  # from no link to the row's strongest
    assert "fillOpacity" in charts.connectivity_legend("faded").to_dict()["encoding"]
    assert "fillOpacity" not in cells["encoding"] and "opacity" not in cells["encoding"]  # opaque
    assert letters["encoding"]["color"]["value"] == charts.LIGHT_TEXT
    faded_cells, faded_letters = charts.connectivity_text_chart(frame, colours="faded").to_dict()["layer"]
    assert faded_cells["encoding"]["fillOpacity"]["scale"]["type"] == "sqrt"
    assert faded_letters["encoding"]["color"]["value"] == charts.DARK_TEXT
    with pytest.raises(ValueError, match="colour mapping"):
        charts.connectivity_text_chart(frame, colours="rainbow")


def test_fast_text_spec_is_the_altair_chart_with_this_texts_rows():
    frame = charts.connectivity_text_frame(" the cat sat on the mat " * 6, np.linspace(0, 1, 144), position=70)
    fast = charts.connectivity_text_spec(frame, select_on="click")
    full = charts.connectivity_text_chart(frame, select_on="click").to_dict()
    assert fast["datasets"]["chars"] is frame
    for spec in (fast, full):
        spec.pop("datasets")
        spec.pop("data")
    generated_view_names = re.compile(r"view_[0-9a-f]+_\d+")
    assert generated_view_names.sub("view", json.dumps(fast)) == generated_view_names.sub("view", json.dumps(full))


def test_memory_frame_and_chart_skip_rows_without_the_measure():
    logs = {"gru": [{"step": 1, "chars_seen": 100, "seconds": 1.0, "train_loss": 3.0, "valid_loss": 3.1,
                     "context_share": None, "d50": None, "d90": None},
                    {"step": 2, "chars_seen": 200, "seconds": 2.0, "train_loss": 2.0, "valid_loss": 2.1,
                     "context_share": 0.25, "d50": 1.5, "d90": 5.5}]}
    frame = charts.memory_frame(logs)
    assert sorted(frame["measure"]) == ["context_share", "d50", "d90"] and set(frame["chars_seen"]) == {200}
    spec = charts.memory_chart(frame, "d90", x="steps").to_dict()
    assert spec["encoding"]["x"]["field"] == "step" and spec["encoding"]["y"]["field"] == "value"
    rows = next(iter(spec["datasets"].values()))
    assert [row["value"] for row in rows] == [5.5]
    assert charts.memory_frame({"gru": logs["gru"][:1]}).empty
