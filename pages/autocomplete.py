"""Autocomplete: every selected unit's suggestions for the word being typed, updated as you type."""

import pandas as pd
import streamlit as st

from rnnmem import app

app.header("Autocomplete",
          "Each model reads the text one character at a time; the suggestions are its most likely words for "
          "the word being typed. Delete letters to see what the models guess from the context alone.")
settings = app.app_settings()
app.check_link(["text", "k"])
app.check_text("text", app.MAX_RAW_TEXT)
app.check_int("k", 1, 10, "number of suggestions", "showing 5")

left, right = st.columns([5, 1], vertical_alignment="bottom")
raw = left.text_input("Type here", value=app.AUTOCOMPLETE_EXAMPLE, key="text", bind="query-params",
                      live="150ms", max_chars=app.MAX_RAW_TEXT,
                      help="Letters, digits and spaces count (other characters act as spaces). "
                           "Suggestions follow as you type.")
app.keep_link_short("text", raw, keep="tail")
k = right.slider("Suggestions", 1, app.MAX_SUGGESTIONS, value=5, key="k", bind="query-params")

units = app.require_units(settings)
text = app.usable_text(raw, keep="tail", empty_message="Type a few letters to see suggestions.")
models = app.load_models(settings, units)

# The suggestions for the end of the text and the letter-by-letter table: each model's answers after every
# character from the last word's leading space (the context alone) on. A keystroke reads only the
# characters it added (rnnmem.prefix_cache).
end = len(text.rstrip(" "))
start = text.rfind(" ", 0, end)
first = max(start, len(text) - 25, 0)
answers = {item.unit: app.suggestions_by_prefix(item.key, item.model, text, first) for item in models}

# The suggestions for the end of the text, one column per unit.
prefix = text.rsplit(" ", 1)[-1]
read = app.words_read_before(text, len(text) - 1)  # a suggestion among them may come from memory
shown = pd.DataFrame([(item.name, rank, word, probability, word in read) for item in models
                      for rank, (word, probability) in enumerate(zip(answers[item.unit][-1].words[:int(k)],
                                                                     answers[item.unit][-1].probabilities), 1)],
                     columns=["unit", "rank", "word", "probability", "already read"])  # the bars below, as a table
st.caption((f"Completing **{app.plain(prefix)}**" if prefix else "Predicting the next word")
           + (f" · {app.READ_MARK} {app.READ_MEANING}" if shown["already read"].any() else ""))
for column, item in zip(st.columns(len(models), border=True), models):
    with column:
        app.model_heading(item)
        result = answers[item.unit][-1]
        app.suggestion_list(result.words[:int(k)], result.probabilities[:int(k)], read=read)
app.downloads("autocomplete-suggestions", frame=shown)

# The top suggestion after every character of the last word: how each guess sharpens letter by letter.
rows = []
for offset, stop_at in enumerate(range(first + 1, len(text) + 1)):
    typed = text[start + 1:stop_at]
    row = {"typed": "(no letters yet)" if not typed else "(next word)" if typed.endswith(" ") else typed}
    for item in models:
        best = answers[item.unit][offset]
        row[item.name] = f"{best.words[0]}  {best.probabilities[0]:.0%}" if best.words else ""
    rows.append(row)
st.subheader("Letter by letter", divider="gray")
st.caption("The top suggestion of each unit after each character of the last word: the context alone "
           "(first row), then every letter typed.")
letters = pd.DataFrame(rows)
st.dataframe(letters, hide_index=True, width="stretch")
app.downloads("autocomplete-letter-by-letter", frame=letters)
