"""Link state: every input is a widget with ``bind="query-params"``.

Streamlit seeds each bound widget from the URL, keeps the URL in step as it changes (replacing the history
entry, so typing does not fill the back button), drops values the widget cannot take, and leaves a
parameter out while it equals its default. What binding cannot do is say why a value was dropped, so the
``check_*`` helpers read the raw parameters before the widgets exist and turn every unusable value into a
one-line message under the page title (the rules themselves are rnnmem.links, pure and tested alone).

Stable places. The browser (Streamlit 1.67) binds a widget to its link parameter by the widget's id when
the widget is drawn, and unbinds that id when the widget is removed. A keyed widget that moves keeps its id:
it is drawn at its new place and removed from its old one, and when the removal comes last (it may, by
timing) the widget is left unbound, and later changes of it no longer reach the address. So anything drawn
on some runs only (a message, a progress bar, a box for one choice) above a bound widget sits in a place
taken on every run, a ``st.container()`` or ``st.empty()``. Spinners (``st.spinner``, the caches') are
transient and take no place. tests/test_stable_places.py checks the pages.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from .. import links
from ..units import UNITS
from .messages import NOTICE_SLOT_KEY, NOTICES_KEY, NOTIFIED_KEY, notify

UNITS_KEY = "units"
SET_KEY = "weights"  # which shipped set serves the units left on their shipped default (rnnmem.app.models)
LINK_CUTS_KEY = "_rnnmem_link_cuts"


def model_key(unit: str) -> str:
    """The link parameter (and widget key) of the model serving ``unit``."""
    return f"{unit}_model"


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


def keep_in_range(key: str, low: int, high: int, fallback: int | None = None) -> None:
    """Before drawing a slider whose range depends on the data: replace its remembered value when outside
    [low, high], by ``fallback`` (the value ``check_int``'s message names), else the nearest end.
    Streamlit carries a bound widget's value across a change of range (and a disabled widget keeps it),
    and a value outside the new range raises instead of being dropped."""
    value = st.session_state.get(key)
    if isinstance(value, int) and not low <= value <= high:
        st.session_state[key] = min(max(value, low), high) if fallback is None else fallback


def check_bool(name: str, what: str) -> None:
    message = links.bool_problem(raw_param(name), what)
    if message:
        notify(message)


def check_text(name: str, limit: int) -> None:
    """Message when the link's text ``name`` is longer than its box takes (the box keeps ``limit``)."""
    message = links.text_problem(raw_param(name), limit)
    if message:
        notify(message)


# The query parameters Streamlit keeps in the address bar but hides from st.query_params ("embed=true" and
# any "embed_options"): counted at this many characters when the page is embedded.
EMBED_PARAMS_ALLOWANCE = links.ORIGIN_ALLOWANCE


def page_address_chars() -> int:
    """Characters of this page's address in front of its query, as the visitor's browser shows it
    (``st.context.url``: scheme, host, port and page path; the top page's address when the app is framed on
    its own site, as on Community Cloud; a trailing slash typed by hand is not in it), with an allowance for
    the embedding parameters of an embedded page; ``links.ORIGIN_ALLOWANCE`` when unknown (no browser, as
    in AppTest)."""
    url = st.context.url  # None without a browser's session
    if not url:
        return links.ORIGIN_ALLOWANCE
    return len(url) + (EMBED_PARAMS_ALLOWANCE if st.context.is_embedded else 0)


def keep_link_short(name: str, value: str | None, *, keep: str) -> None:
    """After the text box ``name`` is drawn: when the page's link, with ``value`` in it, would be longer than
    ``links.MAX_LINK_CHARS``, rerun with the text cut to fit (``keep`` its "head" or "tail"), so every
    address the app writes opens again, on any proxy. The page's own address is counted as the browser
    shows it, so a link of up to ``MAX_LINK_CHARS`` characters, made by hand, is kept whole."""
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    params[name] = [value or ""]
    cut = links.fit_link(params, name, keep, page_address_chars())
    if cut is not None and cut != (value or ""):
        st.session_state[LINK_CUTS_KEY] = {name: (cut, len(value or ""), keep)}
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




def begin_run() -> None:
    """Start of every run (app.py): forget the previous run's place for messages, and cut a text box that
    made the page's link too long (see ``keep_link_short``) before the box is drawn (a bound widget's value
    is set only then), with a message."""
    st.session_state[NOTICE_SLOT_KEY] = None
    st.session_state[NOTICES_KEY] = []
    st.session_state[NOTIFIED_KEY] = []
    for name, (cut, length, keep) in st.session_state.pop(LINK_CUTS_KEY, {}).items():
        st.session_state[name] = cut
        where = "last" if keep == "tail" else "first"
        notify(f"The text was cut to its {where} {len(cut):,} of {length:,} characters: a page's link carries at "
               f"most {links.MAX_LINK_CHARS:,} characters, the longest link this app promises to open.")
