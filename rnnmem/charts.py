"""Altair charts for the app: accuracy by characters seen, training curves and the memory measure; the
clickable text of the connectivity view is rnnmem.textchart (its names are also here). Pure functions of
plain data (no Streamlit), so tests can inspect the specs.

User text only ever reaches a chart as data in text marks and tooltips; Vega draws it as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import altair as alt
import pandas as pd

from .article_data import load_article_accuracy  # noqa: F401 (the pages read it here)
from .textchart import (ARTICLE_EXTENT, COLOUR_MAPPINGS, CONNECTIVITY_SCHEME, DARK_TEXT, LATER_TEXT,  # noqa: F401
                        LIGHT_TEXT, TEXT_COLUMNS, connectivity_figure, connectivity_legend,
                        connectivity_legend_spec, connectivity_table, connectivity_text_chart, connectivity_title,
                        connectivity_text_frame, connectivity_text_spec, scale_title, text_layout)
from .units import REGISTRY, UNIT_NAMES, UNITS

UNIT_COLOURS = {unit.id: unit.colour for unit in REGISTRY.values()}  # one colour per unit everywhere
TOPK_DASHES = {"top-1": [1, 0], "top-2": [6, 3], "top-3": [2, 2]}
ARTICLE_SOURCE = "article (2×600, GPU)"


def unit_colour_scale(names: Iterable[str] | None = None) -> alt.Scale:
    """Each unit's fixed colour, for the unit display names present (all units when ``names`` is None), so
    the legend lists only what is drawn and a unit keeps its colour whichever others are shown."""
    present = set(UNIT_NAMES.values()) if names is None else set(names)
    units = [u for u in UNITS if UNIT_NAMES[u] in present]
    return alt.Scale(domain=[UNIT_NAMES[u] for u in units], range=[UNIT_COLOURS[u] for u in units])


def line_style_legend(title: str) -> alt.Legend:
    """A legend of line styles (dashes, or a faded line): a short sample line per entry."""
    return alt.Legend(title=title, symbolType="stroke", symbolStrokeColor="#555", symbolStrokeWidth=2,
                      symbolSize=300)


def unit_colour(names: Iterable[str]) -> alt.Color:
    """Colour by unit (``unit_colour_scale``), the legend's symbols opaque whatever the marks' opacity."""
    return alt.Color("unit:N", scale=unit_colour_scale(names), title="unit", legend=alt.Legend(symbolOpacity=1))


def _lines_and_points(base: alt.Chart, point_size: int, **line_styles) -> alt.LayerChart:
    """``base``'s lines, styled by ``line_styles`` (a dash, an opacity: each with a legend of sample lines),
    and a point at every value. Two layers, not a line with a point overlay: Vega-Lite gives an overlaid
    line the legend of a filled point, whose transparent stroke draws a legend of dashes as nothing."""
    lines = base.mark_line(strokeWidth=2).encode(**line_styles)
    points = base.mark_point(size=point_size, filled=True, opacity=1)
    if "opacity" in line_styles:  # the points fade with their line, under the line's legend
        fade = line_styles["opacity"].copy()
        fade.legend = None
        points = points.encode(opacity=fade)
    return alt.layer(lines, points)


# ---- accuracy given characters seen ------------------------------------------------------------------

def accuracy_frame(series: Iterable[tuple[str, str, Mapping]], topk: Sequence[int] = (1, 2, 3),
                   max_seen: int | None = None) -> pd.DataFrame:
    """Long table for ``accuracy_chart``: one row per (unit, source, top-k, characters seen).

    ``series``: (unit id, source label, evaluation dict with ``accuracy_by_chars_seen`` and optional
    ``counts``). Points with a count of zero (nothing was scored there) are left out."""
    rows = []
    for unit, source, evaluation in series:
        table = evaluation["accuracy_by_chars_seen"]
        counts = evaluation.get("counts")
        for k in topk:
            for seen, accuracy in enumerate(table[f"top{k}"]):
                if max_seen is not None and seen > max_seen:
                    break
                count = counts[seen] if counts is not None and seen < len(counts) else None
                if count == 0:
                    continue
                rows.append({"unit": UNIT_NAMES.get(unit, unit), "source": source, "top-k": f"top-{k}",
                             "chars seen": seen, "accuracy": float(accuracy), "characters scored": count})
    frame = pd.DataFrame(rows, columns=["unit", "source", "top-k", "chars seen", "accuracy", "characters scored"])
    frame["characters scored"] = frame["characters scored"].astype("Int64")
    return frame


def accuracy_chart(frame: pd.DataFrame, *, height: int = 420) -> alt.LayerChart:
    """Accuracy against characters seen: colour = unit, dash = top-k, and the article's curves (when in
    ``frame``) as lighter lines with points."""
    sources = list(dict.fromkeys(frame["source"])) or ["this app"]
    opacity = alt.Scale(domain=sources, range=[1.0 if s != ARTICLE_SOURCE else 0.45 for s in sources])
    base = alt.Chart(frame).encode(
        x=alt.X("chars seen:Q", title="characters of the word seen", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=unit_colour(frame["unit"]),
        detail="source:N",
        tooltip=[alt.Tooltip("unit:N"), alt.Tooltip("source:N"), alt.Tooltip("top-k:N"),
                 alt.Tooltip("chars seen:Q", title="characters seen"),
                 alt.Tooltip("accuracy:Q", format=".1%"),
                 alt.Tooltip("characters scored:Q", format=",")],
    )
    dash = alt.StrokeDash("top-k:N", scale=alt.Scale(domain=list(TOPK_DASHES), range=list(TOPK_DASHES.values())),
                          legend=line_style_legend("top-k"))
    faded = alt.Opacity("source:N", scale=opacity, legend=line_style_legend("source"))
    return _lines_and_points(base, 28, strokeDash=dash, opacity=faded).properties(height=height)


# ---- training curves -----------------------------------------------------------------------------------

LOSS_X = {"chars": ("chars_seen", "characters seen"), "steps": ("step", "training steps"),
          "time": ("seconds", "seconds of training")}


def loss_frame(logs: Mapping[str, Sequence[Mapping]]) -> pd.DataFrame:
    """Long table for ``loss_chart``: one row per (unit, logged row, split). Missing or non-finite losses
    are left out."""
    return _log_frame(logs, {"training": "train_loss", "validation": "valid_loss"}, kind="split", value="loss")


def _log_frame(logs: Mapping[str, Sequence[Mapping]], columns: Mapping[str, str], *, kind: str,
               value: str) -> pd.DataFrame:
    """Long table of training logs: one row per (unit, logged row, label of ``columns``) whose log column
    holds a finite number; ``kind`` names the label's column and ``value`` the number's."""
    rows = []
    for unit, log in logs.items():
        for entry in log:
            for label, column in columns.items():
                number = entry.get(column)
                if number is None or not math.isfinite(float(number)):
                    continue
                rows.append({"unit": UNIT_NAMES.get(unit, unit), kind: label, "step": int(entry["step"]),
                             "chars_seen": int(entry["chars_seen"]), "seconds": float(entry["seconds"]),
                             value: float(number)})
    return pd.DataFrame(rows, columns=["unit", kind, "step", "chars_seen", "seconds", value])


def loss_chart(frame: pd.DataFrame, *, x: str = "chars", log_y: bool = False, height: int = 380) -> alt.LayerChart:
    """Training and validation cross-entropy against characters seen, steps or time."""
    field, title = LOSS_X[x]
    base = alt.Chart(frame).encode(
        x=alt.X(f"{field}:Q", title=title, axis=alt.Axis(format=".3~s")),
        y=alt.Y("loss:Q", title="cross-entropy (nats)", scale=alt.Scale(type="log" if log_y else "linear",
                                                                         zero=False)),
        color=unit_colour(frame["unit"]),
        detail="split:N",
        tooltip=[alt.Tooltip("unit:N"), alt.Tooltip("split:N", title="loss"),
                 alt.Tooltip("loss:Q", format=".3f"), alt.Tooltip("step:Q", format=","),
                 alt.Tooltip("chars_seen:Q", title="characters seen", format=","),
                 alt.Tooltip("seconds:Q", format=",.0f")],
    )
    dash = alt.StrokeDash("split:N", scale=alt.Scale(domain=["training", "validation"], range=[[1, 0], [5, 3]]),
                          legend=line_style_legend("loss"))
    return _lines_and_points(base, 30, strokeDash=dash).properties(height=height)


# axis titles: short enough for a chart's height; the page's caption says what each measure is
MEMORY_MEASURES = {"d90": "d90 (characters back)", "d50": "d50 (characters back)",
                   "context_share": "context share"}


def memory_frame(logs: Mapping[str, Sequence[Mapping]]) -> pd.DataFrame:
    """Long table for ``memory_chart``: one row per (unit, logged row, measure) where the log has the
    memory measure (rnnmem.memory, on the run's fixed validation sample). Rows logged before the
    measure existed have empty cells and are left out."""
    return _log_frame(logs, {measure: measure for measure in MEMORY_MEASURES}, kind="measure", value="value")


def memory_chart(frame: pd.DataFrame, measure: str = "d90", *, x: str = "chars", height: int = 300) -> alt.Chart:
    """How far back each model looks as it trains: one memory measure against characters seen, steps
    or time."""
    field, title = LOSS_X[x]
    data = frame[frame["measure"] == measure]
    return (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=30, filled=True), strokeWidth=2)
        .encode(
            x=alt.X(f"{field}:Q", title=title, axis=alt.Axis(format=".3~s")),
            y=alt.Y("value:Q", title=MEMORY_MEASURES[measure],
                    axis=alt.Axis(format=".0%" if measure == "context_share" else ".1f")),
            color=alt.Color("unit:N", scale=unit_colour_scale(data["unit"]), title="unit"),
            tooltip=[alt.Tooltip("unit:N"), alt.Tooltip("value:Q", title=measure,
                                                        format=".3f" if measure == "context_share" else ".2f"),
                     alt.Tooltip("step:Q", format=","),
                     alt.Tooltip("chars_seen:Q", title="characters seen", format=",")],
        )
        .properties(height=height)
    )


__all__ = ["ARTICLE_EXTENT", "ARTICLE_SOURCE", "COLOUR_MAPPINGS", "CONNECTIVITY_SCHEME", "DARK_TEXT", "LATER_TEXT",
           "LIGHT_TEXT", "MEMORY_MEASURES", "TEXT_COLUMNS",
           "UNIT_COLOURS", "accuracy_chart", "accuracy_frame", "connectivity_figure", "connectivity_legend",
           "connectivity_legend_spec", "connectivity_table", "connectivity_text_chart", "connectivity_text_frame",
           "connectivity_text_spec", "connectivity_title", "line_style_legend", "load_article_accuracy",
           "loss_chart", "loss_frame", "memory_chart", "memory_frame", "scale_title", "text_layout",
           "unit_colour", "unit_colour_scale"]
