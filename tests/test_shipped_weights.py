"""Every shipped model directory is complete, loads by name, and reproduces the figures beside it."""

import json

import numpy as np
import pytest
from safetensors import safe_open

from rnnmem.analysis import accuracy_by_chars_seen, sample_text_from_vocabulary
from rnnmem.model import UNITS, AutocompleteRNN
from rnnmem.refs import WEIGHTS_ROOT, load_model

REQUIRED = ("config.json", "model.safetensors", "README.md", "training_log.csv", "training_config.json",
            "training_summary.json", "evaluation_test.json", "evaluation_valid.json", "evaluation_sample.json", "memory.json")
MAX_TOTAL_BYTES = 60_000_000  # the four fp16 weight files


def test_every_unit_ships_a_complete_directory():
    for unit in UNITS:
        for name in REQUIRED:
            assert (WEIGHTS_ROOT / unit / name).is_file(), f"rnnmem/weights/{unit}/{name} is missing"


def test_shipped_weights_fit_the_size_budget():
    total = sum((WEIGHTS_ROOT / unit / "model.safetensors").stat().st_size for unit in UNITS)
    assert total <= MAX_TOTAL_BYTES


@pytest.mark.parametrize("unit", UNITS)
def test_loads_by_name_with_a_config_matching_its_files(unit):
    model = load_model(unit)
    assert model.unit == unit and not model.training
    config = json.loads((WEIGHTS_ROOT / unit / "config.json").read_text())
    assert config["unit"] == unit and model.config.vocab_size == len(config["words"])
    with safe_open(str(WEIGHTS_ROOT / unit / "model.safetensors"), "pt") as f:
        stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert stored == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert all(p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in model.parameters())
    card = (WEIGHTS_ROOT / unit / "README.md").read_text()
    summary = json.loads((WEIGHTS_ROOT / unit / "training_summary.json").read_text())
    assert f"{summary['characters_seen']:,}" in card  # the card says how many characters it saw


@pytest.mark.parametrize("unit", UNITS)
def test_reproduces_its_stored_sample_evaluation(unit):
    model = AutocompleteRNN.from_directory(WEIGHTS_ROOT / unit)
    stored = json.loads((WEIGHTS_ROOT / unit / "evaluation_sample.json").read_text())
    spec = stored["sample"]
    text = sample_text_from_vocabulary(model.words, n_words=spec["n_words"], seed=spec["seed"])
    result = accuracy_by_chars_seen(model, text).as_dict()
    assert result["counts"] == stored["counts"]
    for k in ("top1", "top2", "top3"):
        np.testing.assert_allclose(result["accuracy_by_chars_seen"][k], stored["accuracy_by_chars_seen"][k],
                                   atol=0.002)
    assert result["cross_entropy"] == pytest.approx(stored["cross_entropy"], abs=1e-3)


@pytest.mark.parametrize("unit", UNITS)
def test_stored_test_evaluation_is_consistent(unit):
    report = json.loads((WEIGHTS_ROOT / unit / "evaluation_test.json").read_text())
    acc, counts = report["accuracy_by_chars_seen"], report["counts"]
    assert report["split"] == "test" and report["unit"] == unit and sum(counts) == report["chars"]
    for n, count in enumerate(counts):
        assert acc["top1"][n] <= acc["top2"][n] <= acc["top3"][n]
        assert report["correct"]["top1"][n] == round(acc["top1"][n] * count)


@pytest.mark.parametrize("unit", UNITS)
def test_reproduces_its_stored_walkthrough_memory(unit):
    """memory.json's walkthrough figures are this model's (recomputed here), the article's are the
    published data's, and the held-out figures are a coherent summary."""
    from rnnmem.walkthrough import model_report

    stored = json.loads((WEIGHTS_ROOT / unit / "memory.json").read_text())
    report = model_report(load_model(unit))
    for name in ("context_share", "d50", "d90"):
        assert report["model"][name] == pytest.approx(stored["walkthrough"]["model"][name], abs=0.02)
        if unit != "rnn":
            assert report["article"][name] == pytest.approx(stored["walkthrough"]["article"][name], abs=1e-6)
        held_out = stored["held_out"][name]
        assert held_out["low"] <= held_out["mean"] <= held_out["high"]
    assert [m["rank"] for m in report["moments"]] == [m["rank"] for m in stored["moments"]]
    assert stored["held_out"]["positions"] >= 2000 and stored["held_out"]["split"] == "test"
    card = (WEIGHTS_ROOT / unit / "README.md").read_text()
    assert f"{stored['held_out']['d90']['mean']:.3f}" in card  # the card reports the measure
