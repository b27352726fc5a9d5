"""Connectivity: which earlier characters each unit's prediction at the selected character depends on."""

import json

import streamlit as st

from rnnmem import app

app.header("Connectivity",
          "Select a character by clicking it (or by hovering, if switched on). Every earlier character is "
          "coloured by its connectivity to the desired output there (the squared gradient of the desired word's "
          "logit with respect to that input character, scaled by its row's maximum), from teal-blue (none) to "
          "green (the strongest), as in the article. Below the colours, choose another attribution or another "
          f"word to explain. Beside each unit, its top 3 words there: ✓ the desired word, {app.READ_MARK} "
          f"{app.READ_MEANING} before it. Under a row, where the explained word was read earlier in the text: "
          "how much of the row is on those letters.")
settings = app.app_settings()
app.check_link(["text", "pos", "hover", "colours", "article", "method", "target", "word"])
app.check_bool("hover", "hover")
app.check_bool("article", "article's models")
app.check_choice("colours", list(app.charts.COLOUR_MAPPINGS), "colours")
app.check_text("text", app.MAX_RAW_TEXT)
TARGETS = ["desired", "top-1", "top-2", "top-3", "word"]  # link values: short and stable
TARGET_HOW = {"top-1": "the model's top suggestion", "top-2": "the model's second suggestion",
              "top-3": "the model's third suggestion", "word": "the word you typed"}
MAX_WORD = 40
app.check_choice("method", list(app.METHODS), "attribution")
app.check_choice("target", TARGETS, "explained word")
app.check_text("word", MAX_WORD)
WALKTHROUGH = app.normalize(app.WALKTHROUGH_TEXT)
MOMENTS = [(moment, moment.position(WALKTHROUGH)) for moment in app.WALKTHROUGH_MOMENTS]


def show_moment(index: int) -> None:
    """A walkthrough button: the article's paragraph with the moment's character selected."""
    st.session_state["text"] = app.WALKTHROUGH_TEXT
    st.session_state["pos"] = MOMENTS[index][1]


def pick(chart_key: str) -> None:
    """A click (or hover) in a unit's text selects that character for every unit."""
    position = app.picked_position(chart_key)
    if position is not None:
        st.session_state["pos"] = position


raw = st.text_area("Text", value=app.WALKTHROUGH_TEXT, key="text", bind="query-params", max_chars=app.MAX_RAW_TEXT,
                   height=90, help="Any text; letters, digits and spaces count. Press Ctrl+Enter to apply.")
app.keep_link_short("text", raw, keep="head")
st.caption("The article's walkthrough: one click each.")
for index, (column, (moment, _)) in enumerate(zip(st.columns(len(MOMENTS)), MOMENTS)):
    column.button(moment.label, key=f"moment_{index}", on_click=show_moment, args=(index,), width="stretch")

units = app.require_units(settings)
text = app.usable_text(raw, keep="head", empty_message="Enter some text: letters, digits and spaces.")

last = len(text) - 1
default_position = MOMENTS[0][1] if text == WALKTHROUGH else last
requested = app.int_param("pos")
if requested is not None and not 0 <= requested <= last:
    default_position = min(max(requested, 0), last)  # a link's position past the text: the nearest end
app.check_int("pos", 0, last, "selected character", f"selecting character {default_position} instead")
app.keep_in_range("pos", 0, last)  # a shorter text
left, right = st.columns([5, 1], vertical_alignment="bottom")
position = left.slider("Selected character", 0, last, value=default_position, key="pos", bind="query-params",
                       help="Keyboard: focus the slider and use the arrow keys to move one character.")
hover = right.toggle("Select by hovering", value=False, key="hover", bind="query-params")
colour_column, article_column = st.columns([2, 3], vertical_alignment="bottom")
colours = colour_column.segmented_control(
    # no format_func: a bound widget puts its option labels in the link, and these are short and stable
    "Colours", list(app.charts.COLOUR_MAPPINGS), default="article", key="colours", bind="query-params", required=True,
    help="The article's colours: opaque viridis from teal-blue to green. Faded: the same colours fading onto "
         "white by a square-root opacity, which keeps faint long-range links visible.") or "article"
scale_place = colour_column.empty()  # the scale is named after the attribution, chosen below
on_walkthrough = text == WALKTHROUGH
show_article = article_column.toggle(
    "Show the article's models (published)", value=True, key="article", bind="query-params",
    disabled=not on_walkthrough,
    help="The article's own 2×600 GRU, LSTM and Nested LSTM, trained 2 epochs on text8 on a GPU: the "
         "predictions and connectivity its authors published for this paragraph (MIT licence). Only for the "
         "walkthrough paragraph.") and on_walkthrough

# two halves: each choice's options fit in full (a third of the page clipped "integrated_gradients"); the
# typed word goes under "Explain", whose "word" it serves
method_column, target_column = st.columns(2, vertical_alignment="top")
method = method_column.segmented_control(
    "Attribution", list(app.METHODS), default="grad_sq", key="method", bind="query-params", required=True,
    help="How each earlier character is credited with the explained word's logit. " + " ".join(
        f"{name}: {m.label}." for name, m in app.METHODS.items())) or "grad_sq"
target = target_column.segmented_control(
    "Explain", TARGETS, default="desired", key="target", bind="query-params", required=True,
    help="Whose logit: the desired word (the word in the text, as the article), one of each model's top-3 "
         "suggestions at the selected character, or a word you type.") or "desired"
word = target_column.text_input("Word", value="", key="word", bind="query-params", max_chars=MAX_WORD,
                              disabled=target != "word", placeholder="a vocabulary word")
scale_title = app.charts.scale_title(app.value_name(method))
scale_place.vega_lite_chart(spec=json.loads(app.charts.connectivity_legend_spec(colours, scale_title)),
                            width="content", theme=None, alt=f"The colour scale: {scale_title}, 0 to 1")
meaning = app.METHODS[method].meaning
if method == "integrated_gradients":
    meaning += (f" Integration points: {app.IG_STEPS}, doubled (to {app.IG_MAX_STEPS} at most) until the shares add up "
                f"to within {app.IG_TOLERANCE:.0%}.")
if app.METHODS[method].signed:
    meaning += " Colour: the magnitude, scaled by its row's largest; the sign is in the tooltips and downloads."
st.caption(app.plain(f"{app.METHODS[method].label}: {meaning}"))
typed = app.normalize(word or "").strip()
if target == "word" and (not typed or " " in typed):
    st.info("Type one word (letters only) to explain its logit; meanwhile the desired word is explained.",
            icon=":material/info:")
if target == "word":
    # "word:": the typed word even when it is spelt like a keyword ("desired" is a vocabulary word)
    explained_target = f"word:{typed}" if typed and " " not in typed else None
else:
    explained_target = None if target == "desired" else target  # "top-N": rnnmem.attribution.explained_id
default_view = method == "grad_sq" and explained_target is None
view_state = {"pos": position, "method": method, "target": target, **({"word": typed} if target == "word" else {})}

st.markdown(f"Selected: character **{position}**, “{app.plain(text[position].replace(' ', '␣'))}”, in "
            f"“{app.plain(text[max(0, position - 30):position + 1].lstrip())}”")
for moment, moment_position in MOMENTS:
    if text == WALKTHROUGH and position == moment_position:
        st.info(moment.explanation + " The shipped models are much smaller than the article's, so they may "
                "behave differently: compare them with the article's own rows.", icon=":material/school:")

select_on = "pointerover" if hover else "click"
models = app.load_models(settings, units)
read = app.words_read_before(text, position)  # every row's text is this text: its ↺ words, once
for item in models:
    with st.container(border=True):
        app.model_heading(item)
        chart_column, words_column = st.columns([4, 1])
        with chart_column, st.spinner(f"Computing {item.name} {app.METHODS[method].label} for this text…"):
            result = app.connectivity_view(item, text, position)
            shown, explained = result, None
            if not default_view:
                try:
                    shown = app.attribution(item.key, item.loaded, text, position, method, explained_target)
                except app.InputError as error:  # a typed word outside this model's vocabulary
                    st.warning(app.plain(f"{error}: explaining the desired word instead."), icon=":material/warning:")
                    shown = app.attribution(item.key, item.loaded, text, position, method, None)
                explained = shown.word if explained_target is not None and shown.word != result.desired[position] \
                    else None
            spec, table = app.connectivity_chart(item.unit, item.name, shown, position, select_on=select_on,
                                                on_pick=pick, colours=colours, value=app.value_name(method))
            if method == "integrated_gradients":
                st.caption(f"Σ attributions {shown.values.sum():.3f}; logit(text) − logit(spaces) "
                           f"{shown.logit - shown.baseline_logit:.3f} ({shown.n_steps} integration points).")
                if shown.incomplete():
                    st.warning(f"The shares miss logit(text) − logit(spaces) by more than {app.IG_TOLERANCE:.0%} "
                               f"even at {shown.n_steps} points: read them as approximate.", icon=":material/warning:")
            tables = {"row": table}
            if default_view and "rows" not in result.extras:  # the whole matrix is here: offer it too
                tables["matrix"] = app.matrix_frame(result.connectivity, result.text, result.desired)
            app.downloads(f"connectivity-{item.unit}", chart=spec, frame=tables, state=view_state)
            app.recall_note(shown, position, explained or result.desired[position])
        with words_column:
            app.explained_word(result, position, explained,
                               TARGET_HOW.get(target, "") if explained is not None else "")
            app.suggestion_list(result.top_words[position], result.top_probabilities[position],
                               desired=result.desired[position], read=read)
    if show_article and item.unit in app.walkthrough.ARTICLE_UNITS:
        published = app.walkthrough.article_walkthrough(item.unit)
        with st.container(border=True):
            st.markdown(f"**{app.plain(item.name)} · {app.plain(app.walkthrough.ARTICLE_SOURCE)}**")
            st.caption("2×600, trained 2 epochs on text8 on a GPU; the data its authors published for this "
                       "paragraph (MIT licence), not computed here"
                       + ("." if default_view else ": its connectivity of the desired word, whatever is chosen above."))
            chart_column, words_column = st.columns([4, 1])
            with chart_column:
                spec, table = app.connectivity_chart(f"article_{item.unit}", f"The article's {item.name}", published,
                                                    position, select_on=select_on, on_pick=pick, colours=colours)
                app.downloads(f"connectivity-article-{item.unit}", chart=spec, frame=table, state={"pos": position})
                app.recall_note(published, position, published.desired[position])
            with words_column:
                app.explained_word(published, position)
                app.suggestion_list(published.top_words[position], published.top_probabilities[position],
                                   desired=published.desired[position], read=read)
