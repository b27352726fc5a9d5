"""Property-based tests (Hypothesis): whatever a caller, a visitor's link or a command line passes in, the
public API, the link parsing and the CLI answer, or fail with the project's own error and a one-line
message. Arbitrary Unicode, control characters, empty and huge inputs, odd positions and k.

Hermetic: tiny models built in the test session; Hub references meet an offline Hugging Face client with an
empty temporary cache, so they fail with a HubError before any network call.
"""

from __future__ import annotations

import contextlib
import io
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rnnmem import links
from rnnmem.analysis import (MAX_TEXT_CHARS, accuracy_by_chars_seen, connectivity, connectivity_matrix, suggest)
from rnnmem.cli import main as cli_main
from rnnmem.errors import InputError
from rnnmem.hub import HubError
from rnnmem.model import ModelFilesError
from rnnmem.refs import ModelRef, ModelRefError, load_model, parse_model_ref
from rnnmem.text import normalize
from rnnmem.app import MAX_RAW_TEXT, fit_text

UNITS = ("rnn", "gru", "lstm", "nlstm")
NORMALISED = re.compile(r"^( [a-z]+)+ ?$")  # what normalize returns for text that has any letters or digits
# A few examples per property: each one that runs a model costs milliseconds to a second on a busy CPU.
CHEAP = settings(max_examples=150, deadline=None)
MODEL = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies --------------------------------------------------------------------------------------------

# Arbitrary Unicode (control characters, combining marks, emoji, non-ASCII digits), text that is mostly
# what a model reads, and huge texts from a short repeated piece.
letters_and_junk = st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz  ABCZ019.,-'\n\t\x00é😀")))
huge = st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=6), st.integers(200, 60_000))
texts = st.one_of(st.text(), letters_and_junk, huge)
short_texts = st.one_of(st.text(max_size=80), st.text(alphabet="abc ,1", max_size=80))
# Anything a caller might pass as a count or a position.
odd_numbers = st.one_of(st.integers(-5, 120), st.integers(), st.floats(), st.text(max_size=6), st.none(),
                        st.booleans(), st.just(10**40), st.builds(np.int64, st.integers(-3, 120)))
# What a link or a command line can carry as a number.
number_strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["inf", "-inf", "nan", "1e309", "-0", "0x10", "1_0", " 7 ", "٣", "7.0", "7.5", "1e18", "+3",
                     "", "١٢", "∞", "NaN", "Infinity", "9" * 400]),
    st.integers().map(str), st.floats().map(str))


def one_line_user_error(error: BaseException) -> bool:
    message = str(error)
    return bool(message) and "\n" not in message and len(message) < 600


# ---- text --------------------------------------------------------------------------------------------------

@CHEAP
@given(texts)
def test_normalize_returns_text8_text_or_nothing_and_is_idempotent(text):
    clean = normalize(text)
    assert clean == "" or NORMALISED.match(clean)
    assert normalize(clean) == clean
    assert normalize(text, keep_trailing_space=False) == clean.rstrip(" ") or clean == " "


# ---- the public API -----------------------------------------------------------------------------------------

@MODEL
@given(unit=st.sampled_from(UNITS), text=texts, k=odd_numbers)
def test_suggest_answers_or_raises_input_error(tiny_models, unit, text, k):
    model = tiny_models[unit]
    try:
        result = suggest(model, text, k)
    except InputError as error:
        assert one_line_user_error(error)
        return
    assert isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 1 <= k <= 100
    assert result.text == (normalize(text) or " ") and len(result.text) <= MAX_TEXT_CHARS
    assert result.prefix == result.text.rsplit(" ", 1)[-1]
    assert len(result.words) == min(int(k), len(model.words) - 2)
    assert "<eos>" not in result.words and "<unknown>" not in result.words
    assert all(0 <= p <= 1 for p in result.probabilities)
    assert list(result.probabilities) == sorted(result.probabilities, reverse=True)


@MODEL
@given(unit=st.sampled_from(UNITS), text=texts, position=odd_numbers,
       target=st.one_of(st.none(), st.sampled_from(["the", "cat", "zebra", ""]), st.text(max_size=8)))
def test_connectivity_answers_or_raises_input_error(tiny_models, unit, text, position, target):
    model = tiny_models[unit]
    try:
        values = connectivity(model, text, position, target=target)
    except InputError as error:
        assert one_line_user_error(error)
        return
    clean = normalize(text)
    assert values.shape == (len(clean),) and 0 <= position < len(clean)
    assert np.isfinite(values).all() and (values >= 0).all() and not values[int(position) + 1:].any()


@MODEL
@given(unit=st.sampled_from(UNITS), text=st.one_of(short_texts, huge), k=odd_numbers)
def test_connectivity_matrix_answers_or_raises_input_error(tiny_models, unit, text, k):
    model = tiny_models[unit]
    try:
        result = connectivity_matrix(model, text, k=k)
    except InputError as error:
        assert one_line_user_error(error)
        return
    T = len(normalize(text))
    assert result.connectivity.shape == (T, T) and np.isfinite(result.connectivity).all()
    assert not np.triu(result.connectivity, 1).any()  # no output depends on a later input
    assert len(result.desired) == T and len(result.top_words[0]) == min(int(k), len(model.words) - 2)


@MODEL
@given(unit=st.sampled_from(UNITS), text=st.one_of(short_texts, letters_and_junk), batch_size=odd_numbers)
def test_accuracy_answers_or_raises_input_error(tiny_models, unit, text, batch_size):
    try:
        result = accuracy_by_chars_seen(tiny_models[unit], text, batch_size=batch_size)
    except InputError as error:
        assert one_line_user_error(error)
        return
    assert result.chars == sum(result.counts) > 0
    assert all(0 <= a <= b <= c <= 1 for a, b, c in zip(result.top1, result.top2, result.top3))


# ---- model references ----------------------------------------------------------------------------------------

references = st.one_of(
    st.text(), st.text(alphabet="abc/._-@:hf", max_size=40), huge,
    st.sampled_from(["gru", "article/gru", "hf://a/b", "hf://a/b@main", "hf://a/b@" + "0" * 40, ".", "..", "/",
                     "/dev/zero", "~", "x" * 255, "x" * 256, "./" + "x" * 300, "hf://" + "a" * 300 + "/b"]),
    st.builds(lambda owner, name, rev: f"hf://{owner}/{name}" + (f"@{rev}" if rev else ""),
              st.text(max_size=12), st.text(max_size=12), st.one_of(st.none(), st.text(max_size=12))))


@CHEAP
@given(references)
def test_parse_model_ref_parses_or_raises_model_ref_error(ref):
    try:
        parsed = parse_model_ref(ref)
    except ModelRefError as error:
        assert one_line_user_error(error)
        return
    assert isinstance(parsed, ModelRef) and parse_model_ref(str(parsed)) == parsed


@pytest.fixture(scope="module")
def offline_hub(tmp_path_factory):
    """The Hugging Face client offline, with an empty cache: a Hub reference fails before any network call."""
    from huggingface_hub import constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_OFFLINE", True)
        patch.setattr(constants, "HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-cache")))
        yield


@settings(max_examples=60, deadline=None)
@given(references.filter(lambda ref: ref.strip() not in UNITS))  # (loading a shipped model is slow, not odd)
def test_load_model_loads_or_raises_one_of_the_projects_errors(offline_hub, ref):
    try:
        model = load_model(ref)
    except (ModelRefError, ModelFilesError, HubError) as error:
        assert one_line_user_error(error)
        return
    assert model.config.words  # a real model: a shipped name, or a model directory on this machine


# ---- links: what a visitor can put in a URL ------------------------------------------------------------------

@CHEAP
@given(raw=st.one_of(st.none(), number_strings), low=st.integers(-5, 5), span=st.integers(0, 1000))
def test_link_numbers_are_read_as_the_page_then_shows_them(raw, low, span):
    high = low + span
    message = links.number_problem(raw, low, high, "selected character", "selecting 0 instead")
    value = links.link_int(raw)
    if message is None:
        assert raw in (None, "") or (value is not None and low <= value <= high and value == float(raw))
    else:
        assert message.startswith("The link's selected character ") and "\n" not in message
        assert len(message) < 200  # a huge value is quoted short
        assert value is None or not low <= float(raw) <= high or value != float(raw)
    if value is not None:
        assert math.isfinite(float(raw)) and value == int(float(raw))


@CHEAP
@given(raw=st.one_of(st.none(), st.text()), values=st.lists(st.text(), max_size=8),
       names=st.lists(st.text(), max_size=8))
def test_link_choice_bool_text_and_unknown_messages_are_one_short_line(raw, values, names):
    allowed = ["test", "valid"]
    for message, bad in [
        (links.choice_problem(raw, allowed, "split"), raw not in (None, "", *allowed)),
        (links.choices_problem(values, allowed, "units"), any(v not in ("", *allowed) for v in values)),
        (links.bool_problem(raw, "hover"), raw not in (None, "") and raw.lower() not in ("true", "false")),
        (links.text_problem(raw, 100), raw is not None and len(raw) > 100),
        (links.unknown_params_problem(names, ["text", "pos"]), any(n not in ("text", "pos") for n in names)),
    ]:
        assert (message is not None) == bad
        if message:
            assert message.startswith("The link") and len(message) < 500


@CHEAP
@given(raw=st.one_of(st.none(), texts), keep=st.sampled_from(["head", "tail"]))
def test_fit_text_gives_model_text_within_the_limit_and_says_when_it_cut(raw, keep):
    text, message = fit_text(raw, keep=keep)
    assert len(text) <= MAX_TEXT_CHARS
    assert text == "" or (NORMALISED.match(text) and normalize(text) == text)
    raw = raw or ""
    cut = len(raw) > MAX_RAW_TEXT or len(normalize(raw)) > MAX_TEXT_CHARS
    assert (message is not None) == cut
    if not cut:
        assert text == normalize(raw)
    elif keep == "tail" and text:
        whole = normalize(raw[-MAX_RAW_TEXT:])
        assert whole.endswith(text.strip(" ")) or whole.endswith(text.lstrip(" "))


def test_fit_text_keeps_the_end_for_autocomplete_and_the_start_elsewhere():
    """An over-long text: Autocomplete keeps its end (the word being typed), the other pages its start,
    both cut at a word's leading space and within the limit."""
    words = ["".join(chr(97 + (i // 26 ** k) % 26) for k in range(3)) for i in range(300)]  # aaa, baa, …
    raw = " ".join(words)
    tail, said = fit_text(raw, keep="tail")
    assert tail.endswith(" " + words[-1]) and tail.startswith(" ") and len(tail) <= MAX_TEXT_CHARS
    assert tail.split()[0] in words and "last" in said
    head, said = fit_text(raw, keep="head")
    assert head.startswith(" " + words[0] + " ") and len(head) <= MAX_TEXT_CHARS and "first" in said
    assert head.split()[-1] in words  # never half a word
    long_raw = "x" * MAX_RAW_TEXT + " then the end"  # longer than the box: the box keeps its end too
    assert fit_text(long_raw, keep="tail")[0].endswith(" then the end")
    assert fit_text(long_raw, keep="head")[0].startswith(" xxx")


@pytest.mark.parametrize("raw", ["a" * 600 + " ", "a" * 600 + "!", "word " * 120 + "a" * 520 + " "])
def test_fit_text_keeps_the_end_of_a_last_word_longer_than_the_limit(raw):
    """The trailing space is no word's start: cutting there left a lone space, and Autocomplete asked for
    the suggestions from position -1 (InputError)."""
    tail, said = fit_text(raw, keep="tail")
    assert tail.startswith(" a") and tail.endswith("aaa ") and len(tail) == MAX_TEXT_CHARS and said


@CHEAP
@given(value=st.one_of(st.text(max_size=3000), huge, st.text(alphabet="é😀a +&=%*!'()~", max_size=3000)),
       others=st.dictionaries(st.sampled_from(["units", "k", "gru_model", "pos"]),
                              st.lists(st.text(max_size=300), min_size=1, max_size=2), max_size=4),
       keep=st.sampled_from(["head", "tail"]))
def test_the_app_cuts_a_text_so_that_the_link_fits_the_promise(value, others, keep):
    params = {**others, "text": [value]}
    cut = links.fit_link(params, "text", keep)
    if cut is None:
        assert links.link_length(params) <= links.MAX_LINK_CHARS
        return
    fitted = {**others, "text": [cut]}
    assert links.link_length(fitted) <= links.MAX_LINK_CHARS < links.link_length(params)
    assert value.startswith(cut) if keep == "head" else value.endswith(cut)
    longer = value[:len(cut) + 1] if keep == "head" else value[len(value) - len(cut) - 1:]
    assert links.link_length({**others, "text": [longer]}) > links.MAX_LINK_CHARS  # the longest that fits


@CHEAP
@given(params=st.dictionaries(st.sampled_from(["units", "text", "pos"]),
                              st.lists(st.text(max_size=200), min_size=1, max_size=2), max_size=3),
       origin=st.integers(0, 300))
def test_a_link_is_counted_as_streamlit_writes_it(params, origin):
    """The server writes a page's query with urlencode (and a bound widget in the browser the same way): a
    '*', '!' or an emoji takes the characters it takes there."""
    from urllib.parse import urlencode

    assert links.link_length(params, origin) == origin + 1 + len(urlencode(params, doseq=True))


def test_a_link_counts_the_page_address_it_is_given():
    """A hand-made link fits when the page's real address is short, though not with the allowance counted
    for an unknown one: 7,875 characters of query behind a 40-character address."""
    params = {"units": ["GRU"], "text": ["é" * 1310]}  # 6 characters in a link for each é
    query = links.link_length(params, origin_chars=0) - 1
    assert 7_800 < query < 7_900
    assert links.link_length(params, origin_chars=40) == 40 + 1 + query <= links.MAX_LINK_CHARS
    assert links.fit_link(params, "text", origin_chars=40) is None
    cut = links.fit_link(params, "text")  # the allowance: too long, cut
    assert cut is not None and links.link_length({**params, "text": [cut]}) <= links.MAX_LINK_CHARS


# ---- the command line -----------------------------------------------------------------------------------------

def run_main(argv: list[str]) -> tuple[int, str, str]:
    """``python -m rnnmem ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli_main(argv)
        except SystemExit as exit_:
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def assert_answer_or_one_error_line(status: int, out: str, err: str) -> None:
    if status == 0:
        assert out and not err.strip()
        return
    lines = err.splitlines()
    assert status == 2 and out == "" and len(lines) == 1 and lines[0].startswith("error: "), (status, err)


cli_texts = st.one_of(st.text(max_size=60), st.just(""),
                      st.builds(lambda piece, n: piece * n, st.sampled_from(["ab ", "é", "\x07", "9"]),
                                st.integers(100, 3000)))
cli_numbers = st.one_of(number_strings, st.integers(-5, 150).map(str))


@MODEL
@given(text=cli_texts, k=cli_numbers, as_json=st.booleans())
def test_cli_suggest_answers_or_prints_one_error_line(trained_model_dir, text, k, as_json):
    argv = ["suggest", str(trained_model_dir), text, "-k", k] + (["--json"] if as_json else [])
    assert_answer_or_one_error_line(*run_main(argv))


@MODEL
@given(text=cli_texts, position=st.one_of(st.none(), cli_numbers),
       target=st.one_of(st.none(), st.text(max_size=10)))
def test_cli_connectivity_answers_or_prints_one_error_line(trained_model_dir, text, position, target):
    argv = ["connectivity", str(trained_model_dir), text, "--json"]
    argv += ["--position", position] if position is not None else []
    argv += ["--target", target] if target is not None else []
    assume(len(normalize(text)) <= 120 or position is not None)  # whole matrices of long texts: slow, not odd
    assert_answer_or_one_error_line(*run_main(argv))


@settings(max_examples=30, deadline=None)
@given(ref=references.filter(lambda ref: ref.strip() not in UNITS), text=cli_texts)
def test_cli_any_model_reference_answers_or_prints_one_error_line(offline_hub, ref, text):
    assert_answer_or_one_error_line(*run_main(["suggest", ref, text]))
