"""Accuracy given characters seen: each model's stored evaluation, the article's curves, or your own text."""

import streamlit as st

from rnnmem import app

app.header("Accuracy",
          "How often the word being typed is the top suggestion (top-1), or among the top 2 or 3, after 0, 1, "
          "2, … of its letters. At 0 letters the model has only the context to go on.")
settings = app.app_settings()
app.check_link(["split", "topk", "article", "maxseen", "eval"])
app.check_bool("article", "article overlay")
app.check_text("eval", app.MAX_EVAL_TEXT)
TOPK = ["top-1", "top-2", "top-3"]
app.check_choice("split", app.EVALUATION_SPLITS, "split")
app.check_choices("topk", TOPK, "top-k curves")
app.check_int("maxseen", 1, 40, "characters-seen range", "showing up to 15")

controls = st.columns([1.2, 2, 1.6, 2], vertical_alignment="bottom")
split = controls[0].segmented_control("Split", app.EVALUATION_SPLITS, default="test", key="split", bind="query-params",
                                      help="Which held-out part of the corpus the stored evaluation scored.")
topk = controls[1].pills("Curves", TOPK, default=TOPK, selection_mode="multi", key="topk", bind="query-params")
overlay = controls[2].toggle("Article's curves", value=True, key="article", bind="query-params",
                             help="The published curves of the article's 2×600 GPU-trained models.")
max_seen = controls[3].slider("Characters seen up to", 1, 40, value=15, key="maxseen", bind="query-params")

split = split or "test"  # the segmented control can be emptied
units = app.require_units(settings)
models = app.load_models(settings, units)
app.models_caption(models)
ks = [int(label[-1]) for label in TOPK if label in (topk or [])]
if not ks:
    app.stop("Select at least one of the top-1, top-2 and top-3 curves.")

# Messages and the chart come and go with the split and the units: in a place of their own
# (rnnmem.app.params, "Stable places"), so the text box below keeps its link.
with st.container():
    series, missing = [], []
    for item in models:
        try:
            evaluation = app.read_evaluation(item.loaded.files_dir, split)
        except app.SettingsError as error:
            st.warning(app.plain(f"{item.name}: {error}"), icon=":material/warning:")
            continue
        if evaluation is None:
            missing.append(item)
        else:
            series.append((item.unit, "this app's model", evaluation))
    if overlay:
        article = app.charts.load_article_accuracy()
        series += [(item.unit, app.charts.ARTICLE_SOURCE, article[item.unit]) for item in models
                   if item.unit in article]
    if missing:
        names = ", ".join(f"{item.name} ({item.source})" for item in missing)
        st.info(app.plain(f"No stored {split} evaluation for {names} yet: "
                         f"python -m rnnmem evaluate MODEL_DIR --corpus CORPUS --split {split} --json "
                         f"> MODEL_DIR/evaluation_{split}.json stores it. "
                         "Score your own text below meanwhile."), icon=":material/info:")
    if series:
        frame = app.charts.accuracy_frame(series, topk=ks, max_seen=int(max_seen))
        chart = app.charts.accuracy_chart(frame)
        st.altair_chart(chart, width="stretch", alt="Accuracy against characters of the word seen, one colour per unit")
        app.downloads("accuracy", chart=chart, frame=frame)
        with st.expander("Numbers"):
            st.dataframe(frame, hide_index=True, width="stretch")
        for unit, source, evaluation in series:
            if source != app.charts.ARTICLE_SOURCE:
                st.caption(app.plain(
                    f"{app.charts.UNIT_NAMES[unit]}: {evaluation.get('chars', 0):,} characters of "
                    f"{evaluation.get('corpus', 'the corpus')} ({evaluation.get('split', split)} split), "
                    f"cross-entropy {evaluation.get('cross_entropy', float('nan')):.3f} nats."))

st.subheader("Your own text", divider="gray")
pasted = st.text_area(f"Paste text to score (up to {app.MAX_EVAL_TEXT:,} characters)", value="", key="eval",
                      bind="query-params", max_chars=app.MAX_EVAL_TEXT, height=120,
                      placeholder="Paste a paragraph or two, then Ctrl+Enter.")
app.keep_link_short("eval", pasted, keep="head")
if pasted and pasted.strip():
    own = []
    for item in models:
        with st.spinner(f"Scoring {item.name} on your text…"):
            try:
                result = app.accuracy(item.key, item.model, pasted)
            except app.InputError as error:  # nothing scorable
                st.warning(app.plain(f"{item.name}: {error}"), icon=":material/warning:")
                continue
        own.append((item.unit, "your text", result))
    if own:
        frame = app.charts.accuracy_frame(own, topk=ks, max_seen=int(max_seen))
        chart = app.charts.accuracy_chart(frame, height=340)
        st.altair_chart(chart, width="stretch", alt="Accuracy on your text against characters of the word seen")
        app.downloads("accuracy-your-text", chart=chart, frame=frame)
        st.caption(app.plain(" · ".join(f"{app.charts.UNIT_NAMES[unit]}: {r['chars']:,} characters, cross-entropy "
                                       f"{r['cross_entropy']:.3f}" for unit, _, r in own)
                            + ". A short text gives noisy curves: the counts are in the tooltips."))
