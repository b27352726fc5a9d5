"""Every shipped model directory is complete, loads by name, and reproduces the figures beside it: the
CPU-trained defaults (``gru``, one float16 file each) and the article-size set (``article/gru``, float16
sharded safetensors, trained on a GPU by scripts.train_article_gpu)."""

import json

import numpy as np
import pytest
from safetensors import safe_open

from rnnmem.analysis import accuracy_by_chars_seen, sample_text_from_vocabulary
from rnnmem.model import UNITS, AutocompleteRNN
from rnnmem.refs import WEIGHTS_ROOT, load_model

FILES = ("config.json", "README.md", "training_log.csv", "training_config.json", "training_summary.json",
         "evaluation_test.json", "evaluation_valid.json", "evaluation_sample.json", "memory.json")
SINGLE_FILE = ("model.safetensors",)
SHARDED = ("model.safetensors.index.json",)
# (name prefix, the files a directory of the set holds besides FILES, its hidden size, the set's weight budget)
SETS = {"": (SINGLE_FILE, 224, 60_000_000), "article/": (SHARDED + ("article_run.json",), 600, 120_000_000)}
NAMES = [prefix + unit for prefix in SETS for unit in UNITS]


def weight_files(name: str) -> list:
    directory = WEIGHTS_ROOT / name
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        return sorted({directory / shard for shard in json.loads(index.read_text())["weight_map"].values()})
    return [directory / "model.safetensors"]


def stored_shapes(name: str) -> dict:
    shapes = {}
    for path in weight_files(name):
        with safe_open(str(path), "pt") as f:
            shapes.update({k: tuple(f.get_slice(k).get_shape()) for k in f.keys()})
    return shapes


@pytest.mark.parametrize("prefix", SETS)
def test_every_unit_of_each_set_ships_a_complete_directory(prefix):
    extra, _, _ = SETS[prefix]
    for unit in UNITS:
        for name in FILES + extra:
            assert (WEIGHTS_ROOT / (prefix + unit) / name).is_file(), f"rnnmem/weights/{prefix}{unit}/{name} is missing"
        assert all(path.is_file() for path in weight_files(prefix + unit))


@pytest.mark.parametrize("prefix", SETS)
def test_each_set_fits_its_size_budget(prefix):
    _, _, budget = SETS[prefix]
    total = sum(path.stat().st_size for unit in UNITS for path in weight_files(prefix + unit))
    assert total <= budget
    # every file comes back from the GPU machine and stays under the Hub's and the repository's comfort
    assert all(path.stat().st_size < 20_000_000 for unit in UNITS for path in weight_files(prefix + unit))


@pytest.mark.parametrize("name", NAMES)
def test_loads_by_name_with_a_config_matching_its_files(name):
    unit = name.rpartition("/")[2]
    model = load_model(name)
    assert model.unit == unit and not model.training
    assert model.config.hidden_size == SETS[name[:-len(unit)]][1]
    config = json.loads((WEIGHTS_ROOT / name / "config.json").read_text())
    assert config["unit"] == unit and model.config.vocab_size == len(config["words"])
    assert stored_shapes(name) == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert all(p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in model.parameters())
    card = (WEIGHTS_ROOT / name / "README.md").read_text()
    summary = json.loads((WEIGHTS_ROOT / name / "training_summary.json").read_text())
    assert f"{summary['characters_seen']:,}" in card  # the card says how many characters it saw


def test_the_apps_words_about_the_cpu_trained_set_hold():
    """The sidebar and the landing page say: 2 layers × 224 (the Nested LSTM 1), trained on a CPU, each for
    an epoch or more of a Wikipedia corpus like text8."""
    # (tests/test_app.py: the landing page and the sidebar do say it)
    for unit in UNITS:
        config = json.loads((WEIGHTS_ROOT / unit / "config.json").read_text())
        summary = json.loads((WEIGHTS_ROOT / unit / "training_summary.json").read_text())
        assert (config["hidden_size"], config["num_layers"]) == (224, 1 if unit == "nlstm" else 2)
        assert summary["device"] == "cpu" and summary["epochs_completed"] >= 1, unit
        assert "text8like" in summary["corpus"], unit


@pytest.mark.parametrize("name", NAMES)
def test_reproduces_its_stored_sample_evaluation(name):
    model = AutocompleteRNN.from_directory(WEIGHTS_ROOT / name)
    stored = json.loads((WEIGHTS_ROOT / name / "evaluation_sample.json").read_text())
    spec = stored["sample"]
    text = sample_text_from_vocabulary(model.words, n_words=spec["n_words"], seed=spec["seed"])
    result = accuracy_by_chars_seen(model, text).as_dict()
    assert result["counts"] == stored["counts"]
    for k in ("top1", "top2", "top3"):
        np.testing.assert_allclose(result["accuracy_by_chars_seen"][k], stored["accuracy_by_chars_seen"][k],
                                   atol=0.002)
    assert result["cross_entropy"] == pytest.approx(stored["cross_entropy"], abs=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_stored_test_evaluation_is_consistent(name):
    unit = name.rpartition("/")[2]
    report = json.loads((WEIGHTS_ROOT / name / "evaluation_test.json").read_text())
    acc, counts = report["accuracy_by_chars_seen"], report["counts"]
    assert report["split"] == "test" and report["unit"] == unit and sum(counts) == report["chars"]
    for n, count in enumerate(counts):
        assert acc["top1"][n] <= acc["top2"][n] <= acc["top3"][n]
        assert report["correct"]["top1"][n] == round(acc["top1"][n] * count)
    if name.startswith("article/"):
        return  # measured on the GPU run's machine, before the breakdown existed
    bands = report["breakdown"]["bands"]  # by repetition: the same characters, in three bands
    assert report["breakdown"]["by"] == "repetition" and len(bands) == 3
    for key in ("counts", "correct"):
        summed = np.zeros(len(counts), dtype=int)
        for band in bands.values():
            values = band[key] if key == "counts" else band[key]["top1"]
            summed[:len(values)] += values
        expected = counts if key == "counts" else report["correct"]["top1"]
        assert summed.tolist() == expected, key


@pytest.mark.parametrize("unit", UNITS)
def test_the_card_shows_the_stored_files(unit):
    """The shipped (CPU-trained) model's card is the one its stored files build: an evaluation measured
    again must reach the card too."""
    from rnnmem.article_data import load_article_accuracy
    from rnnmem.modelcard import model_card_text

    directory = WEIGHTS_ROOT / unit
    card = (directory / "README.md").read_text()
    evaluation = json.loads((directory / "evaluation_test.json").read_text())
    article = load_article_accuracy().get(unit)
    evaluation["article_top1"] = article["accuracy_by_chars_seen"]["top1"] if article else None
    stored = {name: json.loads((directory / f"{name}.json").read_text()) for name in ("training_summary", "memory")}
    built = model_card_text(AutocompleteRNN.from_directory(directory), stored["training_summary"], evaluation,
                            card[card.index("## Notes"):].rstrip("\n"), stored["memory"])
    assert built == card


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_reproduces_its_stored_walkthrough_memory(name):
    """memory.json's walkthrough figures are this model's (recomputed here), the article's are the
    published data's, and the held-out figures are a coherent summary."""
    from rnnmem.walkthrough import model_report

    unit = name.rpartition("/")[2]
    stored = json.loads((WEIGHTS_ROOT / name / "memory.json").read_text())
    report = model_report(load_model(name))
    for measure in ("context_share", "d50", "d90"):
        assert report["model"][measure] == pytest.approx(stored["walkthrough"]["model"][measure], abs=0.02)
        if unit != "rnn":
            assert report["article"][measure] == pytest.approx(stored["walkthrough"]["article"][measure], abs=1e-6)
        held_out = stored["held_out"][measure]
        assert held_out["low"] <= held_out["mean"] <= held_out["high"]
    assert [m["rank"] for m in report["moments"]] == [m["rank"] for m in stored["moments"]]
    # 2,000 positions asked for; the last sequence ends before the word that would pass them
    assert 1950 <= stored["held_out"]["positions"] <= 2000 and stored["held_out"]["split"] == "test"
    card = (WEIGHTS_ROOT / name / "README.md").read_text()
    assert f"{stored['held_out']['d90']['mean']:.3f}" in card  # the card reports the measure


@pytest.mark.parametrize("name", NAMES)
def test_stored_memory_figures_are_what_the_memory_page_reads(name):
    """Every memory.json passes the Memory page's check; the CPU-trained defaults carry recall against its
    control on the test split (the article-size set was measured before recall existed)."""
    from rnnmem.memory_report import read_memory_report

    stored = read_memory_report(WEIGHTS_ROOT / name)
    if "/" not in name:
        recall = stored["recall"]
        assert recall["split"] == "test" and recall["max_chars"] == 300_000 and recall["moments"] > 1000
        assert recall["controls"] == 2 * recall["moments"]
        assert sum(band["moments"] for band in recall["by_distance"].values()) == recall["moments"]
        assert recall["share"]["low"] <= recall["share"]["mean"] <= recall["share"]["high"]
        assert "### Recall of words read before" in (WEIGHTS_ROOT / name / "README.md").read_text()
