"""The Memory page's data as tables: the memory profile, its summaries, the accuracy breakdowns and the
connectivity matrix views, each one long pandas table that a chart draws and a download exports as it is
(CSV or JSON), named after the view and its link state. The CLI's ``memory --csv`` writes the same tables.

Pure functions of plain results (rnnmem.memory, rnnmem.breakdowns, rnnmem.attribution); no Streamlit.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .article_data import ARTICLE_UNITS
from .breakdowns import BandAccuracy
from .dataset import align
from .exports import export_name
from .memory import MEASURES, MemoryProfile, profile_of_matrices, word_index
from .recall import RECALL_MEASURES, TEXT_CONTROLS, RecallProfile, recall_profile
from .units import UNIT_NAMES
from .walkthrough import article_walkthrough

OURS = "this app's model"
ARTICLE_SOURCE = "article (published)"  # the reference curves: the article's models on its walkthrough paragraph
SCALES = {"chars": "characters back", "words": "words back"}
MEASURE_LABELS = {"context_share": "context share", "d50": "d50", "d90": "d90"}
PROFILE_COLUMNS = ["unit", "source", "scale", "distance", "mean", "low", "high", "rows"]
SUMMARY_COLUMNS = ["unit", "source", "measure", "mean", "low", "high", "positions", "sequences", "seed"]

Series = Iterable[tuple[str, str, MemoryProfile]]  # (unit id, source label, profile)


@functools.cache
def article_profile(unit: str) -> MemoryProfile:
    """The memory measure and profile of the article's published walkthrough data for ``unit`` (gru, lstm,
    nlstm): one sequence, so its intervals are its means."""
    data = article_walkthrough(unit)
    return profile_of_matrices([(data.connectivity, data.text)], unit=unit)


def article_series(units: Iterable[str]) -> list[tuple[str, str, MemoryProfile]]:
    """The article's reference profiles for those of ``units`` it published data for."""
    return [(unit, ARTICLE_SOURCE, article_profile(unit)) for unit in units if unit in ARTICLE_UNITS]


def profile_frame(series: Series, scale: str = "chars", max_distance: int | None = None) -> pd.DataFrame:
    """One row per (unit, source, distance back): the mean row-normalised connectivity there, its 95%
    interval, and how many output positions reach that distance. Distances no position reaches are left
    out; ``max_distance`` cuts the table."""
    rows = []
    for unit, source, profile in series:
        curve = profile.curves[scale]
        for d, (mean, low, high, count) in enumerate(zip(curve["mean"], curve["low"], curve["high"], curve["rows"])):
            if max_distance is not None and d > max_distance:
                break
            if count > 0:
                rows.append([UNIT_NAMES.get(unit, unit), source, scale, d, float(mean), float(low), float(high),
                             int(count)])
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def summary_frame(series: Series, stored: Iterable[tuple[str, dict]] = ()) -> pd.DataFrame:
    """One row per (unit, source, measure): context share, d50 and d90 with their 95% intervals, and the
    sample they come from; then the same for ``stored`` figures, (unit, memory.json's ``held_out``) pairs."""
    rows = [[UNIT_NAMES.get(unit, unit), source, MEASURE_LABELS[name], profile.means[name]["mean"],
             profile.means[name]["low"], profile.means[name]["high"], profile.positions, profile.sequences,
             profile.seed]
            for unit, source, profile in series for name in MEASURES]
    rows += [[UNIT_NAMES.get(unit, unit), stored_source(held_out), MEASURE_LABELS[name], held_out[name]["mean"],
              held_out[name]["low"], held_out[name]["high"], held_out["positions"], held_out["sequences"],
              held_out["seed"]]
             for unit, held_out in stored for name in MEASURES]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def stored_source(report: dict) -> str:
    """The source label of a model's stored figures (memory.json): measured when it was shipped, on its
    training corpus's held-out split."""
    return f"stored: {report['split']} split"


def _interval_cell(row, show, unit: str = "") -> str:
    """A table cell "mean (low–high)" of a row with ``mean``, ``low``, ``high`` and ``sequences``: the mean
    alone where one sequence gives no interval, "–" where nothing was measured."""
    if math.isnan(row["mean"]):
        return "–"
    interval = f" ({show(row['low'])}–{show(row['high'])})" if row["sequences"] > 1 else ""
    return f"{show(row['mean'])}{unit}{interval}"


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary_frame``'s rows as the page shows them: one row per (unit, source), a column per measure
    holding "mean (low–high)" (the mean alone where a single sequence gives no interval; "–" where
    nothing was measured), and the positions: narrow enough to sit beside the profile without cutting
    its last column off."""
    cells = summary.assign(cell=summary.apply(_interval_cell, axis=1, show=lambda v: f"{v:.3f}"))
    table = cells.pivot(index=["unit", "source"], columns="measure", values="cell")
    positions = summary.groupby(["unit", "source"])["positions"].first()
    order = list(dict.fromkeys(zip(summary["unit"], summary["source"])))  # the series' order, not alphabetical
    measures = [label for label in MEASURE_LABELS.values() if label in table.columns]
    return table[measures].assign(positions=positions).loc[order].reset_index().rename_axis(columns=None)


def export_frame(series: Series) -> pd.DataFrame:
    """Everything ``python -m rnnmem memory --csv`` writes: the profile in characters and in words and the
    summaries, as one long table (``table``: "profile" or "summary"; empty cells where a column does
    not apply)."""
    series = list(series)
    parts = [profile_frame(series, scale).assign(table="profile") for scale in SCALES]
    parts.append(summary_frame(series).assign(table="summary"))
    columns = ["table", *dict.fromkeys(PROFILE_COLUMNS + SUMMARY_COLUMNS)]
    frame = pd.concat(parts, ignore_index=True)[columns]
    counts = ["distance", "rows", "positions", "sequences", "seed"]  # whole numbers, empty where they do not apply
    return frame.astype({name: "Int64" for name in counts})


# ---- recall against its control ---------------------------------------------------------------------------

RECALL_COLUMNS = ["unit", "source", "recalled", "measure", "mean", "low", "high", "moments", "controls", "sequences",
                  "seed"]


def article_recall(unit: str, model) -> RecallProfile:
    """Recall against its control for the article's published walkthrough data of ``unit``: rows from its
    published connectivity (the paragraph as one sequence, as published), the paragraph's rarer words as
    ranked by ``model``'s vocabulary. Computed once per unit and vocabulary (the Memory page asks on every
    rerun)."""
    return _article_recall(unit, tuple(model.words))


@functools.lru_cache(maxsize=16)
def _article_recall(unit: str, words: tuple[str, ...]) -> RecallProfile:
    published = article_walkthrough(unit)
    # one sequence whatever the model's length: the published rows index it
    pair = align(published.text, {word: index for index, word in enumerate(words)})
    profile = recall_profile(None, [pair], controls=TEXT_CONTROLS,
                             rows=lambda chars, positions, ys: published.connectivity[positions])
    profile.unit = unit
    return profile


def recall_frame(series: Iterable[tuple[str, str, RecallProfile]],
                 stored: Iterable[tuple[str, dict]] = ()) -> pd.DataFrame:
    """One row per (unit, source, recall distance, measure): share, expected share and lift
    (rnnmem.recall) with their 95% intervals, over all recall moments ("all") and by distance band;
    ``sequences``: how many sequences those moments come from. Then the same for ``stored`` figures,
    (unit, memory.json's ``recall``) pairs: a figure that could not be given (None) is NaN, and a sample
    with no recall moment gives no rows."""
    rows = []
    for unit, source, profile in series:
        for recalled, figures in [("all", {"moments": profile.moments, **profile.means}), *profile.by_distance.items()]:
            rows += [[UNIT_NAMES.get(unit, unit), source, recalled, name, figures[name]["mean"], figures[name]["low"],
                      figures[name]["high"], figures["moments"], profile.controls, figures["sequences"], profile.seed]
                     for name in RECALL_MEASURES]
    for unit, recall in stored:
        if not recall["moments"]:
            continue
        for recalled, figures in [("all", recall), *recall["by_distance"].items()]:
            rows += [[UNIT_NAMES.get(unit, unit), stored_source(recall), recalled, name,
                      *(math.nan if figures[name][end] is None else float(figures[name][end])
                        for end in ("mean", "low", "high")),
                      figures["moments"], recall["controls"], figures["sequences"], recall["seed"]]
                     for name in RECALL_MEASURES]
    return pd.DataFrame(rows, columns=RECALL_COLUMNS)


def recall_table(frame: pd.DataFrame) -> pd.DataFrame:
    """``recall_frame`` as the page shows it: one row per (unit, source) with its recall moments, share
    and expected share (percent) and lift over all moments, and the lift by recall distance; "mean
    (low–high)", the mean alone where the moments come from one sequence, "–" where there is none (no
    moments, or no control letters that far back)."""
    def cell(row) -> str:
        percent = row["measure"] != "lift"
        return _interval_cell(row, (lambda v: f"{100 * v:.1f}") if percent else (lambda v: f"{v:.2f}"),
                              unit="%" * percent)

    every = frame[frame["recalled"] == "all"]
    columns = {"share": "share", "expected": "expected", "lift": "lift"}
    by_distance = frame[(frame["recalled"] != "all") & (frame["measure"] == "lift")]
    cells = pd.concat([every.assign(column=every["measure"].map(columns)),
                       by_distance.assign(column="lift, read " + by_distance["recalled"] + " back")])
    table = cells.assign(cell=cells.apply(cell, axis=1)).pivot(index=["unit", "source"], columns="column",
                                                                 values="cell")
    order = list(dict.fromkeys(zip(frame["unit"], frame["source"])))
    moments = every.groupby(["unit", "source"])["moments"].first()
    ordered = ["share", "expected", "lift", *dict.fromkeys("lift, read " + by_distance["recalled"] + " back")]
    # "–" also where a row has no such band at all (a stored file measured with other bands)
    return (table[ordered].fillna("–").assign(moments=moments).loc[order].reset_index().rename_axis(columns=None)
            [["unit", "source", "moments", *ordered]])


# ---- accuracy breakdowns -----------------------------------------------------------------------------------

BREAKDOWN_COLUMNS = ["unit", "band", "chars seen", "top-k", "accuracy", "characters scored"]


def breakdown_frame(series: Iterable[tuple[str, BandAccuracy]], topk: int = 1,
                    max_seen: int | None = None) -> pd.DataFrame:
    """One row per (unit, band, characters seen) with any character scored: top-``topk`` accuracy and
    the number of characters behind it."""
    rows = []
    for unit, bands in series:
        for label, result in zip(bands.labels, bands.results):
            rates = getattr(result, f"top{topk}")
            for seen, (rate, count) in enumerate(zip(rates, result.counts)):
                if max_seen is not None and seen > max_seen:
                    break
                if count:
                    rows.append([UNIT_NAMES.get(unit, unit), label, seen, f"top-{topk}", float(rate), int(count)])
    return pd.DataFrame(rows, columns=BREAKDOWN_COLUMNS)


# ---- connectivity matrices ---------------------------------------------------------------------------------

MATRIX_COLUMNS = ["output", "input", "output char", "input char", "output word", "words back", "share"]


def row_shares(matrix: np.ndarray) -> np.ndarray:
    """(T, T) each row of a connectivity matrix divided by its sum (entries after the diagonal zero; rows
    with no mass stay zero): the quantity the memory profile averages."""
    lower = np.tril(np.asarray(matrix, dtype=np.float64))
    totals = lower.sum(1, keepdims=True)
    return np.divide(lower, totals, out=np.zeros_like(lower), where=totals > 0)


def _cells(text: str) -> pd.DataFrame:
    """One row per (output t, input τ ≤ t) of ``text``, with the characters and the output's word."""
    T = len(text)
    t, tau = np.tril_indices(T)  # (N,) each
    words = text.split(" ")[1:] if text.startswith(" ") else text.split(" ")
    index = word_index(text)
    chars = np.array(list(text))
    return pd.DataFrame({"output": t, "input": tau, "output char": chars[t], "input char": chars[tau],
                         "output word": np.array(words, dtype=object)[np.minimum(index[t], len(words) - 1)],
                         "words back": index[t] - index[tau]})


def matrix_frame(text: str, matrix: np.ndarray) -> pd.DataFrame:
    """The (output, input) cells of one text's connectivity matrix, as row shares (``row_shares``)."""
    frame = _cells(text)
    frame["share"] = row_shares(matrix)[frame["output"].to_numpy(), frame["input"].to_numpy()]
    return frame[MATRIX_COLUMNS]


def difference_frame(text: str, first: tuple[str, np.ndarray], second: tuple[str, np.ndarray]) -> pd.DataFrame:
    """Two units' row shares on the same text and their difference (first − second), cell by cell."""
    frame = _cells(text)
    cells = frame["output"].to_numpy(), frame["input"].to_numpy()
    a, b = row_shares(first[1])[cells], row_shares(second[1])[cells]
    frame[f"share {UNIT_NAMES.get(first[0], first[0])}"] = a
    frame[f"share {UNIT_NAMES.get(second[0], second[0])}"] = b
    frame["difference"] = a - b
    return frame


def word_boundaries(text: str) -> list[int]:
    """Positions of the word boundaries of ``text`` (each word's leading space), for marking a matrix."""
    return [i for i, ch in enumerate(text) if ch == " "]


# ---- downloads ---------------------------------------------------------------------------------------------

def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def json_bytes(frame: pd.DataFrame, view: str, state: Mapping[str, object]) -> bytes:
    """``{"view", "state", "columns", "rows"}``: the table's rows as objects (NaN as null), with the view
    and link state they were drawn for."""
    rows = [{key: _plain(value) for key, value in row.items()} for row in frame.to_dict(orient="records")]
    return json.dumps({"view": view, "state": dict(state), "columns": list(frame.columns), "rows": rows},
                      ensure_ascii=False).encode("utf-8")


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def read_csv(data: bytes | str) -> pd.DataFrame:
    """A downloaded or exported CSV, back as a table."""
    return pd.read_csv(io.StringIO(data.decode("utf-8") if isinstance(data, bytes) else data))


def download_name(view: str, state: Mapping[str, object], extension: str) -> str:
    """``memory-<view>_<name>-<value>_…​.<extension>``: a file name that says which view and which link state
    the data is for (rnnmem.exports.export_name, as on every page); a text (``text``) is named by a short
    hash."""
    named = {name: hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:8] if name == "text" and value else value
             for name, value in state.items()}
    return export_name(f"memory-{view}", named, extension)
