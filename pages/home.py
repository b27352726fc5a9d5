"""Landing page: what each page shows, and why."""

import streamlit as st

from rnnmem import app

app.header("Visualizing memorization in RNNs",
          "Character-level recurrent networks that complete the word you are typing, after the Distill "
          "article by Andreas Madsen (2019). Which of the earlier characters does each kind of unit use?")
app.check_link([])

st.markdown(
    "Each model reads text one character at a time and, at every character, predicts the word being typed. "
    "Comparing recurrent units on that task shows how much of the past each one remembers and uses."
)
pages = [
    ("pages/autocomplete.py", "Autocomplete", ":material/keyboard:",
     "Type, and every selected unit suggests the word you are typing, side by side. Delete letters: good "
     "models keep making sensible guesses from the context alone."),
    ("pages/connectivity.py", "Connectivity", ":material/hub:",
     "Click a character: every earlier character turns green by how strongly the prediction there depends "
     "on it (the gradient of the desired word's logit). Three moments from the article are one click away."),
    ("pages/accuracy.py", "Accuracy", ":material/monitoring:",
     "How often the right word is among the top 1, 2 or 3 suggestions after 0, 1, 2, … of its letters, "
     "against the article's published curves; or score your own text."),
    ("pages/memory.py", "Memory", ":material/history:",
     "How far back each unit looks, in characters and in words, averaged over a sample of a text with "
     "confidence bands; whether it looks back at a word it read when that word comes again (recall, against "
     "a control); which words its accuracy rests on; and a text's whole connectivity matrix."),
    ("pages/training.py", "Training", ":material/trending_down:",
     "Each model's training and validation loss as it learned, and how far back it looked as it trained."),
]
for path, label, icon, text in pages:
    with st.container(border=True):
        st.page_link(path, label=label, icon=icon)
        st.caption(text)

about_models = (
    "The article-size weights chosen in the sidebar are the article's 2×600 shape, trained here on a GPU for a few "
    "minutes each" if app.shipped_set() else
    "The shipped models are smaller than the article's (2×224 against 2×600; the Nested LSTM 1×224) and were "
    "trained on a CPU, on a Wikipedia corpus like text8")
st.info(f"{about_models}: the pages show the article's published predictions, connectivity and curves beside "
        "them, and each model's card says how far it was trained and how it scores. Every view's address is a "
        "share link that reproduces it.",
        icon=":material/info:")
