"""What the app's views download, as bytes: charts as PNG and SVG, tables and matrices as CSV and JSON, and
the files' names. Pure functions (no Streamlit), shared by the pages and the CLI.

Charts go through Altair's own route to images, vl-convert (Vega-Lite compiled and drawn in-process, no
browser), at the Vega-Lite version Altair writes; it is imported only when a chart is drawn. A chart is an
Altair chart or a Vega-Lite dict whose ``datasets`` may hold DataFrames (rnnmem.textchart's prebuilt
specs). Tables keep their column names and full float precision, so they parse back to the numbers shown.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

MAX_NAME_CHARS = 120  # a file name's length, extension included: within every file system's limit
VALUE_CHARS = 24  # characters kept of one link value (a text is cut, and the name gets a hash)
PNG_SCALE = 2  # pixels per chart pixel: sharp on high-density screens


def vega_lite_spec(chart) -> dict:
    """A chart as a plain JSON-able Vega-Lite dict (``datasets`` holding DataFrames made records)."""
    spec = chart.to_dict() if isinstance(chart, alt.TopLevelMixin) else dict(chart)
    datasets = spec.get("datasets")
    if datasets:
        spec["datasets"] = {name: json.loads(rows.to_json(orient="records")) if isinstance(rows, pd.DataFrame)
                            else rows for name, rows in datasets.items()}
    return spec


def _vega_lite_version() -> str:
    """The Vega-Lite version Altair writes its specs for, as vl-convert names it ("6.4")."""
    return ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])


def chart_svg(chart) -> bytes:
    """The chart drawn as an SVG document (UTF-8)."""
    import vl_convert  # lazy: an 80 MB extension module, needed only for a download

    return vl_convert.vegalite_to_svg(vega_lite_spec(chart), vl_version=_vega_lite_version()).encode("utf-8")


def chart_png(chart, scale: float = PNG_SCALE) -> bytes:
    """The chart drawn as a PNG image, ``scale`` pixels per chart pixel."""
    import vl_convert

    return vl_convert.vegalite_to_png(vega_lite_spec(chart), vl_version=_vega_lite_version(), scale=scale)


def frame_csv(frame: pd.DataFrame) -> bytes:
    """A table as CSV (UTF-8, a header row, no index; floats written in full)."""
    return frame.to_csv(index=False).encode("utf-8")


def frame_json(frame: pd.DataFrame) -> bytes:
    """A table as a JSON list of records, one object per row keyed by column name; numbers as Python
    writes them (they parse back exactly), a missing value as null."""
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return json.dumps(records, ensure_ascii=False, allow_nan=False, default=_plain).encode("utf-8")


def _plain(value):
    """A NumPy scalar as the Python number it holds (for json.dumps)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def matrix_frame(matrix: np.ndarray, text: str, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """A (T, T) matrix over a text's characters as a table: one row per output position t (its character
    and, if given, its label), one column per input position τ, named by its index."""
    matrix = np.asarray(matrix)
    if matrix.shape != (len(text), len(text)):
        raise ValueError(f"a matrix over {len(text)} characters must be {len(text)}×{len(text)}, not {matrix.shape}")
    frame = pd.DataFrame({"position": np.arange(len(text)), "char": list(text)})
    if labels is not None:
        frame["desired"] = list(labels)
    values = pd.DataFrame(matrix.astype(np.float64), columns=[str(i) for i in range(len(text))])
    return pd.concat([frame, values], axis=1)


_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def _slug(value: str, limit: int) -> tuple[str, bool]:
    """``value`` in safe characters (letters, digits, single hyphens), at most ``limit`` long; and whether
    anything was cut."""
    slug = _UNSAFE.sub("-", value).strip("-")
    return slug[:limit].rstrip("-"), len(slug) > limit


def export_name(view: str, state: Mapping[str, object] | None = None, ext: str = "",
                max_chars: int = MAX_NAME_CHARS) -> str:
    """A file name for a view's download: the view's name, then ``key-value`` for each item of its link
    state (a list value joined by "+"; empty ones left out), then ``.ext``. Only letters, digits, "-", "_",
    "+" and "."; at most ``max_chars`` long. Where a value or the whole had to be cut, an 8-character hash
    of the full state keeps different states apart."""
    view_slug, cut = _slug(view, 40)
    parts = [view_slug or "view"]
    for key, value in (state or {}).items():
        values = [value] if isinstance(value, (str, int, float)) else list(value or [])
        shown = []
        for item in values:
            slug, item_cut = _slug(str(item), VALUE_CHARS)
            cut = cut or item_cut
            if slug:
                shown.append(slug)
        if shown:
            parts.append(f"{_slug(str(key), VALUE_CHARS)[0]}-{'+'.join(shown)}")
    suffix = f".{_slug(ext, 8)[0]}" if ext else ""
    name = "_".join(parts)
    room = max_chars - len(suffix)
    if cut or len(name) > room:
        digest = hashlib.sha1(json.dumps([view, {k: str(v) for k, v in (state or {}).items()}],
                                         sort_keys=True).encode()).hexdigest()[:8]
        name = f"{name[:room - 9].rstrip('-_+')}_{digest}"
    return name + suffix


__all__ = ["MAX_NAME_CHARS", "PNG_SCALE", "chart_png", "chart_svg", "export_name", "frame_csv", "frame_json",
           "matrix_frame", "vega_lite_spec"]
