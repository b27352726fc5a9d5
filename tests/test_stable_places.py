"""Bound widgets keep their places in the page whatever else a run draws (rnnmem.app.params, "Stable
places"): a widget that moves loses its link in the browser, so a change of it no longer reaches the
address. A flaky browser test found it (tests/e2e/test_memory_page.py: "Break down by" left out of the link
after the profiles came from the cache)."""

from __future__ import annotations

import pytest

from tests.test_app import app, models_toml  # noqa: F401 (fixtures)


def bound_param(node) -> str | None:
    """The link parameter a widget is bound to (``bind="query-params"``), or None."""
    proto = getattr(node, "proto", None)
    return getattr(proto, "query_param_key", None) or None


def widget_places(block, path: tuple[int, ...] = ()) -> dict[str, tuple[int, ...]]:
    """Each bound widget's place in the element tree below ``block`` (indices from the top), by its link
    parameter."""
    places = {}
    for index, child in getattr(block, "children", {}).items():
        if bound_param(child):
            places[bound_param(child)] = (*path, index)
        places.update(widget_places(child, (*path, index)))
    return places


def assert_same_places(before, after, expected_keys: set[str]) -> None:
    """Every bound widget on both pages is in the same place on both, ``expected_keys`` among them."""
    assert not before.exception and not after.exception
    first, second = widget_places(before.main), widget_places(after.main)
    shared = first.keys() & second.keys()
    assert expected_keys <= shared
    assert {key: first[key] for key in shared} == {key: second[key] for key in shared}


def test_memory_page_widgets_keep_their_places_whether_the_profiles_are_computed_or_cached(app):  # noqa: F811
    """The progress bar was drawn only while the profiles were computed."""
    at = app("memory", units=["GRU"], positions="300", seed="7421")  # a seed no other test uses: computed
    computed = widget_places(at.main)
    at.run()  # the same page again: the profiles come from the cache
    assert not at.exception
    assert {"scale", "by", "topk", "seq"} <= computed.keys()
    assert widget_places(at.main) == computed


def test_memory_page_widgets_keep_their_places_with_the_pasted_text_box(app):  # noqa: F811
    pasted = " ".join(["the quick brown fox jumps over the lazy dog and runs far away"] * 4)
    walkthrough = app("memory", units=["GRU"], positions="300")
    with_box = app("memory", units=["GRU"], positions="300", source="Pasted", text=pasted)
    assert "text" in widget_places(with_box.main) and "text" not in widget_places(walkthrough.main)
    assert_same_places(walkthrough, with_box, {"scale", "maxdist", "logy", "article", "by", "topk", "seq"})


def test_accuracy_page_text_box_keeps_its_place_with_a_missing_evaluation_notice(app):  # noqa: F811
    """The fixture's vanilla RNN has no stored test evaluation: a notice, drawn for it only."""
    evaluated = app("accuracy", units=["GRU"])
    with_notice = app("accuracy", units=["GRU", "RNN"])
    assert any("No stored test evaluation" in info.value for info in with_notice.info)
    assert not any("No stored test evaluation" in info.value for info in evaluated.info)
    assert_same_places(evaluated, with_notice, {"eval"})


def test_training_page_measure_keeps_its_place_with_a_missing_log_notice(app, monkeypatch):  # noqa: F811
    import rnnmem.app

    real = rnnmem.app.read_training

    def no_lstm_log(files_dir):
        rows, summary = real(files_dir)
        return ([] if "lstm" in str(files_dir).lower() else rows), summary

    monkeypatch.setattr(rnnmem.app, "read_training", no_lstm_log)
    logged = app("training", units=["GRU"])
    with_notice = app("training", units=["GRU", "LSTM"])
    assert any("No logged losses for LSTM" in info.value for info in with_notice.info)
    assert_same_places(logged, with_notice, {"measure"})


@pytest.mark.parametrize("page", ["autocomplete", "connectivity", "accuracy", "memory", "training"])
def test_every_pages_widgets_keep_their_places_on_the_next_run(app, page):  # noqa: F811
    at = app(page, units=["GRU", "LSTM"])
    first = widget_places(at.main)
    at.run()
    assert not at.exception and first  # every page has bound widgets
    assert widget_places(at.main) == first


@pytest.mark.parametrize("page, bound", [("memory", {"scale", "by", "topk", "seq"}), ("accuracy", {"eval"}),
                                         ("training", {"measure"})])
def test_bound_widgets_keep_their_places_with_a_model_warning(app, page, bound):  # noqa: F811
    """A link naming a model that cannot be used gets a warning from the model loader, above the page."""
    usual = app(page, units=["GRU"])
    warned = app(page, units=["GRU"], gru_model="hf://not a repo")
    assert any("cannot use" in warning.value for warning in warned.warning)
    assert_same_places(usual, warned, bound)


def test_connectivity_widgets_keep_their_places_when_the_text_is_cut(app):  # noqa: F811
    short = app("connectivity", units=["GRU"], text="the cat sat on the mat")
    cut = app("connectivity", units=["GRU"], text=" ".join(["the cat sat on the mat"] * 40))  # 919 characters
    assert any("using its first" in warning.value for warning in cut.warning)
    assert_same_places(short, cut, {"pos", "hover", "colours", "article", "method", "target", "word"})
