"""The Memory page's cached analyses: the texts it can sample, each unit's memory profile and recall against
its control (with a progress bar while they compute), the accuracy breakdowns, and the downloads of every
table it draws.

Bounded like the other caches (rnnmem.app.cache): at most ``PROFILES_KEPT`` profiles and recall profiles
together (a profile holds its per-position measures and sampled texts, well under a megabyte at 5,000
positions; a recall profile a few numbers per moment), 32 breakdowns and
two prepared corpora (a visitor's model only in the shipped models' shapes: ``shipped_shapes``).
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pandas as pd
import streamlit as st

from .. import exports, memory_tables
from ..breakdowns import BandAccuracy, accuracy_by_band
from ..errors import InputError, SettingsError
from ..held_out import held_out_texts
from ..memory import MemoryProfile, memory_profile
from ..memory_report import read_memory_report
from ..model import CONFIG_FILE
from ..modelref import SHIPPED_SETS
from ..recall import TEXT_CONTROLS, RecallProfile, recall_profile, recall_sample
from ..refs import shipped_dir
from ..units import UNITS
from .cache import analysis_workers
from .models import ShownModel

PROFILES_KEPT = 32
MAX_POSITIONS = 5_000  # the most positions a visitor may ask for (about 2.5 minutes per unit here)


class _Profiles:
    """The most recent memory profiles, by (model key, text key, positions, seed); thread-safe. Not
    Streamlit's cache_data, because a profile's computation reports progress to the page that asked.

    A profile takes minutes, and a shared link brings several visitors to the same one at once: the first
    computes it, the others wait for its result (``waiting`` says so on their page) instead of computing
    it again on the same cores. If the first stops (its visitor left, or it failed), a waiting one takes
    over."""

    def __init__(self, capacity: int = PROFILES_KEPT):
        self._items: OrderedDict = OrderedDict()
        self._pending: dict[tuple, threading.Event] = {}  # key -> set once its computation has ended
        self._lock = threading.Lock()
        self.capacity = capacity

    def get(self, key: tuple, compute: Callable[[], MemoryProfile],
            waiting: Callable[[], AbstractContextManager] = nullcontext) -> MemoryProfile:
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
                ended = self._pending.get(key)
                if ended is None:
                    ended = self._pending[key] = threading.Event()
                    break  # this thread computes it
            with waiting():
                ended.wait()
            # Then the value is kept (the loop returns it), or its computation stopped (this thread computes).
        try:
            value = compute()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._pending[key]
            ended.set()


@st.cache_resource(show_spinner=False)
def _profiles() -> _Profiles:
    return _Profiles()


@st.cache_resource(max_entries=2, ttl=3600, show_spinner="Preparing the corpus's test split (once per corpus)…")
def _corpus_texts(path: str, mtime: float, vocab_words: int, seq_len: int, _model) -> list[str]:
    return held_out_texts(_model, path)


def _shape(words: list[str], max_seq_len: int) -> tuple[int, int]:
    """How a model's training data was cut: (vocabulary words, sequence length), the corpus split's key."""
    return len(words) - 2, max_seq_len


@functools.cache
def shipped_shapes() -> frozenset[tuple[int, int]]:
    """The shapes of the shipped models (every set): the only ones a visitor's model may have its corpus
    split prepared in, since each new shape costs a full preparation of the corpus and its disk cache."""
    shapes = set()
    for prefix, unit in itertools.product(SHIPPED_SETS, UNITS):
        config = shipped_dir(prefix + unit) / CONFIG_FILE
        if config.is_file():
            fields = json.loads(config.read_text())
            shapes.add(_shape(fields["words"], fields["max_seq_len"]))
    return frozenset(shapes)


def _model_shape(item: ShownModel) -> tuple[int, int]:
    return _shape(item.model.words, item.model.config.max_seq_len)


def check_corpus_shape(item: ShownModel) -> None:
    """InputError when ``item`` is a visitor's model in a shape the corpus is not prepared in for visitors."""
    words, seq_len = _model_shape(item)
    if item.visitor and (words, seq_len) not in shipped_shapes():
        raise InputError(f"{item.name}'s model has {words:,} words and {seq_len}-character sequences; this server "
                         f"prepares its corpus only for models cut like the shipped ones (" + ", ".join(
                             f"{w:,} words and {s}-character sequences" for w, s in sorted(shipped_shapes()))
                         + "). Choose the walkthrough paragraph or paste a text")


def _texts_for(item: ShownModel, texts: str | Path) -> str | list[str]:
    """A text as it is, or a corpus file's test split as ``item``'s training data was cut (cached; a
    visitor's model only in a shipped shape: ``check_corpus_shape``, a set lookup)."""
    if not isinstance(texts, Path):
        return texts
    check_corpus_shape(item)
    return _corpus_texts(str(texts), texts.stat().st_mtime, *_model_shape(item), item.model)


def profile_text_key(text_key: tuple, texts: str | Path) -> tuple:
    """The cache's name for ``texts``: ``text_key``, and for a corpus file its modification time too, so
    that a file edited in place is measured again."""
    return (*text_key, texts.stat().st_mtime) if isinstance(texts, Path) else text_key


def memory_profiles(models: Sequence[ShownModel], text_key: tuple, texts: str | Path, positions: int,
                    seed: int) -> list[MemoryProfile]:
    """Each model's memory profile on ``texts`` (a text, or a corpus file whose test split is sampled;
    ``text_key`` names it in the cache), with a progress bar over all of them while any is computed; the
    connectivity matrices come from the worker processes."""
    text_key = profile_text_key(text_key, texts)
    if isinstance(texts, Path):
        for item in models:  # before minutes of work on the others
            check_corpus_shape(item)

    def measure(item: ShownModel, progress: Callable[[int, int], None]) -> MemoryProfile:
        workers = analysis_workers()
        return memory_profile(item.model, _texts_for(item, texts), positions=positions, seed=seed, progress=progress,
                              matrix=lambda text: workers.connectivity_matrix(item.loaded, text, k=1))

    return _measure_each(models, "memory", "positions", lambda item: (item.key, text_key, positions, seed), measure)


def _measure_each(models: Sequence[ShownModel], what: str, counted: str, key: Callable[[ShownModel], tuple],
                  measure: Callable[[ShownModel, Callable[[int, int], None]], object]) -> list:
    """``measure(item, progress)`` for each model, kept in the shared cache under ``key(item)`` (computed once
    however many visitors ask for it at once), with one progress bar over all of them while any is computed.
    The bar's place is taken on every run, computed or cached (rnnmem.app.params, "Stable places")."""
    bar = st.empty()
    results = []
    try:
        for index, item in enumerate(models):
            def progress(done: int, total: int, index=index, name=item.name) -> None:
                bar.progress(min((index + done / max(total, 1)) / len(models), 1.0),
                             text=f"Measuring {what}: {name}, {done:,} of {total:,} {counted}")

            def waiting(name=item.name) -> AbstractContextManager:
                return st.spinner(f"Another visitor is measuring {name}'s {what} on this text; waiting for their "
                                  "result…")

            results.append(_profiles().get(key(item), functools.partial(measure, item, progress), waiting))
    finally:  # also when a text cannot be measured: no half-filled bar above the page's message
        bar.empty()
    return results


RECALL_CHARS = 60_000  # a corpus's recall sample: about 300 sequences and 350 recall moments


def recall_profiles(models: Sequence[ShownModel], text_key: tuple, texts: str | Path,
                    seed: int) -> list[RecallProfile]:
    """Each model's recall against its control (rnnmem.recall) on ``texts``: a text as it is, or
    ``RECALL_CHARS`` of a corpus file's test split in a seeded order; cached beside the memory profiles,
    with a progress bar while any is computed."""
    text_key = profile_text_key(text_key, texts)

    def measure(item: ShownModel, progress: Callable[[int, int], None]) -> RecallProfile:
        sample = _texts_for(item, texts)
        corpus = isinstance(sample, list)
        if corpus:
            sample = recall_sample(sample, RECALL_CHARS, seed)
        workers = analysis_workers()  # the rows' gradients in a worker process, the bookkeeping here
        return recall_profile(item.model, sample, seed=seed, progress=progress,
                              controls=2 if corpus else TEXT_CONTROLS,
                              rows=lambda chars, positions, ys: workers.connectivity_rows(item.loaded, chars,
                                                                                          positions, ys))

    return _measure_each(models, "recall", "sequences", lambda item: ("recall", item.key, text_key, seed), measure)


def recall_series(models: Sequence[ShownModel], recalls: Sequence[RecallProfile], with_article: bool) -> list:
    """The recall table's series: each model's recall, then, ``with_article`` (the walkthrough), the article's
    published models' for the units it published."""
    series = [(item.unit, memory_tables.OURS, recall) for item, recall in zip(models, recalls)]
    if with_article:
        series += [(item.unit, memory_tables.ARTICLE_SOURCE, memory_tables.article_recall(item.unit, item.model))
                   for item in models if item.unit in memory_tables.ARTICLE_UNITS]
    return series


def stored_memory(models: Sequence[ShownModel]) -> tuple[list[tuple[str, dict]], list[str]]:
    """Each model's stored memory figures (``memory.json`` beside its weights: measured when it was shipped,
    on its training corpus's test split) as (unit, report) pairs, and a one-line problem for each file that
    cannot be used. Models without the file (a run of one's own, most Hub models) have none."""
    stored, problems = [], []
    for item in models:
        try:
            report = read_memory_report(item.loaded.files_dir)
        except SettingsError as error:
            problems.append(f"{item.name}: {error}")
            continue
        if report is not None:
            stored.append((item.unit, report))
    return stored, problems


@st.cache_data(max_entries=32, show_spinner=False)
def band_accuracy(key: tuple, _model, texts: tuple[str, ...], by: str) -> BandAccuracy:
    """Accuracy by characters seen per band of ``by`` over the profile's sampled sequences."""
    return accuracy_by_band(_model, list(texts), by)


def downloads(frame: pd.DataFrame, view: str, state: Mapping[str, object], chart=None) -> None:
    """CSV and JSON downloads of exactly ``frame`` (what the view above draws, or for the summaries the long
    numeric table behind the one shown), and PNG and SVG of ``chart``
    (drawn only when clicked: vl-convert takes a fraction of a second per chart), named after the view and
    the link state."""
    files = [("CSV", lambda: memory_tables.csv_bytes(frame), "csv", "text/csv", ":material/download:"),
             ("JSON", lambda: memory_tables.json_bytes(frame, view, state), "json", "application/json",
              ":material/download:")]
    if chart is not None:
        files += [("PNG", lambda: exports.chart_png(chart), "png", "image/png", ":material/image:"),
                  ("SVG", lambda: exports.chart_svg(chart), "svg", "image/svg+xml", ":material/image:")]
    row = st.container(horizontal=True)
    for label, make, extension, mime, icon in files:
        # Bytes are made on click (callables), not on every rerun (a matrix frame is ~20,000 rows), and a
        # click does not rerun the page.
        row.download_button(label, make, memory_tables.download_name(view, state, extension), mime=mime,
                            key=f"{extension}_{view}", icon=icon, on_click="ignore")


