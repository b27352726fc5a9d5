"""Training: each model's loss curves and memory measure from its training log."""

import pandas as pd
import streamlit as st

from rnnmem import app

app.header("Training",
          "Cross-entropy of each model while it learned: on its training batches, and on a held-out validation "
          "subset (full softmax) at every checkpoint.")
settings = app.app_settings()
app.check_link(["x", "logy", "measure"])
app.check_bool("logy", "log scale")
AXES = {"chars": "characters seen", "steps": "steps", "time": "time"}
app.check_choice("x", list(AXES), "x axis")
app.check_choice("measure", list(app.charts.MEMORY_MEASURES), "memory measure")

left, right = st.columns([3, 1], vertical_alignment="bottom")
x = left.segmented_control("Against", list(AXES), default="chars", format_func=AXES.get, key="x",
                           bind="query-params")
log_y = right.toggle("Log scale", value=False, key="logy", bind="query-params")

units = app.require_units(settings)
models = app.load_models(settings, units)
# Messages come and go with the units: in a place of their own (rnnmem.app.params, "Stable places"),
# so the measure below keeps its link.
with st.container():
    logs, summaries, missing = {}, [], []
    for item in models:
        try:
            rows, summary = app.read_training(item.loaded.files_dir)
        except app.SettingsError as error:
            st.warning(app.plain(f"{item.name}: {error}"), icon=":material/warning:")
            continue
        if rows:
            logs[item.unit] = rows
        else:
            missing.append(item)
        if summary:
            summaries.append({"unit": item.name, "model": item.source,
                              "characters seen": summary.get("characters_seen"), "steps": summary.get("steps"),
                              "epochs": summary.get("epochs_completed"), "seconds": summary.get("seconds"),
                              "device": summary.get("device"), "softmax": summary.get("softmax"),
                              # the last stage's loss: above 1, it weighed the letters of repeated rarer words more
                              "repeated-word weight": summary.get("repeated_word_weight", 1.0),
                              "final train loss": summary.get("final_train_loss"),
                              "final valid loss": summary.get("final_valid_loss")})

    frame = app.charts.loss_frame(logs)
    if missing:
        st.info(app.plain("No logged losses for " + ", ".join(f"{i.name} ({i.source})" for i in missing)
                         + ": its training_log.csv is empty or absent (Hub models' logs are not downloaded)."),
                icon=":material/info:")
    if frame.empty:
        app.stop("None of the selected models has logged losses yet.")
    sparse = [app.charts.UNIT_NAMES[u] for u, rows in logs.items() if len(rows) < 2]
    if sparse:
        st.caption(app.plain(f"Only one logged point so far for {', '.join(sparse)}: the curve is a single dot."))
    chart = app.charts.loss_chart(frame, x=x or "chars", log_y=bool(log_y))
    st.altair_chart(chart, width="stretch",
                    alt="Training and validation loss against training progress, one colour per unit")
    app.downloads("training-loss", chart=chart, frame=frame)

st.subheader("Memory while training")
memory = app.charts.memory_frame(logs)
if memory.empty:
    st.info("None of these logs has the memory measure: it is logged from this version of the training loop "
            "on (the columns context_share, d50 and d90 of training_log.csv).", icon=":material/info:")
else:
    st.caption("How far back each model looks, measured at every validation on the same validation sample: "
               "from the connectivity of each output position, the distance back holding 50% or 90% of it "
               "(d50, d90), and its share on characters before the current word (context share). The "
               "article's 2×600 GRU, LSTM and Nested LSTM reach a mean d90 of 31.6, 15.3 and 2.6 characters "
               "on its walkthrough paragraph.")
    measure = st.segmented_control("Measure", list(app.charts.MEMORY_MEASURES), default="d90", key="measure",
                                   bind="query-params", required=True) or "d90"
    chart = app.charts.memory_chart(memory, measure, x=x or "chars")
    st.altair_chart(chart, width="stretch", alt="The memory measure against training progress, one colour per unit")
    app.downloads("training-memory", chart=chart, frame=memory[memory["measure"] == measure])

if summaries:
    summary_frame = pd.DataFrame(summaries)
    st.dataframe(summary_frame, hide_index=True, width="stretch", column_config={
        "characters seen": st.column_config.NumberColumn(format="localized"),
        "steps": st.column_config.NumberColumn(format="localized"),
        "epochs": st.column_config.NumberColumn(format="%.3f"),
        "seconds": st.column_config.NumberColumn(format="%.0f"),
        "final train loss": st.column_config.NumberColumn(format="%.3f"),
        "final valid loss": st.column_config.NumberColumn(format="%.3f"),
    })
    app.downloads("training-summary", frame=summary_frame)
