"""The rnnmem dashboard: ``streamlit run app.py``.

The entry point declares the pages and the sidebar they share (units and models); each page is a short
script in pages/ over rnnmem.app. Which model serves each unit comes from models.toml (see README).
"""

from pathlib import Path

import streamlit as st

from rnnmem import app

# The icon is a file shipped here, inlined into the page: a Material icon as page icon would make every
# visitor's browser fetch it from a third-party font server.
ICON = Path(__file__).resolve().parent / "assets" / "icon.svg"
st.set_page_config(page_title="Memorization in RNNs", page_icon=str(ICON), layout="wide")
app.configure_runtime()
app.begin_run()

page = st.navigation([
    st.Page("pages/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/autocomplete.py", title="Autocomplete", icon=":material/keyboard:", url_path="autocomplete"),
    st.Page("pages/connectivity.py", title="Connectivity", icon=":material/hub:", url_path="connectivity"),
    st.Page("pages/accuracy.py", title="Accuracy", icon=":material/monitoring:", url_path="accuracy"),
    st.Page("pages/memory.py", title="Memory", icon=":material/history:", url_path="memory"),
    st.Page("pages/training.py", title="Training", icon=":material/trending_down:", url_path="training"),
])
app.sidebar(app.app_settings())
page.run()
