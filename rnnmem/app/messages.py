"""Messages on a page: one-line warnings under the title, and the escaping that keeps them plain text.

Safety. User text (typed, or from a link) is never handed to HTML: it reaches the page only as widget
values, Vega text marks, dataframe cells, or Markdown escaped by ``plain`` (which neutralises every
Markdown and HTML metacharacter). Model vocabularies from the Hub are untrusted too and go the same way.
"""

from __future__ import annotations

import re

import streamlit as st

from .runtime import ensure_entrypoint

NOTICES_KEY = "_rnnmem_notices"
NOTICE_SLOT_KEY = "_rnnmem_notice_slot"
NOTIFIED_KEY = "_rnnmem_notified"  # every message notified in this run, shown or queued (reset by begin_run)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=$:^&\"'%@/])")


def plain(text, limit: int = 400) -> str:
    """``text`` as Markdown that renders literally: one line, at most ``limit`` characters, every Markdown,
    HTML, LaTeX and Streamlit-directive character backslash-escaped. For anything a user or a model file
    controls that must appear inside Markdown (messages, captions)."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def notify(message: str) -> None:
    """A one-line warning under the page title: shown there at once if the title is already on the page,
    else queued until ``header`` draws it. Once per run: app.py and the page may both meet the same problem
    (an invalid settings file), before and after the title."""
    notified = st.session_state.setdefault(NOTIFIED_KEY, [])
    if message in notified:
        return
    notified.append(message)
    slot = st.session_state.get(NOTICE_SLOT_KEY)
    if slot is not None:
        slot.warning(plain(message), icon=":material/warning:")
        return
    st.session_state.setdefault(NOTICES_KEY, []).append(message)


def header(title: str, intro: str | None = None) -> None:
    """The page title, an optional one-paragraph introduction, and any queued warnings."""
    ensure_entrypoint()
    st.title(title)
    if intro:
        st.caption(intro)
    slot = st.container()
    st.session_state[NOTICE_SLOT_KEY] = slot
    for message in st.session_state.pop(NOTICES_KEY, []):
        slot.warning(plain(message), icon=":material/warning:")


def stop(message: str, kind: str = "info") -> None:
    """Show a one-line message and end the page here (the pages' guard)."""
    getattr(st, kind)(plain(message))
    st.stop()
