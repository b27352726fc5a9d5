"""The limits on models that visitors choose by link: shared loads, a cap per visitor, a cap overall."""

from __future__ import annotations

import threading

import pytest

from rnnmem.visitor_models import ModelLimitError, VisitorModels


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def store(**limits):
    """A store over a loader that records its calls and returns ("model of REF", None)."""
    calls: list[tuple] = []

    def loader(reference, unit):
        calls.append((reference, unit))
        return (f"model of {reference}", None)

    clock = Clock()
    defaults = dict(per_visitor=2, capacity=3, window=3600.0, min_idle=60.0)
    return VisitorModels(loader, clock=clock, **{**defaults, **limits}), calls, clock


def test_one_load_serves_every_visitor_who_names_the_same_model():
    models, calls, _ = store()
    assert models.get("ann", ("hf://a/x", "gru")) == ("model of hf://a/x", None)
    assert models.get("bob", ("hf://a/x", "gru")) == ("model of hf://a/x", None)
    assert models.get("ann", ("hf://a/x", "gru"))[0] == "model of hf://a/x"
    assert calls == [("hf://a/x", "gru")] and models.held() == 1
    models.get("ann", ("hf://a/x", "lstm"))  # another slot is another key
    assert len(calls) == 2


def test_a_visitor_may_load_only_a_few_models_of_their_own_choosing_per_window():
    models, calls, clock = store(capacity=10)
    models.get("ann", ("hf://a/1", "gru"))
    models.get("ann", ("hf://a/2", "gru"))
    with pytest.raises(ModelLimitError, match="you have loaded 2 models of your own choosing in the last 60 minutes, "
                                              "the most one visitor may; try again in 60 minutes"):
        models.get("ann", ("hf://a/3", "gru"))
    assert models.get("bob", ("hf://a/3", "gru"))  # another visitor may
    assert models.get("ann", ("hf://a/3", "gru"))  # and then it is held: free for ann too
    assert models.get("ann", ("hf://a/1", "gru"))  # her own are free
    clock.now += 1800
    with pytest.raises(ModelLimitError, match="try again in 30 minutes"):
        models.get("ann", ("hf://a/4", "gru"))
    clock.now += 1800
    models.get("ann", ("hf://a/4", "gru"))
    assert [c[0] for c in calls] == ["hf://a/1", "hf://a/2", "hf://a/3", "hf://a/4"]


def test_the_server_holds_a_few_visitor_models_replacing_only_idle_ones():
    models, calls, clock = store(per_visitor=10, capacity=2)
    models.get("ann", ("hf://a/1", "gru"))
    clock.now += 30
    models.get("bob", ("hf://a/2", "gru"))
    with pytest.raises(ModelLimitError, match="the server holds 2 models chosen by visitors, the most it keeps at once, "
                                              "and all are in use; try again in 1 minute"):
        models.get("cy", ("hf://a/3", "gru"))
    clock.now += 31  # hf://a/1 idle for 61 s: it makes room
    models.get("cy", ("hf://a/3", "gru"))
    assert models.held() == 2
    models.get("bob", ("hf://a/2", "gru"))
    assert calls.count(("hf://a/2", "gru")) == 1  # still held
    clock.now += 3600  # everything idle for the window is dropped
    models.get("ann", ("hf://a/9", "gru"))
    assert models.held() == 1


def test_a_branch_and_its_pinned_commit_are_one_model():
    calls = []

    def loader(reference, unit):
        calls.append(reference)
        return (reference.replace("@main", "@0123abc"), None)

    models = VisitorModels(loader, alias=lambda key, result: (result[0], key[1]), per_visitor=1, capacity=2)
    models.get("ann", ("hf://a/x@main", "gru"))
    models.get("ann", ("hf://a/x@0123abc", "gru"))  # the link after pinning: no second load, no second count
    assert calls == ["hf://a/x@main"] and models.held() == 1


def test_visitors_asking_at_once_share_one_load_and_a_failed_load_is_not_kept():
    started, release = threading.Event(), threading.Event()
    calls = []

    def loader(reference, unit):
        calls.append(reference)
        if reference == "hf://a/bad":
            raise RuntimeError("broken")
        started.set()
        release.wait(10)
        return ("model", None)

    models = VisitorModels(loader, per_visitor=5, capacity=5)
    results = []
    threads = [threading.Thread(target=lambda v=v: results.append(models.get(v, ("hf://a/x", "gru"))))
               for v in ("ann", "bob", "cy")]
    threads[0].start()
    assert started.wait(10)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == [("model", None)] * 3 and calls == ["hf://a/x"]
    with pytest.raises(RuntimeError, match="broken"):
        models.get("ann", ("hf://a/bad", "gru"))
    with pytest.raises(RuntimeError, match="broken"):
        models.get("ann", ("hf://a/bad", "gru"))  # tried again, not a stuck "loading" entry
    assert models.held() == 1
