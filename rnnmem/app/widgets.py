"""What the pages draw for a model: suggestion bars, its heading, and the clickable connectivity text."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence

import pandas as pd
import streamlit as st

from .. import charts
from ..inputs import text_words
from ..recall import earlier_readings
from .messages import plain
from .models import ShownModel


READ_MARK = "↺"  # a suggestion the text already had before the word being typed
READ_MEANING = "a word already read in the text"


def suggestion_list(words: Sequence[str], probabilities: Sequence[float], *, desired: str | None = None,
                    read: Collection[str] = ()) -> None:
    """Words with their probabilities as labelled bars; the desired word marked ✓, and a word already
    read (``read``: rnnmem.text.words_read_before) marked ↺."""
    for word, p in zip(words, probabilities):
        mark = ("  ✓" if desired is not None and word == desired else "") + (f"  {READ_MARK}" if word in read else "")
        st.progress(min(max(float(p), 0.0), 1.0), text=plain(f"{word} · {p:.1%}{mark}"))


def model_heading(item: ShownModel) -> None:
    st.markdown(f"**{plain(item.name)}**")
    st.caption(plain(item.caption()))


def models_caption(models: Sequence[ShownModel]) -> None:
    """One line naming every model a page draws, and for Hub models the commit: for pages that show the
    units together rather than one heading each."""
    st.caption(plain("Models: " + "; ".join(f"{item.name}: {item.caption()}" for item in models)))


def connectivity_chart(chart_id: str, label: str, result, position: int, *, select_on: str,
                       on_pick: Callable[[str], None], colours: str = "article",
                       value: str = "connectivity") -> tuple[dict, pd.DataFrame]:
    """The clickable connectivity text of one row (a unit's model, or the article's published data),
    ``result`` being anything with ``text``, ``row``, ``scaled_row`` and the explained ``word`` or the
    ``desired`` words (a ConnectivityResult, or another attribution: ``value`` names it in the tooltips);
    a click (or hover) calls ``on_pick(chart_key)``.
    Returns, for downloads, the figure (the row with its colour scale and a title saying whose, which word
    and where: ``charts.connectivity_figure``) and its table (``charts.connectivity_table``).

    The chart's key includes the selected position: each selection draws a fresh chart whose selection
    starts empty, so clicking any character (even one picked before) is always a change that reruns."""
    frame = charts.connectivity_text_frame(result.text, result.scaled_row(position), position,
                                          raw=result.row(position))
    titles = ("connectivity / max", "connectivity") if value == "connectivity" else (f"|{value}| / max", value)
    spec = charts.connectivity_text_spec(frame, select_on=select_on, colours=colours, titles=titles)  # prebuilt
    key = f"chart_{chart_id}_{position}_{select_on}_{colours}"
    st.vega_lite_chart(spec=spec, key=key, on_select=functools.partial(on_pick, key), selection_mode=["pick"],
                       theme=None, width="content", alt=f"{label} {value} for character {position}")
    word = getattr(result, "word", None) or result.desired[position]  # an attribution's, or the desired word
    figure = charts.connectivity_figure(spec, colours=colours, value=value,
                                        title=charts.connectivity_title(label, value, word, result.text, position))
    return figure, charts.connectivity_table(frame, value)


def explained_word(result, position: int, explained: str | None = None, how: str = "") -> None:
    """Which word's logit the view explains at ``position``: the desired word (saying so plainly where the
    text's own word is not in the model's vocabulary and a stand-in is explained instead), or
    ``explained``, another word the visitor chose, with ``how`` it was chosen."""
    desired = result.desired[position]
    if explained is not None:
        st.markdown(f"Explained: **{plain(explained)}**")
        st.caption(plain(f"{how}; the desired word is “{desired}”."))
        return
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


def recall_note(result, position: int, word: str) -> None:
    """Under a row: where the explained ``word`` was read earlier in the text, and how much of the row at
    ``position`` is on those letters (rnnmem.recall), so a recall such as the second “grammar” is read
    off in figures, not only by eye. Nothing when the text has not had the word before."""
    readings = earlier_readings(result.text, position, word, result.row(position))
    if readings is not None:
        st.caption(plain(readings.describe()))


def picked_position(chart_key: str) -> int | None:
    """The character index picked in the connectivity chart ``chart_key``, if any."""
    state = st.session_state.get(chart_key)
    try:
        points = state["selection"]["pick"]
        return int(points[0]["index"]) if points else None
    except (KeyError, TypeError, ValueError, IndexError):
        return None
