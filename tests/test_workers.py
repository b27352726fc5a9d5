"""Connectivity matrices and attributions in a worker process: the same result as in the server process, or
computed there."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rnnmem.analysis import connectivity_matrix
from rnnmem.attribution_methods import attribution
from rnnmem.connectivity_views import ConnectivityViews
from rnnmem.errors import InputError
from rnnmem.refs import load, load_model
from rnnmem.workers import (AnalysisWorkers, default_workers, usable_cores, weights_fingerprint,
                            worker_reference)

TEXT = "the cat sat on a mat and the dog ran"


@pytest.fixture(scope="module")
def workers():
    pool = AnalysisWorkers(1)
    yield pool
    pool.shutdown()


def test_a_worker_computes_the_same_matrix_as_the_server_process(workers, trained_model_dir):
    loaded = load(str(trained_model_dir))
    assert worker_reference(loaded) == str(trained_model_dir)
    before = workers.computed_in_workers
    result = workers.connectivity_matrix(loaded, TEXT)
    assert workers.computed_in_workers == before + 1
    expected = connectivity_matrix(loaded.model, TEXT)
    np.testing.assert_array_equal(result.connectivity, expected.connectivity)
    assert (result.desired, result.top_words) == (expected.desired, expected.top_words)
    with pytest.raises(InputError, match="empty"):
        workers.connectivity_matrix(loaded, "?!")


def test_recall_reads_its_rows_from_a_worker_with_the_server_process_figures(workers, trained_model_dir):
    """Recall against its control with the rows' gradients in a worker (the Memory page's way): the rows
    the server process computes (to float rounding: the worker runs one torch thread), so the same figures."""
    from rnnmem.recall import recall_profile

    loaded = load(str(trained_model_dir))
    text = " the cat sat on the mat and the big red house and the dog ran to the cat on a mat"
    here = recall_profile(loaded.model, text, frequent=4, controls=3, seed=2)  # toy words past the 4th: rarer
    before = workers.computed_in_workers
    there = recall_profile(loaded.model, text, frequent=4, controls=3, seed=2,
                           rows=lambda chars, positions, ys: workers.connectivity_rows(loaded, chars, positions, ys))
    assert here.moments > 0 and workers.computed_in_workers > before
    for name, values in here.per_moment.items():
        np.testing.assert_allclose(there.per_moment[name], values, rtol=1e-5, atol=1e-9, err_msg=name)
    assert there.means["share"]["mean"] == pytest.approx(here.means["share"]["mean"], rel=1e-5)


def test_integrated_gradients_go_to_a_worker_and_the_cheap_methods_stay_here(workers, trained_model_dir,
                                                                            tiny_models):
    """Integrated gradients (seconds on a long text) is computed in a worker, with the same result as here;
    a word outside the vocabulary is the same InputError there as here; the one-backward-pass methods, and
    a model built in memory, are computed here."""
    loaded = load(str(trained_model_dir))
    for method, target, in_worker in (("integrated_gradients", None, 1), ("integrated_gradients", "top-2", 1),
                                      ("grad_x_input", "top-2", 0), ("grad_sq", None, 0)):
        before = workers.computed_in_workers
        result = workers.attribution(loaded, TEXT, 20, method, target)
        assert workers.computed_in_workers == before + in_worker, method
        expected = attribution(loaded.model, TEXT, 20, method, target)
        assert (result.method, result.word, result.position, result.n_steps) == \
            (expected.method, expected.word, expected.position, expected.n_steps)
        np.testing.assert_allclose(result.values, expected.values, rtol=1e-4, atol=1e-6)  # thread counts differ
    outside = workers._submit("attribution", loaded, (TEXT, 20, "integrated_gradients", "word:qzxv"), waited=True)
    assert isinstance(outside.exception(), InputError)  # raised in the worker, not a failure recomputed here
    with pytest.raises(InputError, match="not in the model's vocabulary"):
        workers.attribution(loaded, TEXT, 20, "integrated_gradients", "word:qzxv")
    before = workers.computed_in_workers
    built = tiny_models["gru"]
    assert workers.attribution(built, TEXT, 5, "integrated_gradients").word == \
        attribution(built, TEXT, 5, "integrated_gradients").word
    assert workers.computed_in_workers == before


def test_what_a_page_waits_for_goes_before_matrices_asked_for_ahead(trained_model_dir):
    """One worker, four matrices of long texts asked for ahead of need, then a page's integrated gradients:
    it waits only for the matrix under way, not for the three queued behind it."""
    loaded = load(str(trained_model_dir))
    pool = AnalysisWorkers(1)
    finished = {}
    try:
        pool.connectivity_matrix(loaded, TEXT)  # the worker has the model loaded
        texts = [f"{word} " + TEXT * 13 for word in ("one", "two", "three", "four")]  # 0.3 s each, about
        ahead = [pool.submit(loaded, text) for text in texts]
        for number, future in enumerate(ahead):
            future.add_done_callback(lambda _, number=number: finished.setdefault(number, time.monotonic()))
        while not ahead[0].running():  # the first is under way
            time.sleep(0.001)
        pool.attribution(loaded, TEXT, 20, "integrated_gradients")
        answered = time.monotonic()
        assert all(future.result() is not None for future in ahead)
    finally:
        pool.shutdown()
    assert sum(finished[number] > answered for number in range(4)) >= 3


def test_weights_a_worker_cannot_reproduce_are_computed_here(workers, trained_model_dir, tiny_models):
    changed = load(str(trained_model_dir))
    with np.errstate(all="ignore"):
        changed.model.output.bias.data += 1.0  # same reference, other weights: the fingerprints differ
    assert weights_fingerprint(changed.model) != weights_fingerprint(load_model(str(trained_model_dir)))
    before = workers.computed_in_workers
    np.testing.assert_array_equal(workers.connectivity_matrix(changed, TEXT).connectivity,
                                  connectivity_matrix(changed.model, TEXT).connectivity)
    built = tiny_models["gru"]  # built in memory: no reference at all
    assert worker_reference(built) is None
    assert workers.connectivity_matrix(built, TEXT).top_words == connectivity_matrix(built, TEXT).top_words
    assert workers.computed_in_workers == before


def test_the_number_of_workers_comes_from_the_environment_else_the_usable_cores(tmp_path):
    assert default_workers({"RNNMEM_WORKERS": "3"}, cores=1) == 3
    assert default_workers({"RNNMEM_WORKERS": "0"}, cores=8) == 0
    assert default_workers({"RNNMEM_WORKERS": "many"}, cores=2) == 1
    assert default_workers({}, cores=1) == 0
    quota = tmp_path / "cpu.max"
    quota.write_text("100000 100000\n")  # a container held to one core on a bigger machine
    assert usable_cores(quota) == 1
    quota.write_text("max 100000\n")
    assert usable_cores(quota) == usable_cores(tmp_path / "absent") >= 1


def test_a_new_text_shows_the_selected_row_at_once_and_the_matrix_once_a_worker_has_it(workers, trained_model_dir):
    loaded = load(str(trained_model_dir))
    model = loaded.model
    views = ConnectivityViews(workers)
    key = ("gru", str(trained_model_dir), "")
    text = " the dog ran to a big red house"
    expected = connectivity_matrix(model, text)
    first = views.get(key, loaded, text, 5)
    assert first.extras == {"rows": [5]}  # the worker is still computing: the selected row alone
    np.testing.assert_allclose(first.row(5), expected.row(5), rtol=1e-4, atol=1e-7)
    assert not first.connectivity[:5].any() and not first.connectivity[6:].any()
    assert (first.desired, first.top_words) == (expected.desired, expected.top_words)
    for _ in range(600):  # the worker finishes in the background
        if views.get(key, loaded, text, 9).extras == {}:
            break
        time.sleep(0.05)
    whole = views.get(key, loaded, text, 9)
    assert views.ready(key, text) and whole.extras == {}
    np.testing.assert_array_equal(whole.connectivity, expected.connectivity)
    assert views.get(("gru", "another source", ""), loaded, text, 9).extras == {"rows": [9]}  # keys never mix


def test_without_workers_the_matrix_is_computed_at_once(tiny_models):
    views = ConnectivityViews(AnalysisWorkers(0))
    result = views.get(("gru", "", ""), tiny_models["gru"], TEXT, 3)
    assert result.extras == {}
    np.testing.assert_array_equal(result.connectivity, connectivity_matrix(tiny_models["gru"], TEXT).connectivity)


def test_a_full_queue_gives_rows_without_queueing_more(workers, trained_model_dir):
    loaded = load(str(trained_model_dir))
    views = ConnectivityViews(workers, max_pending=0)
    assert views.get(("gru", "x", ""), loaded, TEXT, 4).extras == {"rows": [4]}
    assert not views.ready(("gru", "x", ""), TEXT)


def test_a_worker_that_dies_is_replaced_and_nothing_is_lost(trained_model_dir):
    model = load(str(trained_model_dir))
    expected = connectivity_matrix(model.model, TEXT).connectivity
    pool = AnalysisWorkers(1)
    try:
        np.testing.assert_array_equal(pool.connectivity_matrix(model, TEXT).connectivity, expected)
        pool._started[0].process.kill()  # as the kernel's out-of-memory killer would
        pool._started[0].process.wait()
        done = pool.computed_in_workers
        np.testing.assert_array_equal(pool.connectivity_matrix(model, TEXT).connectivity, expected)  # here
        assert pool.computed_in_workers == done
        np.testing.assert_array_equal(pool.connectivity_matrix(model, TEXT).connectivity, expected)
        assert pool.computed_in_workers == done + 1  # by the fresh worker
        shares = attribution(model.model, TEXT, 20, "integrated_gradients").values  # and during an attribution
        pool._started[-1].process.kill()
        pool._started[-1].process.wait()
        np.testing.assert_allclose(pool.attribution(model, TEXT, 20, "integrated_gradients").values, shares,
                                   rtol=1e-4, atol=1e-6)
        assert pool.computed_in_workers == done + 1  # computed here
        np.testing.assert_allclose(pool.attribution(model, TEXT, 20, "integrated_gradients").values, shares,
                                   rtol=1e-4, atol=1e-6)
        assert pool.computed_in_workers == done + 2  # by the next fresh worker
    finally:
        pool.shutdown()
    assert all(worker.process.poll() is not None for worker in pool._started)
