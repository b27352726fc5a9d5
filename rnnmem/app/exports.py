"""Downloads under a view: one small "Download" menu with PNG and SVG of its chart and CSV and JSON of its
tables (rnnmem.exports), files named after the view and the page's link state.

Drawing a chart as an image takes vl-convert 0.2 to 1 s, so nothing is drawn or encoded until its button
is clicked (``st.download_button`` with a callable), and a click does not rerun the page.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from .. import exports

FORMATS = {  # label: (file extension, MIME type)
    "PNG": ("png", "image/png"), "SVG": ("svg", "image/svg+xml"),
    "CSV": ("csv", "text/csv"), "JSON": ("json", "application/json"),
}


def link_state() -> dict[str, list[str]]:
    """The page's link parameters as they stand (repeated ones as lists)."""
    return {name: st.query_params.get_all(name) for name in st.query_params}


def download_name(view: str, ext: str, state: Mapping[str, object] | None = None) -> str:
    """A download's file name: ``view`` and the link state, ``state`` adding values the link leaves out
    (a default is not in the link) or overriding them."""
    return exports.export_name(view, {**link_state(), **(state or {})}, ext)


def downloads(view: str, *, chart=None, frame: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
              state: Mapping[str, object] | None = None) -> None:
    """A "Download" menu for one view: PNG and SVG of ``chart`` (an Altair chart or a Vega-Lite dict), CSV
    and JSON of ``frame`` (or of each named table in a mapping, e.g. {"row": …, "matrix": …}). ``view``
    names the files and the buttons' keys, so it must be unique on the page (e.g. "connectivity-gru")."""
    tables = {} if frame is None else {"": frame} if isinstance(frame, pd.DataFrame) else dict(frame)
    files = []  # (label, file view name, format, make bytes)
    if chart is not None:
        files += [("PNG", view, "PNG", lambda: exports.chart_png(chart)),
                  ("SVG", view, "SVG", lambda: exports.chart_svg(chart))]
    for name, table in tables.items():
        table_view = f"{view}-{name}" if name else view
        files += [(f"{name} CSV".strip(), table_view, "CSV", lambda table=table: exports.frame_csv(table)),
                  (f"{name} JSON".strip(), table_view, "JSON", lambda table=table: exports.frame_json(table))]
    if not files:
        return
    with st.popover("Download", icon=":material/download:", type="tertiary", key=f"downloads_{view}"):
        for label, file_view, kind, make in files:
            ext, mime = FORMATS[kind]
            st.download_button(label, data=make, file_name=download_name(file_view, ext, state), mime=mime,
                               on_click="ignore", key=f"download_{file_view}_{ext}", width="stretch")
