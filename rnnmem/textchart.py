"""The connectivity view's text as a chart: a grid of character cells coloured by their connectivity to the
selected character, clickable, and its colour scale. Pure functions of plain data (no Streamlit).

User text only ever reaches the chart as data in text marks and tooltips; Vega draws it as text.
"""

from __future__ import annotations

import functools
import json

import altair as alt
import numpy as np
import pandas as pd

from .text import chars_seen_of

# The article fills each character with viridis(0.29 + r·(2/3 − 0.29)), r = connectivity / row maximum:
# opaque cells from teal-blue (no link) to green (the strongest), with light text on them.
ARTICLE_EXTENT = [0.29, 2 / 3]
CONNECTIVITY_SCHEME = alt.SchemeParams(name="viridis", extent=ARTICLE_EXTENT)
# How a row's scaled connectivity becomes colour: the article's mapping (default), or "faded": the same
# colours fading into the background by a square-root opacity (faint links stay visible on white).
COLOUR_MAPPINGS = {"article": "the article's colours", "faded": "faded onto white"}
LIGHT_TEXT, DARK_TEXT, LATER_TEXT = "#f7f7f7", "#1a1a1a", "#a0a0a0"
TEXT_COLUMNS = 64  # characters per line of the connectivity text
CELL_WIDTH, CELL_HEIGHT = 11, 22  # pixels per character cell (monospace)


def text_layout(text: str, columns: int = TEXT_COLUMNS) -> list[tuple[int, int]]:
    """(line, column) of every character, wrapping at word boundaries like running text: a word that does
    not fit with the space after it starts the next line (its leading space ends the previous one), so no
    line starts with a space; a word longer than a line is split where it falls."""
    if columns < 2:
        raise ValueError("columns must be at least 2")
    places: list[tuple[int, int]] = []
    line = col = 0
    i = 0
    while i < len(text):
        if text[i] == " ":
            if col >= columns:
                line, col = line + 1, 0
            places.append((line, col))
            col += 1
            i += 1
            continue
        end = text.find(" ", i)
        end = len(text) if end < 0 else end
        length = end - i
        if col > 0 and col + length + 1 > columns and length + 1 <= columns:
            line, col = line + 1, 0
        for _ in range(i, end):
            if col >= columns:
                line, col = line + 1, 0
            places.append((line, col))
            col += 1
        i = end
    return places


def connectivity_text_frame(text: str, scaled: np.ndarray, position: int, raw: np.ndarray | None = None,
                            columns: int = TEXT_COLUMNS) -> pd.DataFrame:
    """One row per character: where it is drawn, its scaled connectivity to the output at ``position``
    (0 after it), and whether it is before, at or after the selected character."""
    places = text_layout(text, columns)
    index = np.arange(len(text))
    state = np.where(index < position, "context", np.where(index == position, "selected", "later"))
    seen = chars_seen_of(np.array([c == " " for c in text], dtype=bool))  # letters of the word seen
    frame = pd.DataFrame({
        "index": index,
        "char": list(text),
        "line": [p[0] for p in places],
        "col": [p[1] for p in places],
        "connectivity": np.where(index <= position, np.asarray(scaled, dtype=float), 0.0),
        "raw": np.where(index <= position, np.asarray(raw if raw is not None else scaled, dtype=float), 0.0),
        "state": state,
        "seen": seen,
    })
    frame["x"] = frame["col"] * CELL_WIDTH
    frame["y"] = frame["line"] * CELL_HEIGHT
    frame["label"] = frame["char"].where(frame["char"] != " ", "␣")
    return frame


def connectivity_table(frame: pd.DataFrame, value: str = "connectivity") -> pd.DataFrame:
    """What a connectivity text chart shows, as a table to download: per character its position, the
    character, the letters of its word seen, its ``value`` (as computed, signed for some attributions;
    0 after the selected character), that scaled as coloured ("scaled": |value| / the row's largest) and
    its state (context, selected, later)."""
    return pd.DataFrame({"position": frame["index"], "char": frame["char"], "seen": frame["seen"],
                         value: frame["raw"], "scaled": frame["connectivity"], "state": frame["state"]})


def connectivity_text_chart(frame: pd.DataFrame, *, select_on: str = "click", name: str = "pick",
                            columns: int = TEXT_COLUMNS, colours: str = "article") -> alt.LayerChart:
    """The text as a grid of character cells, each character up to the selected one filled by its
    connectivity (``colours``: a key of COLOUR_MAPPINGS), the selected character outlined, a legend for
    the scale below. Clicking (or, with ``select_on="pointerover"``, hovering) a cell selects it through
    the point selection ``name``."""
    lines = int(frame["line"].max()) + 1 if len(frame) else 1
    return _text_chart(frame, columns * CELL_WIDTH, lines * CELL_HEIGHT, select_on, name, colours)


def connectivity_text_spec(frame: pd.DataFrame, *, select_on: str = "click", name: str = "pick",
                           columns: int = TEXT_COLUMNS, colours: str = "article",
                           titles: tuple[str, str] = ("connectivity / max", "connectivity")) -> dict:
    """``connectivity_text_chart`` as a Vega-Lite dict, fast: the chart is built and validated once per
    (select_on, name), then each call only fills in this text's rows and size. Building and validating
    the Altair chart costs ~60 ms, too slow to redraw four units within the 100 ms a click may take.
    ``titles``: the tooltip's names of the scaled and raw values (another attribution than connectivity)."""
    spec = json.loads(_text_spec_template(select_on, name, colours, titles))
    lines = int(frame["line"].max()) + 1 if len(frame) else 1
    spec["width"], spec["height"] = columns * CELL_WIDTH, lines * CELL_HEIGHT
    for axis, extent in (("x", spec["width"]), ("y", spec["height"])):  # the pixel scales span the grid
        for layer in spec["layer"]:
            layer["encoding"][axis]["scale"] = {"domain": [0, extent], "range": [0, extent]}
    spec["datasets"] = {"chars": frame}
    return spec


@functools.lru_cache(maxsize=64)
def _text_spec_template(select_on: str, name: str, colours: str, titles: tuple[str, str]) -> str:
    return json.dumps(_text_chart(alt.NamedData("chars"), 0, 0, select_on, name, colours, titles).to_dict())


SCALE_TITLE = "connectivity / row maximum"


def connectivity_legend(colours: str = "article", *, width: int = 260, title: str = SCALE_TITLE) -> alt.Chart:
    """The colour scale of the connectivity text (once on the page, and in each downloaded figure): a strip of
    cells from r = 0 (no link) to r = 1 (the row's strongest link), coloured exactly as the text's cells are;
    ``title`` names r (another attribution than connectivity scales its magnitudes the same way)."""
    if colours not in COLOUR_MAPPINGS:
        raise ValueError(f"unknown colour mapping {colours!r}; expected one of {', '.join(COLOUR_MAPPINGS)}")
    steps = 21
    frame = pd.DataFrame({"r": np.linspace(0, 1, steps)})
    frame["r_end"] = frame["r"] + 1 / (steps - 1)
    encoding = {"fill": alt.Fill("r:Q", scale=alt.Scale(scheme=CONNECTIVITY_SCHEME, domain=[0, 1]), legend=None)}
    if colours == "faded":
        encoding["fillOpacity"] = alt.FillOpacity("r:Q", scale=alt.Scale(type="sqrt", domain=[0, 1], range=[0, 1]),
                                                  legend=None)
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(x=alt.X("r:Q", scale=alt.Scale(domain=[0, 1 + 1 / (steps - 1)], nice=False),
                        axis=alt.Axis(title=title, values=[0, 0.25, 0.5, 0.75, 1],
                                      format=".2~f", grid=False, domain=False)),
                x2="r_end:Q", tooltip=[alt.Tooltip("r:Q", title=title, format=".2f")],
                **encoding)
        # pad: the strip keeps its 14 pixels and the axis goes below it (a "fit" would squeeze it to nothing)
        .properties(width=width, height=14, autosize=alt.AutoSizeParams(type="pad"))
        .configure(background="transparent", view=alt.ViewConfig(stroke=None, strokeWidth=0))
    )


@functools.lru_cache(maxsize=16)
def connectivity_legend_spec(colours: str = "article", title: str = SCALE_TITLE) -> str:
    """``connectivity_legend`` as Vega-Lite JSON, built once per mapping and title: building and validating
    an Altair chart costs tens of milliseconds, and the page draws the scale on every rerun (each click)."""
    return json.dumps(connectivity_legend(colours, title=title).to_dict())


# what only a whole Vega-Lite document may hold, lifted out of the parts of a figure
_TOP_LEVEL_ONLY = ("$schema", "config", "datasets", "autosize", "background", "padding")


def scale_title(value: str = "connectivity") -> str:
    """The colour scale's name for what the cells show: a signed attribution is coloured by its magnitude."""
    return SCALE_TITLE if value == "connectivity" else f"|{value}| / row maximum"


def connectivity_title(who: str, value: str, word: str, text: str, position: int) -> str:
    """A figure's title: whose row, what it shows, of which word, at which character ("GRU: connectivity of
    “grammar” at character 120, “g”"; "…, a space": the drawing fonts have no ␣)."""
    character = "a space" if text[position] == " " else f"“{text[position]}”"
    return f"{who}: {value} of “{word}” at character {position}, {character}"


def connectivity_figure(text_spec: dict, *, colours: str = "article", value: str = "connectivity",
                        title: str | None = None) -> dict:
    """One row's connectivity text (``connectivity_text_spec``'s dict) with its colour scale below it and
    ``title`` above, as one Vega-Lite dict: what a download draws. On the page one scale serves every row;
    a figure taken out of the page must carry its own, or its colours mean nothing. ``value`` names what
    the cells show (another attribution than connectivity is coloured by its magnitude, scaled the same
    way). The row's data stays a DataFrame (rnnmem.exports makes it JSON)."""
    legend = json.loads(connectivity_legend_spec(colours, scale_title(value)))
    parts = [{key: part for key, part in spec.items() if key not in _TOP_LEVEL_ONLY} for spec in (text_spec, legend)]
    # white, not the page's transparent background: a figure's dark text and grey later characters must read
    # in any viewer (a dark one too), and "faded" colours fade onto white
    figure = {"$schema": text_spec["$schema"], "config": {**text_spec.get("config", {}), "background": "white"},
              "datasets": {**legend.get("datasets", {}), **text_spec.get("datasets", {})},
              "vconcat": parts, "spacing": 8}
    if title:
        # a Vega title is drawn as text: a visitor's word in it stays text
        figure["title"] = {"text": title, "anchor": "start", "fontSize": 13}
    return figure


def _text_chart(data, width: int, height: int, select_on: str, name: str, colours: str,
                titles: tuple[str, str] = ("connectivity / max", "connectivity")) -> alt.LayerChart:
    if colours not in COLOUR_MAPPINGS:
        raise ValueError(f"unknown colour mapping {colours!r}; expected one of {', '.join(COLOUR_MAPPINGS)}")
    pick = alt.selection_point(name=name, fields=["index"], on=select_on, clear=False, empty=False,
                               nearest=False, toggle=False)
    pixel_x = alt.Scale(domain=[0, width], range=[0, width])
    pixel_y = alt.Scale(domain=[0, height], range=[0, height])  # y grows downwards, like lines of text
    base = alt.Chart(data).encode(
        tooltip=[alt.Tooltip("label:N", title="character"), alt.Tooltip("index:Q", title="position"),
                 alt.Tooltip("seen:Q", title="letters of its word seen"),
                 alt.Tooltip("connectivity:Q", title=titles[0], format=".2f"),
                 alt.Tooltip("raw:Q", title=titles[1], format=".3g")])
    # no legend per chart: the page draws one scale (connectivity_legend) above all rows
    connectivity_fill = alt.Fill("connectivity:Q", scale=alt.Scale(scheme=CONNECTIVITY_SCHEME, domain=[0, 1]),
                                 legend=None)
    on_fill = LIGHT_TEXT if colours == "article" else DARK_TEXT
    cells = base.mark_rect(cornerRadius=2).encode(
        x=alt.X("x:Q", scale=pixel_x, axis=None),
        x2=alt.X2("x_end:Q"),
        y=alt.Y("y:Q", scale=pixel_y, axis=None),
        y2=alt.Y2("y_end:Q"),
        fill=alt.condition(alt.datum.state == "later", alt.value(None), connectivity_fill),
        **({} if colours == "article" else {
            # faded: opacity on a square-root scale, so faint long-range links still show on white
            "fillOpacity": alt.FillOpacity("connectivity:Q", scale=alt.Scale(type="sqrt", domain=[0, 1],
                                                                              range=[0, 1]), legend=None)}),
        stroke=alt.condition(alt.datum.state == "selected", alt.value("#d62728"), alt.value(None)),
        strokeWidth=alt.condition(alt.datum.state == "selected", alt.value(2.5), alt.value(0)),
    ).transform_calculate(x_end=f"datum.x + {CELL_WIDTH - 1}", y_end=f"datum.y + {CELL_HEIGHT - 2}").add_params(pick)
    letters = base.mark_text(font="monospace", fontSize=15, baseline="middle", align="center").encode(
        x=alt.X("x_mid:Q", scale=pixel_x, axis=None),
        y=alt.Y("y_mid:Q", scale=pixel_y, axis=None),
        text=alt.Text("char:N"),
        color=alt.condition(alt.datum.state == "later", alt.value(LATER_TEXT), alt.value(on_fill)),
    ).transform_calculate(x_mid=f"datum.x + {CELL_WIDTH / 2}", y_mid=f"datum.y + {CELL_HEIGHT / 2 - 1}")
    return (
        alt.layer(cells, letters)
        .properties(width=width, height=height)
        .configure(background="transparent", view=alt.ViewConfig(stroke=None, strokeWidth=0))
    )
