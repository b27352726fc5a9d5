"""The pages' cached analyses and text guards.

Keyed by the shown model's ``key`` (unit, reference, revision) and the normalised text; the model object
itself is not hashed (leading underscore). Bounds keep memory flat however many visitors type.
"""

from __future__ import annotations

import streamlit as st

from ..accuracy import accuracy_by_chars_seen
from ..attribution import ConnectivityResult
from ..attribution_methods import Attribution
from ..inputs import MAX_TEXT_CHARS
from ..modelref import LoadedModel
from ..prefix_cache import PrefixCache
from ..suggestions import suggest
from ..text import normalize
from ..connectivity_views import ConnectivityViews
from ..workers import AnalysisWorkers
from .messages import plain, stop
from .models import ShownModel

MAX_RAW_TEXT = 2_000  # characters a text box takes before normalisation (links are cut to this)
MAX_EVAL_TEXT = 6_000  # characters of pasted text the Accuracy page scores (it travels in the link too)


@st.cache_data(max_entries=4096, show_spinner=False)
def suggestions(key: tuple, _model, text: str, k: int):
    return suggest(_model, text, k=k)


MAX_SUGGESTIONS = 10  # the most suggestions the Autocomplete page shows


@st.cache_resource(show_spinner=False)
def _prefix_cache() -> PrefixCache:
    """The process's answers after text prefixes, shared by every visitor (bounded; rnnmem.prefix_cache)."""
    return PrefixCache(MAX_SUGGESTIONS)


def suggestions_by_prefix(key: tuple, model, text: str, first: int):
    """``MAX_SUGGESTIONS`` top words after every character of ``text`` from ``first`` on: the last serves
    the page's suggestions (any k, sliced), all of them its letter-by-letter table. A keystroke reads only
    the characters it added, and runs the dense layer only where no earlier keystroke did."""
    return _prefix_cache().suggestions_by_prefix(key, model, text, first)


@st.cache_resource(show_spinner=False)
def analysis_workers() -> AnalysisWorkers:
    """The process's pool of worker processes for connectivity matrices and attributions (rnnmem.workers;
    RNNMEM_WORKERS)."""
    return AnalysisWorkers()


@st.cache_resource(show_spinner=False)
def _connectivity_views() -> ConnectivityViews:
    return ConnectivityViews(analysis_workers())


def connectivity_view(item: ShownModel, text: str, position: int) -> ConnectivityResult:
    """What the Connectivity page draws for one unit: the whole matrix when it is ready; for a new text,
    while a worker process computes the matrix, the selected character's row alone, at once
    (rnnmem.connectivity_views.ConnectivityViews). The 32 most recent matrices are kept."""
    return _connectivity_views().get(item.key, item.loaded, text, position)


@st.cache_data(max_entries=32, show_spinner=False)
def connectivity(key: tuple, _loaded: LoadedModel, text: str):
    """The whole connectivity matrix for (model, text): about 1 MB at the 500-character limit. Computed in
    a worker process when there is one, so the server keeps answering other visitors meanwhile: the worker
    loads the model by its reference, so pass the LoadedModel (ShownModel.loaded), not the bare network."""
    return analysis_workers().connectivity_matrix(_loaded, text, k=3)


@st.cache_data(max_entries=64, show_spinner=False)
def attribution(key: tuple, _loaded: LoadedModel, text: str, position: int, method: str,
                target: str | None) -> Attribution:
    """One position's attribution by ``method`` to the word ``target`` names (rnnmem.attribution_methods):
    the Connectivity page's view for any method or target but the default, one row, never the matrix.
    Integrated gradients (seconds on a long text) is computed in a worker process when there is one, so
    pass the LoadedModel (ShownModel.loaded), as for ``connectivity``."""
    return analysis_workers().attribution(_loaded, text, position, method, target)


@st.cache_data(max_entries=32, show_spinner=False)
def accuracy(key: tuple, _model, text: str) -> dict:
    return accuracy_by_chars_seen(_model, text).as_dict()


# ---- text guards ---------------------------------------------------------------------------------------

def fit_text(raw: str | None, keep: str = "head") -> tuple[str, str | None]:
    """The normalised text a model will see, within ``MAX_TEXT_CHARS``, and a message when it had to be
    cut. ``keep="tail"`` keeps the end (autocomplete: the word being typed), else the start. Returns
    ("", None) when nothing of the text survives normalisation."""
    raw = raw or ""
    message = None
    if len(raw) > MAX_RAW_TEXT:
        raw = raw[-MAX_RAW_TEXT:] if keep == "tail" else raw[:MAX_RAW_TEXT]
        message = f"the text is longer than {MAX_RAW_TEXT:,} characters"
    text = normalize(raw)
    if len(text) > MAX_TEXT_CHARS:
        if keep == "tail":
            # start at a word's leading space, one before the last word (a trailing space is not one)
            cut = text.find(" ", len(text) - MAX_TEXT_CHARS, len(text.rstrip(" ")))
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
    notice = st.container()  # taken whether the text was cut or not (rnnmem.app.params, "Stable places")
    if cut:
        notice.warning(plain(cut), icon=":material/content_cut:")
    if not text:
        stop(empty_message)
    return text
