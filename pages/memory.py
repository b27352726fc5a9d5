"""Memory: how far back each unit looks, averaged over a seeded sample of a text; what its accuracy rests
on; and a text's whole connectivity matrix."""

import streamlit as st

from rnnmem import app

app.header("Memory",
          "How far back each unit's prediction reaches: the connectivity of every sampled output position to "
          "every earlier input (each row divided by its sum), averaged by distance back, with 95% bands from a "
          "bootstrap over the sampled sequences.")
settings = app.app_settings()
SOURCES = ["Walkthrough", "Pasted", "Corpus"]
SCALES = {"characters": "chars", "words": "words"}
TOPK = ["top-1", "top-2", "top-3"]
PARAMS = ["source", "text", "positions", "seed", "scale", "maxdist", "logy", "article", "stored", "by", "topk", "seq",
          "diff_a", "diff_b"]
app.check_link(PARAMS)
app.check_choice("source", SOURCES, "text")
app.check_text("text", app.MAX_EVAL_TEXT)
app.check_int("positions", 100, app.MAX_POSITIONS, "number of positions", "sampling 2,000")
app.check_int("seed", 0, 9999, "seed", "using seed 0")
app.check_choice("scale", list(SCALES), "distance scale")
app.check_int("maxdist", 2, 199, "distance range", "showing up to 40")
app.check_bool("logy", "log scale")
app.check_bool("article", "article's curves")
app.check_bool("stored", "stored figures")
app.check_choice("by", app.BREAKDOWNS, "breakdown")
app.check_choice("topk", TOPK, "top-k")

controls = st.columns([2, 2, 1], vertical_alignment="bottom")
source = controls[0].segmented_control(
    "Text", SOURCES, default="Walkthrough", key="source", bind="query-params", required=True,
    help="The article's walkthrough paragraph (one sequence), a text you paste, or the test split of the "
         "corpus configured on this server (text the models never learnt).") or "Walkthrough"
positions = controls[1].slider("Positions sampled", 100, app.MAX_POSITIONS, value=2000, step=100, key="positions",
                               bind="query-params", help="Output positions to average over: whole sequences are "
                               "drawn in a seeded order until this many are gathered (fewer if the text is shorter).")
# A slider, not a number box: a number box bound to the link crashes on a seed like "inf" (Streamlit 1.67)
seed = controls[2].slider("Seed", 0, 9999, value=0, step=1, key="seed", bind="query-params",
                          help="Seed of the sample's order and of the bootstrap.")

units = app.require_units(settings)
# The box comes and goes with the source: in a place of its own (rnnmem.app.params, "Stable places").
with st.container():
    if source == "Pasted":
        pasted = st.text_area(f"Paste text (up to {app.MAX_EVAL_TEXT:,} characters)", value="", key="text",
                              bind="query-params", max_chars=app.MAX_EVAL_TEXT, height=110,
                              placeholder="Paste a few paragraphs, then Ctrl+Enter.")
        app.keep_link_short("text", pasted, keep="head")
        if not app.normalize(pasted or ""):
            app.stop("Paste some text (letters, digits and spaces count), or choose the walkthrough paragraph.")
        texts, text_key, described = pasted, ("pasted", app.normalize(pasted)), "your text"
    elif source == "Corpus":
        corpus = settings.memory_corpus
        if corpus is None or not corpus.is_file():
            app.stop("No corpus is configured on this server (models.toml: [app] memory_corpus = \"path\"), or its "
                     "file is missing. Choose the walkthrough paragraph or paste a text.")
        texts, text_key, described = corpus, ("corpus", str(corpus)), f"the test split of {corpus.name}"
    else:
        texts, text_key, described = app.WALKTHROUGH_TEXT, ("walkthrough",), "the article's walkthrough paragraph"

models = app.load_models(settings, units)
app.models_caption(models)
try:
    profiles = app.memory_profiles(models, text_key, texts, int(positions), int(seed))
except app.InputError as error:  # a text with no word that fits a sequence; a corpus file that cannot be read
    app.stop(f"Cannot measure memory on {described}: {error}.", kind="warning")
ours = [(item.unit, app.memory_tables.OURS, profile) for item, profile in zip(models, profiles)]
sample = " · ".join(f"{item.name}: {p.positions:,} positions in {p.sequences} sequence{'s' * (p.sequences != 1)}"
                    for item, p in zip(models, profiles))
single = " A sample of one sequence has no band: the bands resample whole sequences." \
    if min(p.sequences for p in profiles) < 2 else ""
st.caption(app.plain(f"Sample of {described}, seed {int(seed)}: {sample}.{single}"))
link = {"source": source, "units": [app.UNIT_LABELS[u] for u in units], "positions": int(positions),
        "seed": int(seed), "text": texts if source == "Pasted" else None}

# ---- memory profile ---------------------------------------------------------------------------------------
st.subheader("Memory profile", divider="gray")
row = st.columns([1.2, 1.4, 1.0, 1.5, 1.4], vertical_alignment="bottom")
scale = SCALES[row[0].segmented_control("Distance in", list(SCALES), default="characters", key="scale",
                                        bind="query-params", required=True) or "characters"]
max_distance = row[1].slider("Distance shown up to", 2, 199, value=40, key="maxdist", bind="query-params")
log_y = row[2].toggle("Log scale", value=True, key="logy", bind="query-params")
show_article = row[3].toggle("Article's curves", value=True, key="article", bind="query-params",
                             help="The article's 2×600 GRU, LSTM and Nested LSTM, from the connectivity its authors "
                                  "published for the walkthrough paragraph (one sequence: no band).")
show_stored = row[4].toggle("Stored figures", value=True, key="stored", bind="query-params",
                            help="Each model's figures as measured when it was shipped, on a larger sample of its "
                                 "training corpus's test split (text it never learnt), stored beside its weights "
                                 "(memory.json): the tables' rows marked “stored”. Models without the file have "
                                 "none.")
stored, unusable = app.stored_memory(models) if show_stored else ([], [])
for problem in unusable:
    st.warning(app.plain(f"Stored figures not shown: {problem}"), icon=":material/warning:")
series = ours + (app.memory_tables.article_series(units) if show_article else [])
chart_column, table_column = st.columns([5, 4])
with chart_column:
    frame = app.memory_tables.profile_frame(series, scale, int(max_distance))
    chart = app.memory_charts.profile_chart(frame, log_y=log_y)
    st.altair_chart(chart, width="stretch",
                    alt="Mean share of connectivity against distance back, one line per unit")
    st.caption("Mean share of each output's connectivity at each distance back (0: the output's own character or "
               "word), with 95% bands; click a unit in the legend to pick it out.")
    app.memory_downloads(frame, f"profile-{scale}", {**link, "maxdist": int(max_distance), "article": show_article},
                         chart)
with table_column:
    summary = app.memory_tables.summary_frame(series, [(unit, report["held_out"]) for unit, report in stored])
    st.table(app.memory_tables.summary_table(summary).style.format({"positions": "{:,}"}), hide_index=True)
    st.caption("Context share: the share of connectivity before the current word; d50 / d90: characters back "
               "holding 50% / 90% of it; mean (95% interval)." + (
                   " Stored: measured when the model was shipped, on whole sequences of its corpus's test split "
                   "(no curve is stored)." if stored else ""))
    app.memory_downloads(summary, "summaries", {**link, "article": show_article, "stored": show_stored})

# ---- recall -----------------------------------------------------------------------------------------------------
st.subheader("Recall of words read before", divider="gray")
with st.container():  # a text with nothing to recall draws a notice instead: in a place of its own
    try:
        recalls = app.recall_profiles(models, text_key, texts, int(seed))
    except app.InputError as error:  # no rarer word read twice in one sequence
        recalls = None
        st.info(app.plain(f"No recall to measure on {described}: {error}."), icon=":material/info:")
    recall_series = [] if recalls is None else \
        app.recall_series(models, recalls, with_article=source == "Walkthrough" and show_article)
    stored_recall = [(unit, report["recall"]) for unit, report in stored if (report.get("recall") or {}).get("moments")]
    frame = app.memory_tables.recall_frame(recall_series, stored_recall)
    if len(frame):
        st.table(app.memory_tables.recall_table(frame).style.format({"moments": "{:,}"}), hide_index=True)
        st.caption("Share: how much of a rarer word's connectivity row, at its first letter where its sequence read it "
                   "before (the second “grammar” after “g”), is on the letters where it was read. Expected: what the "
                   "letters of an earlier rarer word as far back get anyway, at the first letter of a rarer new word "
                   "(the control). Lift: share / expected, above 1 where a unit looks at the word it read more than "
                   "at other such words as far back. Mean (95% interval); –: no moments, or no control letters that "
                   "far back.")
        samples = []
        if recalls is not None:
            samples.append(f"{recalls[0].characters:,} characters of {described} (whole sequences in the seed's order, "
                           f"to {app.RECALL_CHARS:,} or just past)" if source == "Corpus" else described)
        alike = {}  # one phrase for the stored samples of the same size (the shipped models': all of them)
        for unit, recall in stored_recall:
            alike.setdefault((recall["characters"], recall["split"]), []).append(app.charts.UNIT_NAMES[unit])
        samples += [f"stored ({', '.join(names)}): the first {chars:,} characters of the {split} split of the "
                    f"model's training corpus, measured when it was shipped" for (chars, split), names in alike.items()]
        st.caption(app.plain("Sample: " + "; ".join(samples) + "."))
        if recall_series and min(recall.moments for _, _, recall in recall_series) < app.recall.FEW_MOMENTS:
            st.caption("Few recall moments make an anecdote, not a figure: a corpus sample (Text: Corpus, where this "
                       "server has one) has hundreds" + (", as the stored rows do." if stored_recall else "."))
        app.memory_downloads(frame, "recall", {**link, "article": show_article, "stored": show_stored})

# ---- accuracy breakdowns -------------------------------------------------------------------------------------
st.subheader("Accuracy by kind of word", divider="gray")
row = st.columns([4, 2, 2], vertical_alignment="bottom")  # the four kinds fit on one line
by = row[0].segmented_control(
    "Break down by", app.BREAKDOWNS, default="frequency", key="by", bind="query-params", required=True,
    help="frequency: the word's rank in the vocabulary; length: its letters; repetition: the 100 most frequent "
         "words apart, the rarer ones by whether the sequence had them already (a signal of memory: compare "
         "the units' gaps); distance: the repeated rarer words by how many characters back they were last read "
         "(how far back a unit recalls a word).") or "frequency"
topk = row[1].segmented_control("Accuracy", TOPK, default="top-1", key="topk", bind="query-params",
                                required=True) or "top-1"
bands = [(item.unit, app.band_accuracy(item.key, item.model, tuple(profile.texts), by))
         for item, profile in zip(models, profiles)]
frame = app.memory_tables.breakdown_frame(bands, int(topk[-1]), max_seen=12)
chart = app.memory_charts.breakdown_chart(frame, app.BANDED_BY[by])
st.altair_chart(chart, width="content",
                alt="Accuracy against characters seen, one panel per band of words")
unknown = " · ".join(f"{app.charts.UNIT_NAMES[unit]} {result.unknown:,}" for unit, result in bands)
reading = ("a unit that remembers what it read types a rarer word it already read in the sequence from fewer "
           "letters than a new one (the last panel against the middle one); a repeated word also sits later in "
           "its sequence and among words on its topic, so compare the gap between units, not against zero; the "
           "100 most frequent words are apart, as any unit guesses them from their first letters"
           if by == "repetition" else
           "a unit that remembers further back still types a word it read from fewer letters than a new one "
           "(each band of repeated rarer words against the second panel); a repeated word also sits later in its "
           "sequence and among words on its topic, the more so the further back it was read, so compare the "
           "units' gaps, and the far bands hold fewer words"
           if by == "distance" else
           "a lead only on frequent short words comes from the first letters, not from context")
st.caption(app.plain(f"Accuracy given characters seen on the same sample, by {app.BANDED_BY[by]}: {reading}; "
                     f"points resting on few characters swing (hover for the count; more positions give more). "
                     f"Characters of words outside the vocabulary (never predictable): {unknown}."))
app.memory_downloads(frame, f"breakdown-{by}", {**link, "by": by, "topk": topk}, chart)

# ---- full matrix -----------------------------------------------------------------------------------------------
st.subheader("Full matrix", divider="gray")
count = min(p.sequences for p in profiles)
app.check_int("seq", 1, max(count, 2), "sampled sequence", "showing the first")
app.keep_in_range("seq", 1, max(count, 2), fallback=1)  # a smaller sample than the last run's: the first
sequence = st.slider("Sampled sequence", 1, max(count, 2), value=1, key="seq", bind="query-params",
                     disabled=count < 2, help="Which of the sample's sequences to show, in the order drawn.")
sequence = min(int(sequence), count)
matrices = {}
columns = st.columns(2)
for index, (item, profile) in enumerate(zip(models, profiles)):
    text = profile.texts[sequence - 1]
    result = app.connectivity(item.key, item.loaded, text)
    matrices[item.unit] = result
    with columns[index % 2]:
        st.markdown(f"**{app.plain(item.name)}**")
        frame = app.memory_tables.matrix_frame(result.text, result.connectivity)
        chart = app.memory_charts.matrix_chart(frame, result.text)
        st.altair_chart(chart, width="content",
                        alt=f"{item.name}: connectivity of every output position to every input position")
        app.memory_downloads(frame, f"matrix-{item.unit}", {**link, "seq": sequence}, chart)
st.caption("Each row: one output position's connectivity to every earlier input, as shares of the row (square-root "
           "colours; cells under 0.1% are left blank); grey lines mark word boundaries (each word's leading "
           "space). Every unit reads the same sequence only when the sample draws the same texts, as it does for "
           "units with the same training length.")
if len(models) >= 2:
    labels = {app.UNIT_LABELS[unit]: unit for unit in units}  # what the pickers show and the link carries
    app.check_choice("diff_a", list(labels), "first unit of the difference")
    app.check_choice("diff_b", list(labels), "second unit of the difference")
    pick = st.columns(3)
    first = labels[pick[0].selectbox("Difference: unit", list(labels), index=0, key="diff_a", bind="query-params")]
    second = labels[pick[1].selectbox("minus unit", list(labels), index=1, key="diff_b", bind="query-params")]
    a, b = matrices[first], matrices[second]
    if a.text != b.text:
        st.info("These two units sampled different sequences (different training lengths): no difference to draw.")
    else:
        frame = app.memory_tables.difference_frame(a.text, (first, a.connectivity), (second, b.connectivity))
        chart = app.memory_charts.difference_chart(frame, a.text)
        st.altair_chart(chart, width="content",
                        alt="Difference between two units' connectivity matrices")
        st.caption("First unit's row shares minus the second's, square-root colours: red where the first unit's "
                   "prediction depends more on that input, blue where the second's does; under 0.1% blank.")
        app.memory_downloads(frame, f"difference-{first}-{second}", {**link, "seq": sequence}, chart)
