"""Altair charts of the Memory page, each drawing one table of rnnmem.memory_tables as it is: the memory
profile with its bands, the accuracy breakdowns, and a text's connectivity matrix (one unit's, or the
difference between two). Units keep their colours (rnnmem.charts.unit_colour_scale); clicking a unit in
a legend highlights it. Pure functions of plain data (no Streamlit).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from .charts import line_style_legend, unit_colour, unit_colour_scale
from .memory_tables import ARTICLE_SOURCE, OURS, SCALES, word_boundaries

SOURCE_DASHES = {OURS: [1, 0], ARTICLE_SOURCE: [5, 3]}
LOG_TICKS = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1]  # the symlog axis's own ticks are only 0%, 10%, 20%
MATRIX_SIZE = 460  # pixels a side of a matrix heatmap
FAINT = 1e-3  # cells whose row share (or difference) is under 0.1% are not drawn: most of a 200-character
# matrix's 20,000 cells, which as SVG rectangles made each heatmap take tens of seconds in the browser


def _unit_highlight() -> alt.Parameter:
    return alt.selection_point(fields=["unit"], bind="legend", name="unit_pick")


def profile_chart(frame: pd.DataFrame, *, log_y: bool = True, height: int = 380) -> alt.LayerChart:
    """Mean row share against distance back (characters or words, the frame's ``scale``), one line per
    (unit, source) with its 95% band; the article's curves dashed."""
    scale = frame["scale"].iloc[0] if len(frame) else "chars"
    pick = _unit_highlight()
    sources = list(dict.fromkeys(frame["source"])) or [OURS]
    dashes = alt.Scale(domain=sources, range=[SOURCE_DASHES.get(s, [1, 0]) for s in sources])
    y_scale = alt.Scale(type="symlog", constant=1e-3) if log_y else alt.Scale(type="linear")
    base = alt.Chart(frame).encode(
        x=alt.X("distance:Q", title=SCALES[scale], axis=alt.Axis(tickMinStep=1, format="d")),
        # the legend stated on both layers: left to merge the band's and the line's, Vega-Lite took the
        # band's (faint symbols, no selection bound to it: clicking a unit did nothing)
        color=unit_colour(frame["unit"]),
        detail="source:N",
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
    )
    band = base.mark_area(opacity=0.18).encode(y=alt.Y("low:Q", scale=y_scale), y2="high:Q",
                                               opacity=alt.condition(pick, alt.value(0.18), alt.value(0.03)))
    mean = base.encode(
        y=alt.Y("mean:Q", title="mean share of the row's connectivity", scale=y_scale,
                axis=alt.Axis(format=".1~%", values=LOG_TICKS if log_y else alt.Undefined)),
        tooltip=[alt.Tooltip("unit:N"), alt.Tooltip("source:N"), alt.Tooltip("distance:Q", title=SCALES[scale]),
                 alt.Tooltip("mean:Q", format=".2%"), alt.Tooltip("low:Q", title="95% low", format=".2%"),
                 alt.Tooltip("high:Q", title="95% high", format=".2%"),
                 alt.Tooltip("rows:Q", title="positions reaching it", format=",")])
    # lines and points apart (not a point overlay), so the dash legend shows sample lines (rnnmem.charts)
    line = mean.mark_line(strokeWidth=2).encode(
        strokeDash=alt.StrokeDash("source:N", scale=dashes, legend=line_style_legend("source"))).add_params(pick)
    points = mean.mark_point(size=18, filled=True)
    return alt.layer(band, line, points).properties(height=height)


def breakdown_chart(frame: pd.DataFrame, banded_by: str = "band", *, height: int = 220) -> alt.FacetChart:
    """Accuracy against characters seen, one panel per band of a breakdown (rnnmem.breakdowns: ``banded_by``
    titles the panels, so "top 100" reads as a rank, not as an accuracy), one line per unit."""
    pick = _unit_highlight()
    bands = list(dict.fromkeys(frame["band"]))
    topk = frame["top-k"].iloc[0] if len(frame) else "top-1"
    return (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=24, filled=True), strokeWidth=2)
        .encode(
            x=alt.X("chars seen:Q", title="characters of the word seen", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("accuracy:Q", title=f"{topk} accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color("unit:N", scale=unit_colour_scale(frame["unit"]), title="unit"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
            tooltip=[alt.Tooltip("unit:N"), alt.Tooltip("band:N"), alt.Tooltip("chars seen:Q"),
                     alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("characters scored:Q", format=",")],
        )
        .add_params(pick)
        .properties(width=170 if len(bands) <= 4 else 135, height=height)  # five panels on a laptop's width
        .facet(column=alt.Column("band:N", sort=bands, title=banded_by))
    )


def _matrix_layers(frame: pd.DataFrame, text: str, colour: alt.Color, tooltip: list) -> alt.LayerChart:
    """Cells (output row, input column; output 0 at the top) and light rules at every word boundary."""
    T = len(text)
    axis = alt.Axis(tickMinStep=1, format="d", grid=False)
    cells = alt.Chart(frame).transform_calculate(input_end="datum.input + 1", output_end="datum.output + 1") \
        .mark_rect().encode(
            x=alt.X("input:Q", title="input position", scale=alt.Scale(domain=[0, T], nice=False), axis=axis),
            x2="input_end:Q",
            y=alt.Y("output:Q", title="output position", scale=alt.Scale(domain=[0, T], nice=False, reverse=True),
                    axis=axis),
            y2="output_end:Q", color=colour, tooltip=tooltip)
    boundaries = pd.DataFrame({"boundary": word_boundaries(text)})
    vertical = alt.Chart(boundaries).mark_rule(color="#888", strokeWidth=0.5, opacity=0.5).encode(x="boundary:Q")
    horizontal = alt.Chart(boundaries).mark_rule(color="#888", strokeWidth=0.5, opacity=0.5).encode(y="boundary:Q")
    return alt.layer(cells, vertical, horizontal).properties(width=MATRIX_SIZE, height=MATRIX_SIZE)


_CELL_TOOLTIP = [alt.Tooltip("output:Q"), alt.Tooltip("output char:N"), alt.Tooltip("output word:N"),
                 alt.Tooltip("input:Q"), alt.Tooltip("input char:N"), alt.Tooltip("words back:Q")]


def matrix_chart(frame: pd.DataFrame, text: str) -> alt.LayerChart:
    """One unit's connectivity matrix as row shares (square-root colour scale, so faint long-range links
    show; white is none, so the blank cells under ``FAINT`` read as nearly none), word boundaries marked."""
    frame = frame[frame["share"] >= FAINT]
    colour = alt.Color("share:Q", title="row share", scale=alt.Scale(type="sqrt", scheme="blues", domain=[0, 1]),
                       legend=alt.Legend(format=".0%"))
    return _matrix_layers(frame, text, colour, _CELL_TOOLTIP + [alt.Tooltip("share:Q", format=".2%")])


def difference_chart(frame: pd.DataFrame, text: str) -> alt.LayerChart:
    """The difference of two units' row shares (first − second) on one text: red where the first unit's
    prediction depends more on that input, blue where the second's does. Square-root colours like the
    matrices', so the many small differences away from the diagonal show; differences under ``FAINT`` blank."""
    frame = frame[frame["difference"].abs() >= FAINT]
    shares = [column for column in frame.columns if column.startswith("share ")]
    peak = float(frame["difference"].abs().max()) if len(frame) else 1.0
    title = f"{shares[0][6:]} − {shares[1][6:]}" if len(shares) == 2 else "difference"
    colour = alt.Color("difference:Q", title=title,
                       scale=alt.Scale(type="sqrt", scheme="redblue", reverse=True, domain=[-peak or -1, peak or 1],
                                        domainMid=0),
                       legend=alt.Legend(format="+.0%"))
    tooltip = _CELL_TOOLTIP + [alt.Tooltip(f"{name}:Q", format=".2%") for name in shares] \
        + [alt.Tooltip("difference:Q", format="+.2%")]
    return _matrix_layers(frame, text, colour, tooltip)
