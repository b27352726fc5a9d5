"""AppTests: every page runs without an exception and shows real values; links are validated.

The app reads its models from a temporary models.toml (``RNNMEM_MODELS``) that points at the shipped
weights plus a generated evaluation file and training log, so the Accuracy and Training pages have data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rnnmem.analysis import accuracy_by_chars_seen, suggest
from rnnmem.model import UNITS
from rnnmem.modelref import LoadedModel
from rnnmem.refs import load_model, shipped_dir
from rnnmem.settings import SETTINGS_ENV
from rnnmem.text import normalize
from rnnmem.workers import WORKERS_ENV
from rnnmem import app as ui
from rnnmem.walkthrough import MOMENTS as WALKTHROUGH_MOMENTS
from rnnmem.walkthrough import PARAGRAPH as WALKTHROUGH_TEXT

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 180  # seconds per run: connectivity on a busy 2-core machine takes a few
HOSTILE = ('<img src=x onerror=alert(1)> <script>window.__pwned=1</script> javascript:alert(1) '
           '[x](javascript:alert(1)) $x$ :red[y]')
SAMPLE = (WALKTHROUGH_TEXT + " the united states of america is a country in north america " * 3)


@pytest.fixture(scope="session")
def models_toml(tmp_path_factory) -> Path:
    """Model directories that reuse the shipped weights (symlinks) with a training log for every unit and
    a stored test evaluation for all but the vanilla RNN (to exercise the "no evaluation" path)."""
    root = tmp_path_factory.mktemp("app-models")
    lines = ["[models]"]
    for unit in UNITS:
        directory = root / unit
        directory.mkdir()
        for name in ("config.json", "model.safetensors", "README.md"):
            (directory / name).symlink_to(shipped_dir(unit) / name)
        summary = json.loads((shipped_dir(unit) / "training_summary.json").read_text())
        summary.pop("repeated_word_weight", None)  # the plain loss: the key is absent
        if unit == "gru":
            summary["repeated_word_weight"] = 2.5  # a GRU trained with --repeat-weight 2.5
        (directory / "training_summary.json").write_text(json.dumps(summary))
        memory = ",0.21,1.5,4.5" if unit != "rnn" else ",,,"  # the RNN's log predates the memory measure
        (directory / "training_log.csv").write_text(
            "step,chars_seen,seconds,train_loss,valid_loss,context_share,d50,d90\n"
            f"10,64000,20.0,7.5,7.4,,,\n20,128000,40.0,6.8,6.9{memory}\n30,192000,60.0,6.2,6.4{memory}\n")
        if unit != "rnn":
            result = accuracy_by_chars_seen(load_model(unit), SAMPLE).as_dict()
            evaluation = {"unit": unit, "split": "test", "corpus": "test sample", **result}
            (directory / "evaluation_test.json").write_text(json.dumps(evaluation))
        lines.append(f'{unit} = "./{unit}"')
    path = root / "models.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def app(models_toml, monkeypatch):
    monkeypatch.setenv(SETTINGS_ENV, str(models_toml))
    monkeypatch.setenv(WORKERS_ENV, "0")  # matrices in this process (tests/test_workers.py tests the pool)

    def make(page: str | None = None, **params) -> AppTest:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
        for name, value in params.items():
            at.query_params[name] = value
        if page:
            at.switch_page(f"pages/{page}.py")
        return at.run()

    return make


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def progress_labels(at: AppTest) -> list[str]:
    return [element.proto.text for element in at.get("progress")]


def unescape(markdown: str) -> str:
    """Undo ui.plain's backslash escapes, to compare with the text a browser shows."""
    out, i = [], 0
    while i < len(markdown):
        if markdown[i] == "\\" and i + 1 < len(markdown):
            i += 1
        out.append(markdown[i])
        i += 1
    return "".join(out)


# ---- pages ------------------------------------------------------------------------------------------------

def test_home_page_links_every_page(app):
    at = app()
    assert not at.exception
    assert texts(at.title) == ["Visualizing memorization in RNNs"]
    assert len(at.get("page_link")) == 5
    assert any("small" in info.value for info in at.info)  # the shipped-weights notice


def test_autocomplete_starts_with_the_article_example_and_follows_typing(app):
    at = app("autocomplete", units=["GRU", "LSTM"])
    assert not at.exception
    assert at.text_input(key="text").value == "parts of north africa"
    first = progress_labels(at)
    assert len(first) == 2 * 5  # two units, five suggestions each
    assert any("Completing **africa**" in c.value for c in at.caption)

    at.text_input(key="text").input("the united st").run()
    assert not at.exception
    typed = progress_labels(at)
    assert typed != first and len(typed) == 10
    assert any("Completing **st**" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert list(table["typed"]) == ["(no letters yet)", "s", "st"]  # the last word, letter by letter
    assert set(table.columns) == {"typed", "GRU", "LSTM"}


def test_autocomplete_marks_the_suggestions_the_text_already_has(app):
    text = "he said that he was going to the city and that he "
    at = app("autocomplete", units=["GRU", "LSTM"], text=text)
    assert not at.exception
    read = set(text.split())
    labels = [unescape(label) for label in progress_labels(at)]
    words = [label.split(" · ")[0] for label in labels]
    assert [label.endswith("↺") for label in labels] == [word in read for word in words]
    assert any(word in read for word in words)  # "was", every shipped unit's first guess here
    assert any("↺ a word already read in the text" in c.value for c in at.caption)
    at = app("autocomplete", units=["GRU"], text="parts of north africa")
    assert not at.exception and not any("↺" in label for label in progress_labels(at))
    assert not any("already read" in c.value for c in at.caption)


def test_autocomplete_keeps_suggesting_after_removing_letters(app):
    at = app("autocomplete", units=["NLSTM"], text="parts of north ")
    assert not at.exception
    assert len(progress_labels(at)) == 5
    assert any("Predicting the next word" in c.value for c in at.caption)
    at.text_input(key="text").input("").run()
    assert not at.exception
    assert any("Type a few letters" in i.value for i in at.info)


def test_autocomplete_link_with_bad_and_hostile_values(app):
    at = app("autocomplete", units=["GRU", "<b>bogus</b>"], k="abc", text=HOSTILE, extra="1")
    assert not at.exception
    warnings = " ".join(unescape(w) for w in texts(at.warning))
    assert "unknown units '<b>bogus</b>'" in warnings
    assert "number of suggestions 'abc' is not a whole number" in warnings
    assert "parameters this page does not use ('extra')" in warnings
    assert at.text_input(key="text").value == HOSTILE  # kept as the box's text, literally
    assert len(progress_labels(at)) == 5  # still suggests, from the normalised text
    assert at.slider(key="k").value == 5


@pytest.mark.parametrize("text", ["co", " co", "?co"])
def test_autocomplete_first_word_shows_the_letter_by_letter_table(app, text):
    """The table's first row asks for the context before the first word: the leading space alone."""
    at = app("autocomplete", units=["GRU", "NLSTM"], text=text)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["typed"]) == ["(no letters yet)", "c", "co"]
    assert all(table["GRU"].str.contains("%")) and all(table["Nested LSTM"].str.contains("%"))


def test_autocomplete_typing_a_first_word_into_a_cleared_box(app):
    at = app("autocomplete", units=["LSTM"])
    at.text_input(key="text").input("").run()
    assert any("Type a few letters" in i.value for i in at.info)
    for typed in ("t", "th", "the", "the "):
        at.text_input(key="text").input(typed).run()
        assert not at.exception, typed
        assert len(progress_labels(at)) == 5
    assert list(at.dataframe[0].value["typed"]) == ["(no letters yet)", "t", "th", "the", "(next word)"]


def test_autocomplete_typed_letter_by_letter_shows_what_the_model_suggests_for_the_whole_text(app):
    """The page reads only the new characters at each keystroke (rnnmem.prefix_cache); what it shows is
    still each model's answer for the whole text, read afresh, after typing, deleting and retyping."""
    at = app("autocomplete", units=["GRU", "NLSTM"], k="3")
    models = [load_model("gru"), load_model("nlstm")]  # the shipped weights models_toml points at
    typed = "in the united st"
    for text in [typed[:n] for n in range(1, len(typed) + 1)] + ["in the united", "in the unity"]:
        at.text_input(key="text").input(text).run()
        assert not at.exception, text
        shown = [unescape(label).rstrip("%").split(" · ") for label in progress_labels(at)]  # [word, percent]
        answers = [suggest(model, text, k=3) for model in models]
        expected = [(w, 100 * p) for a in answers for w, p in zip(a.words, a.probabilities)]
        assert [w for w, _ in shown] == [w for w, _ in expected], text
        # the same probabilities, up to the label's rounding (float rounding may tip a last digit)
        assert all(abs(float(p) - q) <= 0.051 for (_, p), (_, q) in zip(shown, expected)), text
    table = at.dataframe[0].value
    assert list(table["typed"]) == ["(no letters yet)", "u", "un", "uni", "unit", "unity"]
    for row, prefix in zip(table["GRU"], ["", "u", "un", "uni", "unit", "unity"]):
        best = suggest(models[0], "in the " + prefix, k=1)
        assert row.split("  ")[0] == best.words[0]


@pytest.mark.parametrize("k, message", [
    ("inf", "'inf' is not a whole number; showing 5"),
    ("1e309", "'1e309' is not a whole number; showing 5"),
    ("-inf", "'-inf' is not a whole number; showing 5"),
    ("nan", "'nan' is not a whole number; showing 5"),
    ("1e18", "out of range (1 to 10); showing 5"),
    ("0", "0 is out of range (1 to 10); showing 5"),
    ("2.5", "'2.5' is not a whole number; using 2"),
    ("10.5", "'10.5' is out of range (1 to 10); showing 5"),  # not "10 is out of range (1 to 10)"
])
def test_autocomplete_link_with_an_unusable_number_of_suggestions(app, k, message):
    at = app("autocomplete", units=["RNN"], k=k)
    assert not at.exception
    assert message in " ".join(unescape(w) for w in texts(at.warning))
    shown = 2 if k == "2.5" else 5
    assert at.slider(key="k").value == shown and len(progress_labels(at)) == shown


def test_autocomplete_suggests_for_a_last_word_longer_than_the_text_limit(app):
    at = app("autocomplete", units=["RNN"], text="a" * 600 + " ")
    assert not at.exception
    assert "using its last 500" in " ".join(unescape(w) for w in texts(at.warning))
    assert len(progress_labels(at)) == 5


def test_autocomplete_cuts_a_huge_link_text_with_a_message(app):
    at = app("autocomplete", units=["RNN"], text="north " * 2000)
    assert not at.exception
    warnings = " ".join(unescape(w) for w in texts(at.warning))
    assert "12,000 characters; the box takes 2,000" in warnings
    assert "using its last" in warnings
    assert len(progress_labels(at)) == 5


def test_the_page_address_counts_as_the_browser_shows_it(monkeypatch):
    """The address in front of a link's query: the browser's (st.context.url), with an allowance for the
    embedding parameters Streamlit hides from st.query_params; the fixed allowance without a browser."""
    from types import SimpleNamespace

    from rnnmem.app import params
    from rnnmem.links import ORIGIN_ALLOWANCE

    url = "http://127.0.0.1:8501/connectivity"
    for shown, embedded, expected in ((url, False, len(url)), (url, True, len(url) + params.EMBED_PARAMS_ALLOWANCE),
                                      (None, None, ORIGIN_ALLOWANCE)):
        monkeypatch.setattr(params, "st", SimpleNamespace(context=SimpleNamespace(url=shown, is_embedded=embedded)))
        assert params.page_address_chars() == expected


@pytest.mark.parametrize("page, key, keep", [("autocomplete", "text", "tail"), ("connectivity", "text", "head"),
                                             ("accuracy", "eval", "head")])
def test_a_text_that_would_make_a_too_long_link_is_cut_to_fit(app, page, key, keep):
    """Non-ASCII characters take 6 or 12 characters each in a link: the app cuts the text so that the page's
    link stays within the 8,000 characters it promises to open, and says so."""
    from rnnmem.links import MAX_LINK_CHARS, link_length

    value = "é😀😀a" * 1500  # 31 characters in a link for every 4
    at = app(page, units=["GRU"], **{key: value})
    assert not at.exception
    box = at.text_input(key=key) if page == "autocomplete" else at.text_area(key=key)
    limit = ui.MAX_EVAL_TEXT if key == "eval" else ui.MAX_RAW_TEXT
    boxed = value[:limit]  # what the box took from the link
    assert box.value == (boxed[len(boxed) - len(box.value):] if keep == "tail" else boxed[:len(box.value)])
    assert 0 < len(box.value) < len(boxed)
    assert link_length({"units": ["GRU"], key: [box.value]}) <= MAX_LINK_CHARS
    where = "last" if keep == "tail" else "first"
    assert f"The text was cut to its {where} {len(box.value):,} of {len(boxed):,} characters" in \
        " ".join(unescape(w) for w in texts(at.warning))


def test_connectivity_walkthrough_selection_and_moments(app):
    at = app("connectivity", units=["GRU"])
    assert not at.exception
    walkthrough = normalize(WALKTHROUGH_TEXT)
    learning = WALKTHROUGH_MOMENTS[0].position(walkthrough)
    assert walkthrough[learning - 2:learning + 1] == " le"
    assert at.slider(key="pos").value == learning
    assert texts(at.markdown).count("Desired: **learning**") == 2  # the shipped GRU and the article's
    assert len(at.get("vega_lite_chart")) == 3  # the colour scale, then one row each
    assert any("the article" in m and "published" in m for m in texts(at.markdown))
    assert any("advanced" in i.value for i in at.info)  # moment 1's explanation
    suggestions = progress_labels(at)
    assert len(suggestions) == 6 and all("%" in s for s in suggestions)  # top 3 of each row
    assert "learning · 57\\.5\\% ✓" in suggestions  # the article's GRU, as published

    at.slider(key="pos").set_value(10).run()  # the keyboard fallback for clicking a character
    assert not at.exception
    assert any("character **10**" in m for m in texts(at.markdown))
    assert texts(at.markdown).count("Desired: **the**") == 2

    at.button(key="moment_2").click().run()  # "schools" after one letter
    schools = WALKTHROUGH_MOMENTS[2].position(walkthrough)
    assert at.slider(key="pos").value == schools
    assert walkthrough[schools - 1:schools + 1] == " s"
    assert "Desired: **schools**" in texts(at.markdown)
    assert any("whole paragraph" in i.value for i in at.info)


def test_connectivity_article_rows_follow_the_selection_and_can_be_hidden(app):
    """The article's published data is a row beside each unit it exists for (not the vanilla RNN), with
    its own predictions at the selected character; switched off, or on another text, it is gone."""
    from rnnmem.walkthrough import article_walkthrough

    walkthrough = normalize(WALKTHROUGH_TEXT)
    grammar = WALKTHROUGH_MOMENTS[1].position(walkthrough)
    at = app("connectivity", units=["RNN", "GRU", "NLSTM"], pos=str(grammar))
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 6  # the colour scale, three units, two article rows
    published = article_walkthrough("gru")
    top = f"{published.top_words[grammar][0]} · {published.top_probabilities[grammar][0]:.1%}"
    assert any(label.startswith(top.split(" · ")[0]) for label in progress_labels(at))
    assert any(top in unescape(label) for label in progress_labels(at))
    # the second "grammar": the article's GRU suggests it first, desired and already read in the paragraph
    assert "grammar · 13.3% ✓ ↺" in [" ".join(unescape(label).split()) for label in progress_labels(at)]
    at.toggle(key="article").set_value(False).run()
    assert not at.exception and len(at.get("vega_lite_chart")) == 4
    at = app("connectivity", units=["GRU"], text="the cat sat on the mat")
    assert len(at.get("vega_lite_chart")) == 2 and at.toggle(key="article").disabled


def recall_captions(at: AppTest) -> list[str]:
    return [unescape(c) for c in texts(at.caption) if "of this row is on its letters" in c]


def test_connectivity_says_how_much_of_each_row_rests_on_an_earlier_reading(app):
    """Under every row at the second "grammar": where the word was read before and the row's share on
    those letters; the article's GRU as published (23%), ours as the connectivity API computes it."""
    from rnnmem.attribution import connectivity_matrix
    from rnnmem.recall import earlier_readings

    walkthrough = normalize(WALKTHROUGH_TEXT)
    grammar = WALKTHROUGH_MOMENTS[1].position(walkthrough)
    at = app("connectivity", units=["RNN", "GRU", "NLSTM"], pos=str(grammar))
    assert not at.exception
    captions = recall_captions(at)
    assert len(captions) == 5  # three units, two article rows
    assert all(c.startswith("“grammar”, read 130 characters back: ") for c in captions)
    assert ("“grammar”, read 130 characters back: 23% of this row is on its letters, which are 4.4% of the "
            "characters so far." in captions)  # the article's GRU
    for unit in ("rnn", "gru", "nlstm"):
        result = connectivity_matrix(load_model(unit), walkthrough)
        if result.desired[grammar] == "grammar":  # a stand-in could differ; the shipped weights have it
            assert earlier_readings(walkthrough, grammar, "grammar", result.row(grammar)).describe() in captions
    at.slider(key="pos").set_value(grammar - 1).run()  # the space before it: "grammar" is desired there too
    assert len(recall_captions(at)) == 5
    at.slider(key="pos").set_value(20).run()  # "study": nothing read before
    assert recall_captions(at) == []

    at = app("connectivity", units=["LSTM"], pos=str(grammar), target="word", word="study", article="false")
    assert not at.exception
    assert [c.split(":")[0] for c in recall_captions(at)] == ["“study”, read 139 characters back"]


def test_connectivity_colours_and_out_of_vocabulary_notice(app):
    at = app("connectivity", units=["LSTM"], text="the qwxzv sat", pos="6", colours="faded")
    assert not at.exception
    legend, row = (json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart"))
    assert "fillOpacity" in legend["encoding"]  # the scale shows the mapping in use
    assert legend["encoding"]["x"]["axis"]["title"] == "connectivity / row maximum"
    spec = row
    assert spec["layer"][0]["encoding"]["fillOpacity"]["scale"]["type"] == "sqrt"
    notice = " ".join(unescape(c) for c in texts(at.caption))
    assert "“qwxzv” is not in the model's vocabulary" in notice and "the same for every letter" in notice
    stand_in = next(m for m in texts(at.markdown) if m.startswith("Desired:"))
    at.slider(key="pos").set_value(8).run()  # another letter of the same word: the same stand-in
    assert next(m for m in texts(at.markdown) if m.startswith("Desired:")) == stand_in
    at = app("connectivity", units=["LSTM"], colours="rainbow")
    assert any("colours 'rainbow' is not one of" in unescape(w) for w in texts(at.warning))
    spec = json.loads(at.get("vega_lite_chart")[1].proto.spec)
    assert "fillOpacity" not in spec["layer"][0]["encoding"]  # the article's opaque colours


def test_connectivity_link_clamps_position_and_shows_hostile_text_as_text(app):
    at = app("connectivity", units=["LSTM"], text=HOSTILE, pos="99999", hover="maybe")
    assert not at.exception
    last = len(normalize(HOSTILE)) - 1
    assert at.slider(key="pos").value == last
    warnings = " ".join(unescape(w) for w in texts(at.warning))
    assert f"selected character 99,999 is out of range (0 to {last})" in warnings
    assert "hover setting 'maybe' is not true or false" in warnings
    assert at.text_area(key="text").value == HOSTILE


def test_connectivity_link_position_past_the_walkthrough_is_clamped_to_its_end(app):
    at = app("connectivity", units=["RNN"], pos="99999")
    assert not at.exception
    assert at.slider(key="pos").value == len(normalize(WALKTHROUGH_TEXT)) - 1
    at = app("connectivity", units=["RNN"], pos="-3")
    assert at.slider(key="pos").value == 0
    assert any("out of range" in w for w in texts(at.warning))


def test_connectivity_switching_unit_set_and_empty_text(app):
    at = app("connectivity", units=["RNN", "NLSTM"], text="the cat sat on the mat", pos="5")
    assert not at.exception
    assert at.slider(key="pos").value == 5
    assert len(at.get("vega_lite_chart")) == 3  # the colour scale and two units
    at.text_area(key="text").input("!!!").run()
    assert not at.exception
    assert any("Enter some text" in i.value for i in at.info)


def other_suggestion(unit: str, text: str, position: int) -> tuple[str, str]:
    """The first of the shipped model's second and third suggestions at ``position`` that is not the word
    in the text, as (target, word): explaining it must say "Explained", not "Desired", whatever the
    shipped weights predict."""
    from rnnmem.inputs import prepare_text

    model = load_model(unit)
    prepared = prepare_text(model, text)
    desired = model.words[int(prepared.targets[position])]  # the word typed at position
    words = suggest(model, prepared.text[:position + 1], k=3).words
    rank = next(k for k in (2, 3) if words[k - 1] != desired)
    return f"top-{rank}", words[rank - 1]


def test_connectivity_explains_a_chosen_word_by_a_chosen_method_from_the_link(app):
    """Another target (a suggestion, or a typed word) and another attribution, from the link: one row per
    unit, the explained word named, the method's meaning and completeness said, downloads offered."""
    target, other = other_suggestion("gru", WALKTHROUGH_TEXT, 20)
    at = app("connectivity", units=["GRU"], pos="20", method="integrated_gradients", target=target)
    assert not at.exception
    assert progress_labels(at)[int(target[-1]) - 1].split(" · ")[0] == other  # the page's suggestions agree
    assert f"Explained: **{other}**" in texts(at.markdown)
    ordinal = {"top-2": "second", "top-3": "third"}[target]
    assert any(f"the model's {ordinal} suggestion" in unescape(c) for c in texts(at.caption))
    captions = [unescape(c) for c in texts(at.caption)]
    assert any(c.startswith("integrated gradients: ") and "baseline of spaces" in c for c in captions)
    assert any(c.startswith("Σ attributions") and "integration points" in c for c in captions)
    assert texts(at.markdown).count("Desired: **study**") == 1  # the article's row: still its desired word
    scale, spec = (json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")[:2])
    assert spec["layer"][0]["encoding"]["tooltip"][4]["title"] == "integrated gradients"
    assert scale["encoding"]["x"]["axis"]["title"] == "|integrated gradients| / row maximum"  # what the colours show
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels[:4] == ["PNG", "SVG", "row CSV", "row JSON"]  # no matrix: only this row was computed

    at = app("connectivity", units=["GRU", "LSTM"], pos="20", method="grad_x_input", target="word", word="History")
    assert not at.exception
    assert texts(at.markdown).count("Explained: **history**") == 2
    at = app("connectivity", units=["GRU"], pos="20", target="word", word="qzxv")
    assert any("'qzxv' is not in the model's vocabulary: explaining the desired word" in unescape(w)
               for w in texts(at.warning))
    assert "Desired: **study**" in texts(at.markdown)
    at = app("connectivity", units=["GRU"], method="saliency", target="top-9")
    warnings = " ".join(unescape(w) for w in texts(at.warning))
    assert "attribution 'saliency' is not one of" in warnings and "explained word 'top-9'" in warnings
    labels = [button.proto.label for button in at.get("download_button")]
    assert "matrix CSV" in labels  # the default view, the whole matrix computed: it downloads too


def test_connectivity_attributions_go_to_the_workers_as_loaded_models(app, monkeypatch):
    """A worker loads a model by its reference, so another method's row must be asked for with the
    LoadedModel; the bare network would be computed in the server process, slowing every visitor."""
    import rnnmem.app.cache as cache

    asked = []
    real = cache.analysis_workers()

    class Recording:
        def attribution(self, item, *args):
            asked.append((item, args))
            return real.attribution(item, *args)

        def __getattr__(self, name):  # the rest as the real pool (a page may build its views with this one)
            return getattr(real, name)

    monkeypatch.setattr(cache, "analysis_workers", Recording)
    cache.attribution.clear()
    try:
        at = app("connectivity", units=["GRU"], pos="12", method="integrated_gradients", target="top-2")
    finally:
        cache.attribution.clear()
    assert not at.exception
    assert [args for _, args in asked] == [(normalize(WALKTHROUGH_TEXT), 12, "integrated_gradients", "top-2")]
    assert all(isinstance(item, LoadedModel) for item, _ in asked)


def test_every_page_offers_its_charts_and_tables_for_download(app):
    for page, expected in (("autocomplete", ["CSV", "JSON", "CSV", "JSON"]),
                           ("accuracy", ["PNG", "SVG", "CSV", "JSON"]),
                           ("training", ["PNG", "SVG", "CSV", "JSON"] * 2 + ["CSV", "JSON"])):
        at = app(page, units=["GRU"])
        assert not at.exception
        buttons = at.get("download_button")
        assert [b.proto.label for b in buttons] == expected, page


def test_accuracy_page_charts_stored_evaluations_and_pasted_text(app):
    at = app("accuracy", units=["RNN", "GRU", "LSTM"])
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 1
    assert any("No stored test evaluation for Vanilla RNN" in unescape(i.value) for i in at.info)
    assert any("python -m rnnmem evaluate MODEL_DIR --corpus CORPUS --split test --json > "
               "MODEL_DIR/evaluation_test.json" in unescape(i.value) for i in at.info)  # a command that stores it
    assert any(unescape(c.value).startswith("Models: Vanilla RNN: ") and unescape(c.value).endswith(
        "/lstm (local) · 2×224") for c in at.caption)
    numbers = at.dataframe[0].value
    assert set(numbers["unit"]) == {"GRU", "LSTM"}
    assert set(numbers["source"]) == {"this app's model", "article (2×600, GPU)"}
    assert numbers["accuracy"].between(0, 1).all()

    at.toggle(key="article").set_value(False).run()
    assert set(at.dataframe[0].value["source"]) == {"this app's model"}

    at.text_area(key="eval").input("the united states of america is a country in north america " * 4).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 2
    assert any("cross-entropy" in unescape(c.value) for c in at.caption)


def test_accuracy_page_without_any_stored_evaluation_still_offers_pasted_text(app):
    at = app("accuracy", units=["RNN"], split="valid", topk=["top-1", "top-9"], maxseen="500")
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 0
    assert any("No stored valid evaluation" in unescape(i.value) for i in at.info)
    warnings = " ".join(unescape(w) for w in texts(at.warning))
    assert "unknown top-k curves 'top-9'" in warnings
    assert "characters-seen range 500 is out of range" in warnings
    at.text_area(key="eval").input("the united states of america is a country in north america").run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 1  # the pasted text's curves, without any stored evaluation
    assert any("Vanilla RNN:" in unescape(c.value) and "cross-entropy" in unescape(c.value) for c in at.caption)


def test_training_page_draws_every_selected_units_losses(app):
    at = app("training", units=["GRU", "NLSTM"], x="steps", logy="true")
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 2  # the losses, and the memory measure of the logs that have it
    summary = at.dataframe[0].value
    assert list(summary["unit"]) == ["GRU", "Nested LSTM"]
    assert list(summary["repeated-word weight"]) == [2.5, 1.0]  # as the fixture's summaries say
    assert at.toggle(key="logy").value is True
    memory = json.loads(at.get("vega_lite_chart")[1].proto.spec)
    assert memory["encoding"]["y"]["field"] == "value"
    at = app("training", units=["RNN"], measure="context_share")
    assert not at.exception and len(at.get("vega_lite_chart")) == 1  # this log has no memory columns
    assert any("None of these logs has the memory measure" in i.value for i in at.info)


# ---- models ---------------------------------------------------------------------------------------------

def test_unusable_model_references_fall_back_with_a_message(app, tmp_path):
    at = app("autocomplete", units=["GRU", "LSTM"], gru_model="hf://not a repo", lstm_model=str(tmp_path))
    assert not at.exception
    warnings = " ".join(unescape(w) for w in texts(at.warning))
    assert "GRU: cannot use 'hf://not a repo': not a Hugging Face repository id" in warnings
    assert "LSTM: cannot use" in warnings and "a local model directory cannot be chosen here" in warnings
    assert len(progress_labels(at)) == 10  # both units still answer, from their configured models


@pytest.mark.parametrize("length", [256, 300, 301, 5000])
def test_an_overlong_model_reference_in_a_link_is_refused_with_a_message(app, length):
    at = app("connectivity", units=["GRU"], text="the cat sat", gru_model="x" * length)
    assert not at.exception
    warnings = " ".join(unescape(w) for w in texts(at.warning))
    assert "GRU: cannot use 'xxxx" in warnings and "Using the configured model" in warnings
    assert ("the box takes 300, so it was cut" in warnings) == (length > 300)
    assert len(at.get("vega_lite_chart")) == 2  # the colour scale, and the configured model still answers


def test_shipped_override_is_used_and_shown(app):
    at = app("autocomplete", units=["GRU"], gru_model="gru")
    assert not at.exception
    assert any(unescape(c.value).startswith("gru (shipped) · ") for c in at.caption)  # source under the name


def test_hub_models_are_pinned_to_their_commit_in_the_link(app, monkeypatch):
    """A Hub branch resolves to a commit; the sidebar (and so the link) is rewritten to that commit."""
    import rnnmem.app.models
    from rnnmem.refs import load, parse_model_ref

    sha = "0123456789abcdef0123456789abcdef01234567"

    def fake_load(reference):
        if reference.startswith("hf://"):
            return LoadedModel(load_model("gru"), parse_model_ref(reference), revision=sha)
        return load(reference)

    monkeypatch.setattr(rnnmem.app.models, "load", fake_load)
    rnnmem.app.models._load.clear()
    rnnmem.app.models._visitor_models().clear()
    try:
        at = app("autocomplete", units=["GRU"], gru_model="hf://someone/rnnmem-gru@main")
        assert not at.exception
        assert at.text_input(key="gru_model").value == f"hf://someone/rnnmem-gru@{sha}"
        assert any(f"revision {sha[:12]}" in unescape(c.value) for c in at.caption)
    finally:
        rnnmem.app.models._load.clear()
        rnnmem.app.models._visitor_models().clear()


def test_configured_hub_branches_are_pinned_without_counting_as_the_visitors_models(app, monkeypatch, tmp_path):
    """Three units configured on Hub branches: their commits go into the link, and the pinned references
    are still the configured models, not visitor choices (a visitor may load only two an hour: counted, the
    third would be refused, fall back to the branch, be pinned again, and rerun forever)."""
    import rnnmem.app.models
    from rnnmem.refs import load, parse_model_ref

    sha = "89abcdef0123456789abcdef0123456789abcdef"
    units = ("rnn", "gru", "lstm")
    loads = []

    def fake_load(reference):
        if reference.startswith("hf://"):
            loads.append(reference)
            unit = reference.split("rnnmem-")[1].split("@")[0]
            return LoadedModel(load_model(unit), parse_model_ref(reference), revision=sha)
        return load(reference)

    toml = tmp_path / "models.toml"
    toml.write_text("[models]\n" + "".join(f'{u} = "hf://someone/rnnmem-{u}@main"\n' for u in units))
    monkeypatch.setenv(SETTINGS_ENV, str(toml))
    monkeypatch.setattr(rnnmem.app.models, "load", fake_load)
    rnnmem.app.models._load.clear()
    rnnmem.app.models._visitor_models().clear()
    try:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
        at.query_params["units"] = ["RNN", "GRU", "LSTM"]
        at.switch_page("pages/autocomplete.py")
        at.run(timeout=60)
        assert not at.exception
        for unit in units:
            assert at.text_input(key=f"{unit}_model").value == f"hf://someone/rnnmem-{unit}@{sha}"
        assert not at.warning  # no refusal: nothing counted against the visitor
        assert rnnmem.app.models._visitor_models().held() == 0
        assert sorted(loads) == sorted(f"hf://someone/rnnmem-{u}@main" for u in units)  # once each, shared
    finally:
        rnnmem.app.models._load.clear()
        rnnmem.app.models._visitor_models().clear()


def test_an_invalid_settings_file_is_reported_once_per_page(app, tmp_path, monkeypatch):
    """app.py and the page both read the settings, before and after the title: one warning, not two."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[models]\ngru = 5\n")
    monkeypatch.setenv(SETTINGS_ENV, str(bad))
    at = app("training")
    assert not at.exception
    shown = [w for w in texts(at.warning) if "could not be used" in unescape(w)]
    assert len(shown) == 1


# ---- any link ------------------------------------------------------------------------------------------------

LINK_PARAMS = {
    "autocomplete": {"text": "text", "k": "number"},
    "connectivity": {"text": "short text", "pos": "number", "hover": "flag", "method": "choice", "target": "choice",
                     "word": "short text"},
    "accuracy": {"split": "choice", "topk": "choices", "article": "flag", "maxseen": "number", "eval": "short text"},
    "training": {"x": "choice", "logy": "flag"},
    # the pasted text kept short: a profile of a long pasted text takes minutes on a busy machine
    "memory": {"source": "choice", "text": "short text", "positions": "number", "seed": "number", "scale": "choice",
               "maxdist": "number", "logy": "flag", "article": "flag", "stored": "flag", "by": "choice",
               "topk": "choice", "seq": "number", "diff_a": "choice", "diff_b": "choice"},
}


def link_values(kind: str):
    from hypothesis import strategies as st

    from tests.test_properties import number_strings, short_texts, texts

    return {
        "text": texts, "short text": short_texts, "number": number_strings,
        "flag": st.one_of(st.sampled_from(["true", "false", "TRUE", ""]), st.text(max_size=8)),
        "choice": st.one_of(st.sampled_from(["test", "valid", "chars", "steps", "time", "Walkthrough", "Pasted",
                                             "Corpus", "words", "frequency", "length", "top-2", "GRU", "LSTM",
                                             "grad_x_input", "word"]),
                            st.text(max_size=8)),
        "choices": st.lists(st.one_of(st.sampled_from(["top-1", "top-2", "top-3"]), st.text(max_size=8)), max_size=4),
    }[kind]


@pytest.mark.parametrize("page", list(LINK_PARAMS))
def test_any_link_gives_a_page_without_an_application_error(app, page, monkeypatch, tmp_path):
    """Whatever a link carries in each of the page's parameters, the sidebar's, and one it does not know,
    the page runs to its end or stops with a message: never an application error."""
    from huggingface_hub import constants
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.test_properties import references

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # a Hub reference fails at once, hermetically
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    units = st.lists(st.one_of(st.sampled_from(["RNN", "GRU", "LSTM", "NLSTM"]), st.text(max_size=6)), max_size=2)
    params = st.fixed_dictionaries(
        {"units": units}, optional={name: link_values(kind) for name, kind in LINK_PARAMS[page].items()}
        | {"gru_model": references})
    unknown = st.tuples(st.text(min_size=1, max_size=8).filter(lambda n: n not in LINK_PARAMS[page]), st.text())

    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(params, unknown)
    def check(values, extra):
        values = {extra[0]: extra[1], **values}
        at = app(page, **values)
        assert not at.exception, (values, at.exception)
        assert at.title and at.title[0].value  # the page drew its title, so any message has a place

    check()


def test_a_visitor_loads_few_models_of_their_own_choosing_then_gets_a_message(app, monkeypatch):
    """A link naming three Hub models: two load (the per-visitor limit), the third unit shows its configured
    model with a message saying why."""
    import rnnmem.app.models
    from rnnmem.refs import load, parse_model_ref

    loaded = []

    def fake_load(reference):
        loaded.append(reference)
        if reference.startswith("hf://"):
            unit = {"a": "gru", "b": "lstm", "c": "nlstm"}[reference[-1]]
            return LoadedModel(load_model(unit), parse_model_ref(reference))
        return load(reference)

    monkeypatch.setattr(rnnmem.app.models, "load", fake_load)
    rnnmem.app.models._visitor_models().clear()
    try:
        at = app("autocomplete", units=["GRU", "LSTM", "NLSTM"], gru_model="hf://someone/a",
                 lstm_model="hf://someone/b", nlstm_model="hf://someone/c")
        assert not at.exception
        assert [r for r in loaded if r.startswith("hf://")] == ["hf://someone/a", "hf://someone/b"]
        warnings = " ".join(unescape(w) for w in texts(at.warning))
        assert ("Nested LSTM: cannot load 'hf://someone/c': you have loaded 2 models of your own choosing in the "
                "last 60 minutes, the most one visitor may; try again in 60 minutes. Using the configured model") \
            in warnings
        assert len(progress_labels(at)) == 15  # all three units answer
        captions = [unescape(c.value) for c in at.caption]
        assert any(c.startswith("hf://someone/a") for c in captions)
    finally:
        rnnmem.app.models._visitor_models().clear()


def test_the_landing_page_and_the_sidebar_describe_the_weights_in_use(app):
    """What they say of the CPU-trained set holds of its files (tests/test_shipped_weights.py); with the
    article-size set chosen, they speak of that one."""
    at = app("home")
    assert not at.exception
    about = unescape(at.info[0].value)
    assert "smaller than the article's (2×224 against 2×600; the Nested LSTM 1×224)" in about
    assert "trained on a CPU, on a Wikipedia corpus like text8" in about
    assert any("trained on a CPU, each for an epoch or more" in unescape(c) for c in texts(at.sidebar.caption))
    at = app("home", weights="Article-size")
    assert not at.exception
    assert unescape(at.info[0].value).startswith("The article-size weights chosen in the sidebar are the article's "
                                                 "2×600 shape, trained here on a GPU")
    assert any("trained on one GPU" in unescape(c) for c in texts(at.sidebar.caption))


def test_the_article_size_set_serves_the_units_left_on_their_shipped_default(app, monkeypatch, tmp_path):
    """?weights=Article-size: units on their shipped default get the article-size model of the same unit; a unit
    configured otherwise keeps its model; a link naming an unknown set gets a message and the default set."""
    settings = tmp_path / "models.toml"
    settings.write_text(f'[models]\nlstm = "{shipped_dir("lstm")}"\n')
    monkeypatch.setenv(SETTINGS_ENV, str(settings))

    def captions(at: AppTest) -> list[str]:
        return [text for text in map(unescape, texts(at.caption)) if "(shipped)" in text or "(local)" in text]

    at = app("autocomplete", units=["GRU", "LSTM"], weights="Article-size")
    assert not at.exception
    assert at.segmented_control(key="weights").value == "Article-size"
    gru, lstm = captions(at)
    assert gru.startswith("article/gru (shipped) · ") and gru.endswith("2×600")
    assert lstm.startswith(str(shipped_dir("lstm"))) and lstm.endswith("2×224")
    assert len(progress_labels(at)) == 10  # both answer

    at.segmented_control(key="weights").set_value("CPU-trained").run()
    assert not at.exception
    assert captions(at)[0].startswith("gru (shipped) · ") and captions(at)[0].endswith("2×224")

    at = app("autocomplete", units=["GRU"], weights="bogus")
    assert not at.exception
    assert any("weights" in unescape(w.value) and "bogus" in unescape(w.value) for w in at.warning)
    assert captions(at)[0].startswith("gru (shipped) · ")
