"""The keystroke path: reading a text in pieces (``AutocompleteRNN.read_on``), the prefix cache that the
Autocomplete page serves from (rnnmem.prefix_cache), and the app's garbage-collector setting."""

from __future__ import annotations

import gc
import random

import numpy as np
import pytest
import torch

from rnnmem.inputs import prepare_text
from rnnmem.prefix_cache import PrefixCache
from rnnmem.suggestions import suggest_each_prefix

UNITS = ("rnn", "gru", "lstm", "nlstm")
LETTERS = "abcdefghijklmnopqrstuvwxyz    "


def random_text(rng: random.Random, length: int) -> str:
    return " " + "".join(rng.choice(LETTERS) for _ in range(length)).strip() + rng.choice(["", " "])


def assert_same_answers(got, expected, atol=2e-6):
    assert [(a.text, a.prefix) for a in got] == [(b.text, b.prefix) for b in expected]
    for a, b in zip(got, expected):
        assert a.words == b.words, a.text
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=atol)


@pytest.mark.parametrize("unit", UNITS)
def test_reading_a_text_in_pieces_gives_what_reading_it_whole_does(tiny_models, unit):
    model = tiny_models[unit]
    rng = random.Random(unit)
    for _ in range(5):
        chars = prepare_text(model, random_text(rng, rng.randrange(5, 60))).chars_tensor("cpu")  # (1, T)
        with torch.no_grad():
            whole = model.recurrent_outputs(chars)  # (1, T, H)
            cuts = sorted(rng.sample(range(1, chars.shape[1]), k=min(3, chars.shape[1] - 1)))
            pieces, state = [], None
            for a, b in zip([0] + cuts, cuts + [chars.shape[1]]):
                out, state = model.read_on(chars[:, a:b], state)
                pieces.append(out)
        torch.testing.assert_close(torch.cat(pieces, 1), whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("unit", UNITS)
def test_typing_deleting_and_editing_answer_as_a_fresh_forward_pass(tiny_models, unit):
    """Random texts typed letter by letter, letters deleted, a word changed in the middle: every answer
    is suggest_each_prefix's, and typing reads each new character once and the dense layer once per
    new prefix."""
    model = tiny_models[unit]
    cache = PrefixCache(5)
    rng = random.Random(7)
    answered: set[str] = set()  # prefixes answered so far (the leading space " " by every text)
    for _ in range(3):
        text = random_text(rng, 30).rstrip()
        before = cache.characters_read, cache.rows_computed
        new = {text[:t + 1] for t in range(len(text))} - answered
        answered |= new
        for end in range(2, len(text) + 1):  # typed after the leading space
            got = cache.suggestions_by_prefix(("m", unit), model, text[:end], first=max(0, end - 8))
            assert_same_answers(got, suggest_each_prefix(model, text[:end], k=5, first=max(0, end - 8)))
        assert cache.characters_read - before[0] == len(text)  # each character read once
        assert cache.rows_computed - before[1] == len(new)  # the dense layer once per new prefix
        read = cache.characters_read
        for end in range(len(text) - 1, len(text) - 6, -1):  # deleting letters: nothing to read
            got = cache.suggestions_by_prefix(("m", unit), model, text[:end], first=0)
            assert_same_answers(got, suggest_each_prefix(model, text[:end], k=5, first=0))
        assert cache.characters_read == read
        edited = text[:10] + "xy" + text[12:]  # a change in the middle reads on from before it
        got = cache.suggestions_by_prefix(("m", unit), model, edited, first=5)
        assert_same_answers(got, suggest_each_prefix(model, edited, k=5, first=5))
        assert cache.characters_read - read <= len(edited) - 10


def test_answers_never_cross_between_models_and_the_cache_stays_bounded(tiny_models):
    cache = PrefixCache(3, capacity=40, states=5)
    rng = random.Random(3)
    texts = [random_text(rng, 25) for _ in range(12)]
    for text in texts:
        for unit in ("gru", "lstm"):  # the same texts for two models, under their own keys
            got = cache.suggestions_by_prefix((unit,), tiny_models[unit], text, first=0)
            assert_same_answers(got, suggest_each_prefix(tiny_models[unit], text, k=3, first=0))
            assert len(cache._answers) <= 40 and len(cache._states) <= 5
    # evicted prefixes are computed again, and still right
    for unit in ("gru", "lstm"):
        got = cache.suggestions_by_prefix((unit,), tiny_models[unit], texts[0], first=0)
        assert_same_answers(got, suggest_each_prefix(tiny_models[unit], texts[0], k=3, first=0))


@pytest.mark.parametrize("unit", UNITS)
def test_a_kept_state_holds_no_buffer_of_the_whole_pass(tiny_models, unit):
    """A Nested LSTM's final h is a view of the (T + 1, B, H) outputs buffer; kept as it is, every cached
    text would keep its whole pass alive."""
    cache = PrefixCache(3)
    text = " the cat sat on a mat and the dog ran to the big red house"
    cache.suggestions_by_prefix((unit,), tiny_models[unit], text, first=len(text) - 3)
    (state,) = cache._states.values()
    tensors = [state] if isinstance(state, torch.Tensor) else list(_tensors(state))
    assert tensors
    for tensor in tensors:
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()


def _tensors(state):
    for part in state:
        if isinstance(part, torch.Tensor):
            yield part
        else:
            yield from _tensors(part)


def test_the_app_moves_the_imported_modules_out_of_the_collectors_sight(monkeypatch):
    """Streamlit collects garbage after every script run; over every module's objects that cost more
    CPU than the Autocomplete page's own work per keystroke. configure_runtime freezes them, once."""
    from rnnmem.app import runtime

    monkeypatch.setattr(runtime, "_frozen", False)  # as in a fresh process
    gc.unfreeze()
    try:
        runtime.configure_runtime()
        frozen = gc.get_freeze_count()
        runtime.configure_runtime()
        assert frozen > 50_000 and gc.get_freeze_count() == frozen  # once per process
        assert len(gc.get_objects()) < frozen / 10  # what a collection still walks
    finally:
        gc.unfreeze()


def test_every_script_run_gets_the_configured_torch_threads_in_its_own_thread(monkeypatch):
    """Streamlit runs each script run in a fresh thread, and OpenMP keeps its thread count per thread: a
    fresh thread starts at one per core whatever the process set before. configure_runtime sets the
    count in the run's own thread (read here from the OpenMP library torch loaded)."""
    import ctypes
    import os
    import threading

    from rnnmem.app import runtime

    torch.ones(2).sum()  # torch and its OpenMP library loaded
    with open(f"/proc/{os.getpid()}/maps") as maps:
        libraries = [word for word in maps.read().split() if "libgomp" in word or "libiomp" in word]
    assert libraries, "torch is built with OpenMP here (the CPU wheel the README installs)"
    openmp = ctypes.CDLL(libraries[0])  # the library already loaded: the same per-thread settings
    monkeypatch.setattr(runtime, "_frozen", True)  # no gc.freeze in the test process
    # three: what no fresh thread starts with (one per core, or OMP_NUM_THREADS, often 1), on any machine
    monkeypatch.setenv("RNNMEM_TORCH_THREADS", "3")
    seen = []

    def script_run() -> None:
        runtime.configure_runtime()
        seen.append(openmp.omp_get_max_threads())

    previous = torch.get_num_threads()
    try:
        for _ in range(2):  # the first run set it in its thread; the second's fresh thread needs it again
            run = threading.Thread(target=script_run)
            run.start()
            run.join()
    finally:
        torch.set_num_threads(previous)
    assert seen == [3, 3]


def test_a_shared_answer_cannot_be_changed_in_place(tiny_models):
    """The cache hands the same answer to every visitor whose text starts alike: a visitor's code that
    tried to sort or trim its suggestions in place would change everybody's, so they are immutable."""
    cache = PrefixCache(5)
    first = cache.suggestions_by_prefix(("gru",), tiny_models["gru"], " the cat")
    again = cache.suggestions_by_prefix(("gru",), tiny_models["gru"], " the cat sat")
    assert again[len(first) - 1] is first[-1]  # shared, not copied
    for answer in first:
        with pytest.raises(AttributeError):
            answer.words.append("x")
        with pytest.raises(AttributeError):
            answer.probabilities.sort()
