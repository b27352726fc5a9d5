"""Connectivity: which earlier characters each unit's prediction at the selected character depends on."""

import streamlit as st

from rnnmem import ui
from rnnmem.text import normalize

ui.header("Connectivity",
          "Select a character by clicking it (or by hovering, if switched on). Every earlier character is "
          "highlighted in green by its connectivity to the desired output there: the squared gradient of the "
          "desired word's logit with respect to that input character, scaled by its row's maximum.")
settings = ui.app_settings()
ui.check_link(["text", "pos", "hover"])
ui.check_bool("hover", "hover")
ui.check_text("text", ui.MAX_RAW_TEXT)
WALKTHROUGH = normalize(ui.WALKTHROUGH_TEXT)
MOMENTS = [(moment, moment.position(WALKTHROUGH)) for moment in ui.WALKTHROUGH_MOMENTS]


def show_moment(index: int) -> None:
    """A walkthrough button: the article's paragraph with the moment's character selected."""
    st.session_state["text"] = ui.WALKTHROUGH_TEXT
    st.session_state["pos"] = MOMENTS[index][1]


def pick(chart_key: str) -> None:
    """A click (or hover) in a unit's text selects that character for every unit."""
    position = ui.picked_position(chart_key)
    if position is not None:
        st.session_state["pos"] = position


raw = st.text_area("Text", value=ui.WALKTHROUGH_TEXT, key="text", bind="query-params", max_chars=ui.MAX_RAW_TEXT,
                   height=90, help="Any text; letters, digits and spaces count. Press Ctrl+Enter to apply.")
ui.keep_link_short("text", raw, keep="head")
st.caption("The article's walkthrough: one click each.")
for index, (column, (moment, _)) in enumerate(zip(st.columns(len(MOMENTS)), MOMENTS)):
    column.button(moment.label, key=f"moment_{index}", on_click=show_moment, args=(index,), width="stretch")

units = ui.require_units(settings)
text = ui.usable_text(raw, keep="head", empty_message="Enter some text: letters, digits and spaces.")

last = len(text) - 1
default_position = MOMENTS[0][1] if text == WALKTHROUGH else last
requested = ui.int_param("pos")
if requested is not None and not 0 <= requested <= last:
    default_position = min(max(requested, 0), last)  # a link's position past the text: the nearest end
ui.check_int("pos", 0, last, "selected character", f"selecting character {default_position} instead")
if isinstance(st.session_state.get("pos"), int) and not 0 <= st.session_state["pos"] <= last:
    st.session_state["pos"] = min(max(st.session_state["pos"], 0), last)  # a shorter text: keep in range
left, right = st.columns([5, 1], vertical_alignment="bottom")
position = left.slider("Selected character", 0, last, value=default_position, key="pos", bind="query-params",
                       help="Keyboard: focus the slider and use the arrow keys to move one character.")
hover = right.toggle("Select by hovering", value=False, key="hover", bind="query-params")

st.markdown(f"Selected: character **{position}**, “{ui.plain(text[position].replace(' ', '␣'))}”, in "
            f"“{ui.plain(text[max(0, position - 30):position + 1].lstrip())}”")
for moment, moment_position in MOMENTS:
    if text == WALKTHROUGH and position == moment_position:
        st.info(moment.explanation + " The shipped models are much smaller than the article's, so they may "
                "behave differently.", icon=":material/school:")

models = ui.load_models(settings, units)
for item in models:
    with st.container(border=True):
        ui.model_heading(item)
        chart_column, words_column = st.columns([4, 1])
        with chart_column, st.spinner(f"Computing {item.name} connectivity for this text…"):
            result = ui.connectivity_view(item, text, position)
            ui.connectivity_chart(item, result, position, select_on="pointerover" if hover else "click",
                                  on_pick=pick)
        with words_column:
            desired = result.desired[position]
            where = "the word in the text" if result.desired_in_text[position] else "the model's top guess: no " \
                                                                                      "word in the vocabulary here"
            st.markdown(f"Desired: **{ui.plain(desired)}**")
            st.caption(ui.plain(where))
            ui.suggestion_list(result.top_words[position], result.top_probabilities[position], desired=desired)
