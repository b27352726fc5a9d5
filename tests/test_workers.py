"""Connectivity matrices and attributions in a worker process: the same result as in the server process, or
computed there."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rnnmem.analysis import connectivity_matrix
from rnnmem.attribution_methods import attribution
from rnnmem.errors import InputError
from rnnmem.refs import load, load_model
from rnnmem.workers import (ConnectivityViews, AnalysisWorkers, default_workers, usable_cores, weights_fingerprint,
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


def test_a_worker_computes_the_same_attribution_as_the_server_process(workers, trained_model_dir, tiny_models):
    """Integrated gradients (seconds on a long text) and the other methods go to a worker; a word outside
    the vocabulary is the same InputError there as here; a model built in memory is computed here."""
    loaded = load(str(trained_model_dir))
    for method, target in (("integrated_gradients", None), ("grad_x_input", "top-2"), ("grad_sq", None)):
        before = workers.computed_in_workers
        result = workers.attribution(loaded, TEXT, 20, method, target)
        assert workers.computed_in_workers == before + 1, method
        expected = attribution(loaded.model, TEXT, 20, method, target)
        assert (result.method, result.word, result.position, result.n_steps) == \
            (expected.method, expected.word, expected.position, expected.n_steps)
        np.testing.assert_allclose(result.values, expected.values, rtol=1e-4, atol=1e-6)  # thread counts differ
    before = workers.computed_in_workers
    with pytest.raises(InputError, match="not in the model's vocabulary"):
        workers.attribution(loaded, TEXT, 20, "integrated_gradients", "word:qzxv")
    built = tiny_models["gru"]
    assert workers.attribution(built, TEXT, 5, "grad_x_input").word == attribution(built, TEXT, 5, "grad_x_input").word
    assert workers.computed_in_workers == before


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
    finally:
        pool.shutdown()
    assert all(worker.process.poll() is not None for worker in pool._started)
