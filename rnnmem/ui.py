"""Shared Streamlit UI for the app's pages: messages, link state, the unit and model picker, cached model
calls, text guards, suggestion lists and the clickable connectivity text.

Pages (``pages/*.py``) are short scripts over these helpers; the logic itself lives in the library
(``rnnmem.analysis``, ``rnnmem.settings``, ``rnnmem.charts``).

Link state. Every input is a widget with ``bind="query-params"``: Streamlit seeds it from the URL, keeps
the URL in step as it changes (replacing the history entry, so typing does not fill the back button),
drops values the widget cannot take, and leaves a parameter out while it equals its default. What binding
cannot do is say why a value was dropped, so the ``check_*`` helpers read the raw parameters before the
widgets exist and turn every unusable value into a one-line message under the page title.

Safety. User text (typed, or from a link) is never handed to HTML: it reaches the page only as widget
values, Vega text marks, dataframe cells, or Markdown escaped by ``plain`` (which neutralises every
Markdown and HTML metacharacter). Model vocabularies from the Hub are untrusted too and go the same way.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from . import charts, links, walkthrough
from .errors import quoted
from .hub import pinned_reference
from .model import UNIT_NAMES, UNITS
from .refs import ModelRefError, parse_model_ref, shipped_dir
from .settings import AppSettings, SettingsError, check_override, default_settings, load_settings, settings_path
from .text import normalize
from .visitor_models import ModelLimitError, VisitorModels
from .workers import ConnectivityViews, MatrixWorkers

# ---- limits ----------------------------------------------------------------------------------------------

MAX_RAW_TEXT = 2_000  # characters a text box takes before normalisation (links are cut to this)
MAX_EVAL_TEXT = 6_000  # characters of pasted text the Accuracy page scores (it travels in the link too)
MAX_REF_BOX = 300  # characters a sidebar model box takes
TORCH_THREADS_ENV = "RNNMEM_TORCH_THREADS"

# ---- the article's examples (rnnmem.walkthrough) -----------------------------------------------------------

AUTOCOMPLETE_EXAMPLE = walkthrough.AUTOCOMPLETE_EXAMPLE
WALKTHROUGH_TEXT = walkthrough.PARAGRAPH
WALKTHROUGH_MOMENTS = walkthrough.MOMENTS

# ---- runtime -------------------------------------------------------------------------------------------

_threads_lock = threading.Lock()
_threads_set = False


def configure_runtime() -> None:
    """Once per process: one torch thread per request by default (``RNNMEM_TORCH_THREADS``). Small
    recurrent steps gain little from intra-op threads, and on a shared or busy CPU several threads per
    request make every visitor slower (measured: 10x slower connectivity with 2 threads on 2 busy cores)."""
    global _threads_set
    with _threads_lock:
        if _threads_set:
            return
        import torch

        try:
            threads = max(1, int(os.environ.get(TORCH_THREADS_ENV, "1")))
        except ValueError:
            threads = 1
        torch.set_num_threads(threads)
        _threads_set = True


@st.cache_resource(max_entries=4, show_spinner=False)
def _settings_from(path: str) -> tuple[AppSettings, str | None]:
    """Read once per settings file (``path`` keys the cache; load_settings finds the same file)."""
    try:
        return load_settings(), None
    except SettingsError as error:
        return default_settings(), str(error)


def app_settings() -> AppSettings:
    """The models settings (cached per settings file); an invalid file falls back to the shipped models
    with a message."""
    settings, error = _settings_from(str(settings_path()))
    if error:
        notify(f"The models settings could not be used ({error}); showing the shipped models.")
    return settings


# ---- messages ------------------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=$:^&\"'%@/])")


def plain(text, limit: int = 400) -> str:
    """``text`` as Markdown that renders literally: one line, at most ``limit`` characters, every Markdown,
    HTML, LaTeX and Streamlit-directive character backslash-escaped. For anything a user or a model file
    controls that must appear inside Markdown (messages, captions)."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


_NOTICES_KEY = "_rnnmem_notices"
_NOTICE_SLOT_KEY = "_rnnmem_notice_slot"


def begin_run() -> None:
    """Start of every run (app.py): forget the previous run's place for messages, and cut a text box that
    made the page's link too long (see ``keep_link_short``)."""
    st.session_state[_NOTICE_SLOT_KEY] = None
    st.session_state[_NOTICES_KEY] = []
    for name, (cut, length, keep) in st.session_state.pop(_LINK_CUTS_KEY, {}).items():
        st.session_state[name] = cut  # before the box is drawn: a bound widget's value is set only then
        where = "last" if keep == "tail" else "first"
        notify(f"The text was cut to its {where} {len(cut):,} of {length:,} characters: a page's link carries at "
               f"most {links.MAX_LINK_CHARS:,} characters, the longest link this app promises to open.")


def notify(message: str) -> None:
    """A one-line warning under the page title: shown there at once if the title is already on the page,
    else queued until ``header`` draws it."""
    slot = st.session_state.get(_NOTICE_SLOT_KEY)
    if slot is not None:
        slot.warning(plain(message), icon=":material/warning:")
        return
    queue = st.session_state.setdefault(_NOTICES_KEY, [])
    if message not in queue:
        queue.append(message)


def _ensure_entrypoint() -> None:
    """Make a deep link work on a freshly started server.

    Streamlit treats an app with a ``pages/`` folder as an old-style multipage app until the entry point
    has called ``st.navigation`` once in this process; until then a link to ``/connectivity`` runs
    pages/connectivity.py alone, without app.py (no sidebar, no settings, no page layout). A page that
    finds itself in that state switches the process to ``st.navigation`` mode and reruns, so app.py
    routes the same URL (query parameters included)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this flag has no such mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def header(title: str, intro: str | None = None) -> None:
    """The page title, an optional one-paragraph introduction, and any queued warnings."""
    _ensure_entrypoint()
    st.title(title)
    if intro:
        st.caption(intro)
    slot = st.container()
    st.session_state[_NOTICE_SLOT_KEY] = slot
    for message in st.session_state.pop(_NOTICES_KEY, []):
        slot.warning(plain(message), icon=":material/warning:")


def stop(message: str, kind: str = "info") -> None:
    """Show a one-line message and end the page here (the pages' guard)."""
    getattr(st, kind)(plain(message))
    st.stop()


# ---- link parameters -------------------------------------------------------------------------------------

def raw_param(name: str) -> str | None:
    """The URL's value for ``name`` as received (last one if repeated), before any widget validates it."""
    values = st.query_params.get_all(name)
    return values[-1] if values else None


def int_param(name: str) -> int | None:
    """The URL's integer ``name`` as its bound slider reads it (in range or not), or None if absent or not
    a finite number."""
    return links.link_int(raw_param(name))


def raw_list_param(name: str) -> list[str]:
    """A list parameter as received: bound multi-select widgets repeat it (``?a=x&a=y``)."""
    return [value for value in st.query_params.get_all(name) if value != ""]


def check_choices(name: str, allowed: Sequence[str], what: str) -> None:
    """Message for every value of list parameter ``name`` outside ``allowed`` (the widget drops them)."""
    message = links.choices_problem(raw_list_param(name), allowed, what)
    if message:
        notify(message)


def check_choice(name: str, allowed: Sequence[str], what: str) -> None:
    message = links.choice_problem(raw_param(name), allowed, what)
    if message:
        notify(message)


def check_int(name: str, low: int, high: int, what: str, fallback: str) -> None:
    """Message when the link's integer ``name`` is not a whole number in [low, high]."""
    message = links.number_problem(raw_param(name), low, high, what, fallback)
    if message:
        notify(message)


def check_bool(name: str, what: str) -> None:
    message = links.bool_problem(raw_param(name), what)
    if message:
        notify(message)


def check_text(name: str, limit: int) -> None:
    """Message when the link's text ``name`` is longer than its box takes (the box keeps ``limit``)."""
    message = links.text_problem(raw_param(name), limit)
    if message:
        notify(message)


_LINK_CUTS_KEY = "_rnnmem_link_cuts"


def keep_link_short(name: str, value: str | None, *, keep: str) -> None:
    """After the text box ``name`` is drawn: when the page's link, with ``value`` in it, would be longer than
    ``links.MAX_LINK_CHARS``, rerun with the text cut to fit (``keep`` its "head" or "tail"), so every
    address the app writes opens again, on any proxy."""
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    params[name] = [value or ""]
    cut = links.fit_link(params, name, keep)
    if cut is not None and cut != (value or ""):
        st.session_state[_LINK_CUTS_KEY] = {name: (cut, len(value or ""), keep)}
        st.rerun()


def check_link(page_params: Sequence[str]) -> None:
    """Once per page and session: name the link's parameters this page does not know (typos, or junk)."""
    known = {UNITS_KEY, SET_KEY, *(model_key(unit) for unit in UNITS), "embed", "embed_options", *page_params}
    message = links.unknown_params_problem(list(st.query_params), known)
    seen = st.session_state.setdefault("_rnnmem_link_checked", set())
    marker = (tuple(sorted(page_params)), message)
    if message and marker not in seen:
        seen.add(marker)
        notify(message)


# ---- units and models ----------------------------------------------------------------------------------

UNITS_KEY = "units"
# Which shipped set serves the units left on their shipped default (?weights=article): the small CPU-trained
# models, or the article-size ones trained on a GPU (rnnmem/weights/article/), when this installation has them.
SET_KEY = "weights"
# The options are their own labels: a bound widget writes its labels into the link (?weights=Article-size).
SHIPPED_SET_PREFIXES = {"CPU-trained": "", "Article-size": "article/"}
DEFAULT_SET = "CPU-trained"
_PINS_KEY = "_rnnmem_pins"
# Short labels for the unit picker. A bound widget writes its labels into the URL, so these are what
# links carry (?units=GRU,NLSTM); NLSTM is the Nested LSTM paper's own abbreviation.
UNIT_LABELS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM", "nlstm": "NLSTM"}


def model_key(unit: str) -> str:
    return f"{unit}_model"


@functools.cache
def installed_sets() -> tuple[str, ...]:
    """The shipped sets this installation holds a model of every unit for (the CPU-trained one always)."""
    return tuple(name for name, prefix in SHIPPED_SET_PREFIXES.items()
                 if all(shipped_dir(prefix + unit).is_dir() for unit in UNITS))


def shipped_set() -> str:
    """The chosen shipped set's reference prefix ("" for the default set)."""
    name = st.session_state.get(SET_KEY)
    return SHIPPED_SET_PREFIXES[name] if name in installed_sets() else ""


def sidebar(settings: AppSettings) -> None:
    """The units to show and, per unit, which model serves it: shared by every page (rendered by app.py),
    bound to ``?units=`` and ``?<unit>_model=``."""
    check_choices(UNITS_KEY, list(UNIT_LABELS.values()), "units")
    check_choice(SET_KEY, installed_sets(), "weights")
    for unit in UNITS:
        raw = raw_param(model_key(unit))
        if raw is not None and len(raw) > MAX_REF_BOX:
            notify(f"The link's {UNIT_NAMES[unit]} model reference is {len(raw):,} characters long; the box takes "
                   f"{MAX_REF_BOX}, so it was cut.")
    for unit, pinned in st.session_state.pop(_PINS_KEY, {}).items():
        st.session_state[model_key(unit)] = pinned  # before the widget exists: see load_models
    with st.sidebar:
        st.pills("Units", UNITS, default=list(settings.default_units), selection_mode="multi",
                 format_func=UNIT_LABELS.get, key=UNITS_KEY, bind="query-params",
                 help="Which recurrent units to compare. Every page shows the selected ones side by side.")
        if len(installed_sets()) > 1:
            st.segmented_control("Shipped weights", installed_sets(), default=DEFAULT_SET, key=SET_KEY,
                                 bind="query-params",
                                 help="Serve every unit left on its shipped default by the small models "
                                      "trained on a CPU (2 layers × 224), or by the article-size ones "
                                      "(2 layers × 600) trained on a GPU.")
        with st.expander("Models", icon=":material/deployed_code:"):
            st.caption("Leave empty for the configured model. A unit name (shipped weights) or "
                       "hf://OWNER/NAME@REVISION; the link remembers it.")
            for unit in UNITS:
                st.text_input(UNIT_NAMES[unit], value="", key=model_key(unit), bind="query-params",
                              placeholder=settings.reference(unit, shipped_set()), max_chars=MAX_REF_BOX)
        if shipped_set():
            st.caption("The article-size weights (2 layers × 600) were trained on one GPU for a few minutes "
                       "each, within the article's 2-epoch budget or short of it (see their model cards). "
                       "Configure other models in models.toml.")
        else:
            st.caption("The shipped weights are small models trained on a CPU for a short while, far from the "
                       "article's 2×600 GPU-trained ones; their figures come from their model cards and "
                       "evaluation files. Configure other models in models.toml.")


def selected_units(settings: AppSettings) -> list[str]:
    value = st.session_state.get(UNITS_KEY)
    units = list(settings.default_units) if value is None else [u for u in value if u in UNITS]
    return [u for u in UNITS if u in units]


@dataclass
class LoadedModel:
    unit: str
    model: object  # rnnmem.model.AutocompleteRNN
    reference: str  # what was asked for
    notice: str | None  # why another model is shown instead, or a Hub notice

    @property
    def name(self) -> str:
        return UNIT_NAMES[self.unit]

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity for derived-result caches: unit, where the weights came from, and their revision."""
        return (self.unit, str(self.model.source or ""), str(self.model.revision or ""))

    @property
    def source(self) -> str:
        return str(self.model.source or self.unit)

    def caption(self) -> str:
        """Where the weights come from, which revision, and the model's size: shown under every unit."""
        kinds = {"shipped": "shipped", "local": "local", "hub": "Hugging Face Hub"}
        try:
            kind = kinds[parse_model_ref(self.source).kind]
        except (ModelRefError, KeyError):
            kind = "model"
        c = self.model.config
        revision = f" · revision {self.model.revision[:12]}" if self.model.revision else ""
        return f"{self.source} ({kind}){revision} · {c.num_layers}×{c.hidden_size}"


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def _load(reference: str, unit: str):
    """(model, notice) for the configured models and the shipped ones (a bounded set): loaded once per
    process; failures fall back to the shipped model for ``unit``."""
    return _load_reference(reference, unit)


def _load_reference(reference: str, unit: str):
    from .hub import load_with_fallback

    return load_with_fallback(reference, unit)


@st.cache_resource(show_spinner=False)
def _visitor_models() -> VisitorModels:
    """The process's store of models visitors chose (Hub references): shared, and bounded per visitor and
    overall (rnnmem.visitor_models)."""
    return VisitorModels(_load_reference, alias=_pinned_key)


def _pinned_key(key: tuple[str, str], result) -> tuple[str, str] | None:
    """A Hub model loaded by branch or tag also answers to its commit (the reference the link then carries)."""
    pinned = pinned_reference(result[0])
    return (pinned, key[1]) if pinned else None


def _visitor_id() -> str:
    """This browser session's id for the per-visitor limits (a new tab is a new session)."""
    return st.session_state.setdefault("_rnnmem_visitor", secrets.token_hex(8))


def load_models(settings: AppSettings, units: Sequence[str]) -> list[LoadedModel]:
    """The model serving each unit (sidebar/link override, else settings), with a warning on the page for
    every reference that could not be used."""
    loaded, pins = [], {}
    for unit in units:
        configured = reference = settings.reference(unit, shipped_set())
        override = (st.session_state.get(model_key(unit)) or "").strip()
        notice = None
        if override and override != reference:
            try:
                reference = check_override(override, settings)
            except ModelRefError as error:
                notice = (f"{UNIT_NAMES[unit]}: cannot use {quoted(override, 80)}: {error}. Using the configured "
                          f"model {reference} instead.")
        with st.spinner(f"Loading the {UNIT_NAMES[unit]} model…"):
            model = None
            if reference != configured and parse_model_ref(reference).kind != "shipped":
                try:
                    model, load_notice = _visitor_models().get(_visitor_id(), (reference, unit))
                except ModelLimitError as error:
                    notice = (f"{UNIT_NAMES[unit]}: cannot load {quoted(override, 80)}: {error}. Using the "
                              f"configured model {configured} instead.")
                    reference = configured
            if model is None:
                model, load_notice = _load(reference, unit)
        if model.unit != unit and not (notice or load_notice):
            load_notice = (f"{reference} is a {UNIT_NAMES.get(model.unit, model.unit)} model; it is shown in the "
                           f"{UNIT_NAMES[unit]} slot as configured.")
        item = LoadedModel(unit, model, reference, notice or load_notice)
        if item.notice:
            st.warning(plain(item.notice), icon=":material/warning:")
        pinned = pinned_reference(model)
        if pinned and pinned != reference and "hub" in settings.overrides:
            pins[unit] = pinned
        loaded.append(item)
    if pins:
        # A Hub branch or tag moves; the link must name the commit this view was drawn with. The sidebar
        # box takes the pinned reference on the rerun (a bound widget's value can only be set before it is
        # drawn), and the URL follows it.
        st.session_state[_PINS_KEY] = pins
        st.rerun()
    return loaded


def require_units(settings: AppSettings) -> list[str]:
    units = selected_units(settings)
    if not units:
        stop("Select at least one unit in the sidebar.")
    return units


# ---- cached analysis -------------------------------------------------------------------------------------
# Keyed by LoadedModel.key (unit, source, revision) and the normalised text; the model object itself is
# not hashed (leading underscore). Bounds keep memory flat however many visitors type.

@st.cache_data(max_entries=4096, show_spinner=False)
def suggestions(key: tuple, _model, text: str, k: int):
    from .analysis import suggest

    return suggest(_model, text, k=k)


MAX_SUGGESTIONS = 10  # the most suggestions the Autocomplete page shows


@st.cache_data(max_entries=1024, show_spinner=False)
def suggestions_by_prefix(key: tuple, _model, text: str, first: int):
    """``MAX_SUGGESTIONS`` top words after every character of ``text`` from ``first`` on, from one forward
    pass: the last serves the page's suggestions (any k, sliced), all of them its letter-by-letter table."""
    from .analysis import suggest_each_prefix

    return suggest_each_prefix(_model, text, k=MAX_SUGGESTIONS, first=first)


@st.cache_resource(show_spinner=False)
def _matrix_workers() -> MatrixWorkers:
    """The process's pool of worker processes for connectivity matrices (rnnmem.workers; RNNMEM_WORKERS)."""
    return MatrixWorkers()


@st.cache_resource(show_spinner=False)
def _connectivity_views() -> ConnectivityViews:
    return ConnectivityViews(_matrix_workers())


def connectivity_view(item: LoadedModel, text: str, position: int):
    """What the Connectivity page draws for one unit: the whole matrix when it is ready; for a new text,
    while a worker process computes the matrix, the selected character's row alone, at once
    (rnnmem.workers.ConnectivityViews). The 32 most recent matrices are kept."""
    return _connectivity_views().get(item.key, item.model, text, position)


@st.cache_data(max_entries=32, show_spinner=False)
def connectivity(key: tuple, _model, text: str):
    """The whole connectivity matrix for (model, text): about 1 MB at the 500-character limit. Computed in
    a worker process when there is one, so the server keeps answering other visitors meanwhile."""
    return _matrix_workers().connectivity_matrix(_model, text, k=3)


@st.cache_data(max_entries=32, show_spinner=False)
def accuracy(key: tuple, _model, text: str) -> dict:
    from .analysis import accuracy_by_chars_seen

    return accuracy_by_chars_seen(_model, text).as_dict()


# ---- text guards ---------------------------------------------------------------------------------------

def fit_text(raw: str | None, keep: str = "head") -> tuple[str, str | None]:
    """The normalised text a model will see, within ``MAX_TEXT_CHARS``, and a message when it had to be
    cut. ``keep="tail"`` keeps the end (autocomplete: the word being typed), else the start. Returns
    ("", None) when nothing of the text survives normalisation."""
    from .analysis import MAX_TEXT_CHARS

    raw = raw or ""
    message = None
    if len(raw) > MAX_RAW_TEXT:
        raw = raw[-MAX_RAW_TEXT:] if keep == "tail" else raw[:MAX_RAW_TEXT]
        message = f"the text is longer than {MAX_RAW_TEXT:,} characters"
    text = normalize(raw)
    if len(text) > MAX_TEXT_CHARS:
        if keep == "tail":
            cut = text.find(" ", len(text) - MAX_TEXT_CHARS)  # start at a word's leading space
            text = text[cut:] if cut >= 0 else " " + text[-(MAX_TEXT_CHARS - 1):]
        else:
            cut = text.rfind(" ", 0, MAX_TEXT_CHARS)  # end before the word that does not fit
            text = text[:cut] if cut > 0 else text[:MAX_TEXT_CHARS]
        message = f"the text is {len(normalize(raw)):,} characters once normalised"
    if message:
        where = "last" if keep == "tail" else "first"
        message = f"{message[0].upper()}{message[1:]}; using its {where} {len(text):,} (the limit is " \
                  f"{MAX_TEXT_CHARS:,} normalised characters)."
    return text, message


def usable_text(raw: str | None, *, keep: str, empty_message: str) -> str:
    """``fit_text`` for a page: warns when the text was cut, and stops the page with ``empty_message``
    when nothing of it survives normalisation."""
    text, cut = fit_text(raw, keep=keep)
    if cut:
        st.warning(plain(cut), icon=":material/content_cut:")
    if not text:
        stop(empty_message)
    return text


# ---- rendering -------------------------------------------------------------------------------------------

def suggestion_list(words: Sequence[str], probabilities: Sequence[float], *, desired: str | None = None) -> None:
    """Words with their probabilities as labelled bars; the desired word marked."""
    for word, p in zip(words, probabilities):
        mark = "  ✓" if desired is not None and word == desired else ""
        st.progress(min(max(float(p), 0.0), 1.0), text=plain(f"{word} · {p:.1%}{mark}"))


def model_heading(item: LoadedModel) -> None:
    st.markdown(f"**{plain(item.name)}**")
    st.caption(plain(item.caption()))


def connectivity_chart(chart_id: str, label: str, result, position: int, *, select_on: str,
                       on_pick: Callable[[str], None], colours: str = "article") -> None:
    """The clickable connectivity text of one row (a unit's model, or the article's published data),
    ``result`` being anything with ``text``, ``row`` and ``scaled_row``; a click (or hover) calls
    ``on_pick(chart_key)``.

    The chart's key includes the selected position: each selection draws a fresh chart whose selection
    starts empty, so clicking any character (even one picked before) is always a change that reruns."""
    frame = charts.connectivity_text_frame(result.text, result.scaled_row(position), position,
                                          raw=result.row(position))
    spec = charts.connectivity_text_spec(frame, select_on=select_on, colours=colours)  # prebuilt chart
    key = f"chart_{chart_id}_{position}_{select_on}_{colours}"
    st.vega_lite_chart(spec=spec, key=key, on_select=functools.partial(on_pick, key), selection_mode=["pick"],
                       theme=None, width="content", alt=f"{label} connectivity for character {position}")


def explained_word(result, position: int) -> None:
    """Which word's logit the connectivity explains at ``position``, saying so plainly where the text's
    own word is not in the model's vocabulary and a stand-in is explained instead."""
    from .analysis import text_words

    desired = result.desired[position]
    st.markdown(f"Desired: **{plain(desired)}**")
    if result.desired_in_text[position]:
        st.caption("the word in the text")
        return
    word = text_words(result.text)[position]
    if not word:
        st.caption(plain(f"A new word starts here; explained instead: the model's top guess, “{desired}”."))
    else:
        st.caption(plain(f"“{word}” is not in the model's vocabulary: explained instead is “{desired}”, the "
                         "model's top guess at the word's last letter, the same for every letter of the word."))


def picked_position(chart_key: str) -> int | None:
    """The character index picked in the connectivity chart ``chart_key``, if any."""
    state = st.session_state.get(chart_key)
    try:
        points = state["selection"]["pick"]
        return int(points[0]["index"]) if points else None
    except (KeyError, TypeError, ValueError, IndexError):
        return None


__all__ = ["configure_runtime", "app_settings", "plain", "notify", "header", "stop", "sidebar", "selected_units",
           "load_models", "require_units", "keep_link_short", "suggestions", "suggestions_by_prefix", "connectivity",
           "connectivity_view", "accuracy", "fit_text", "usable_text", "suggestion_list", "model_heading",
           "connectivity_chart", "explained_word", "picked_position", "WALKTHROUGH_TEXT",
           "WALKTHROUGH_MOMENTS", "AUTOCOMPLETE_EXAMPLE", "LoadedModel"]
