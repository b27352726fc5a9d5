"""The app's models settings: parsing, validation, overrides, and the files read beside each model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnmem.memory_report import check_memory_report, read_memory_report
from rnnmem.model import UNITS
from rnnmem.refs import ModelRefError
from rnnmem.settings import (
    DEFAULT_SETTINGS_FILE,
    SETTINGS_ENV,
    SettingsError,
    check_evaluation,
    check_override,
    default_settings,
    load_settings,
    read_evaluation,
    read_training,
    settings_path,
)

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text)
    return path


def test_repository_models_toml_is_valid_and_serves_every_unit():
    assert DEFAULT_SETTINGS_FILE == REPO / "models.toml"
    settings = load_settings(DEFAULT_SETTINGS_FILE)
    assert set(settings.models) == set(UNITS)
    assert settings.default_units and set(settings.default_units) <= set(UNITS)
    assert "local" not in settings.overrides  # a public link must not open server paths


def test_env_variable_points_at_another_file(tmp_path):
    path = write(tmp_path, '[models]\ngru = "hf://someone/rnnmem-gru@v1"\n')
    assert settings_path({SETTINGS_ENV: str(path)}) == path
    settings = load_settings(environ={SETTINGS_ENV: str(path)})
    assert settings.models["gru"] == "hf://someone/rnnmem-gru@v1"
    assert settings.models["lstm"] == "lstm"  # units left out keep their shipped default
    assert settings.path == path


def test_missing_default_file_means_defaults_but_missing_named_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr("rnnmem.settings.DEFAULT_SETTINGS_FILE", tmp_path / "absent.toml")
    assert load_settings(environ={}) == default_settings()
    with pytest.raises(SettingsError, match="not found"):
        load_settings(environ={SETTINGS_ENV: str(tmp_path / "nope.toml")})


def test_local_directories_resolve_relative_to_the_file(tmp_path):
    (tmp_path / "runs" / "gru").mkdir(parents=True)
    settings = load_settings(write(tmp_path, '[models]\ngru = "./runs/gru"\n'))
    assert settings.models["gru"] == str((tmp_path / "runs" / "gru").resolve())


@pytest.mark.parametrize("text, message", [
    ('[models]\ngru = "hf://bad id"\n', "not a Hugging Face repository id"),
    ('[models]\ntransformer = "gru"\n', "unknown unit 'transformer'"),
    ('[models]\ngru = 3\n', "must be a non-empty string"),
    ('[models]\ngru = ""\n', "must be a non-empty string"),
    ('[modles]\ngru = "gru"\n', "unknown section 'modles'"),
    ('[app]\nunits = ["gru", "bert"]\n', "unknown unit 'bert'"),
    ('[app]\nunits = []\n', "non-empty list"),
    ('[app]\noverrides = ["anything"]\n', "unknown kind 'anything'"),
    ('[app]\ncolour = "red"\n', "unknown key 'colour'"),
    ('[models\n', "not valid TOML"),
])
def test_invalid_settings_fail_with_one_line_naming_the_file(tmp_path, text, message):
    with pytest.raises(SettingsError, match=message) as info:
        load_settings(write(tmp_path, text))
    assert "\n" not in str(info.value)
    assert "models.toml" in str(info.value)


def test_default_units_keep_page_order(tmp_path):
    settings = load_settings(write(tmp_path, '[app]\nunits = ["nlstm", "gru"]\n'))
    assert settings.default_units == ("gru", "nlstm")


def test_overrides_limit_what_a_link_can_name(tmp_path):
    settings = default_settings()
    assert check_override("lstm", settings) == "lstm"
    assert check_override("hf://someone/model@abc", settings) == "hf://someone/model@abc"
    with pytest.raises(ModelRefError, match="local model directory cannot be chosen here"):
        check_override(str(tmp_path), settings)
    with pytest.raises(ModelRefError):
        check_override("<img src=x onerror=alert(1)>", settings)
    shipped_only = load_settings(write(tmp_path, '[app]\noverrides = ["shipped"]\n'))
    with pytest.raises(ModelRefError, match="Hub model cannot be chosen"):
        check_override("hf://someone/model", shipped_only)


def test_a_loaded_models_files_are_where_it_came_from(trained_model_dir):
    from rnnmem.refs import load

    assert load("gru").files_dir == REPO / "rnnmem" / "weights" / "gru"
    rows, summary = read_training(load(str(trained_model_dir)).files_dir)
    assert rows and rows[-1]["chars_seen"] == summary["characters_seen"]


def evaluation(top1=(0.1, 0.4), counts=(10, 8)) -> dict:
    return {"unit": "gru", "chars": 18, "cross_entropy": 3.2, "split": "test", "corpus": "toy",
            "accuracy_by_chars_seen": {"top1": list(top1), "top2": [0.2, 0.5], "top3": [0.3, 0.6]},
            "counts": list(counts)}


def test_read_evaluation_round_trip_and_absence(tmp_path):
    assert read_evaluation(tmp_path, "test") is None
    assert read_evaluation(None, "test") is None
    (tmp_path / "evaluation_test.json").write_text(json.dumps(evaluation()))
    assert read_evaluation(tmp_path, "test")["accuracy_by_chars_seen"]["top1"] == [0.1, 0.4]
    assert read_evaluation(tmp_path, "valid") is None
    with pytest.raises(ValueError, match="unknown split"):
        read_evaluation(tmp_path, "train")


@pytest.mark.parametrize("broken, message", [
    ({"accuracy_by_chars_seen": {"top1": [0.1]}}, "top1, top2 and top3"),
    (evaluation(top1=(0.1, 1.5)), "between 0 and 1"),
    (evaluation(top1=(0.1,)), "same length"),
    (evaluation(counts=(1, -2)), "non-negative"),
    ([1, 2], "not a JSON object"),
    ({**evaluation(), "chars": "lots"}, "chars must be"),  # the Accuracy page formats both with :, and :.3f
    ({**evaluation(), "chars": -1}, "chars must be"),
    ({**evaluation(), "cross_entropy": None}, "cross_entropy must be"),
    ({key: value for key, value in evaluation().items() if key not in ("chars", "cross_entropy")}, None),
    ({**evaluation(), "cross_entropy": "2.1"}, "cross_entropy must be"),
    ({**evaluation(), "cross_entropy": float("nan")}, "cross_entropy must be"),
])
def test_broken_evaluations_are_rejected(broken, message):
    if message is None:  # left out is allowed: the page says so
        assert check_evaluation(broken) is broken
        return
    with pytest.raises(SettingsError, match=message):
        check_evaluation(broken)


def test_unreadable_evaluation_file(tmp_path):
    (tmp_path / "evaluation_test.json").write_text("{not json")
    with pytest.raises(SettingsError, match="cannot be read"):
        read_evaluation(tmp_path, "test")


def test_read_training_log_and_summary(tmp_path):
    assert read_training(tmp_path) == ([], None)
    (tmp_path / "training_log.csv").write_text(
        "step,chars_seen,seconds,train_loss,valid_loss\n10,1000,5.0,6.1,6.0\n20,2000,10.0,5.5,5.6\n")
    (tmp_path / "training_summary.json").write_text(json.dumps({"steps": 20}))
    rows, summary = read_training(tmp_path)
    assert [row["step"] for row in rows] == [10.0, 20.0]
    assert rows[1]["valid_loss"] == 5.6
    assert summary == {"steps": 20}


def test_a_shipped_set_serves_only_the_units_left_on_their_shipped_default(tmp_path):
    path = write(tmp_path, '[models]\ngru = "hf://someone/rnnmem-gru@v1"\nnlstm = "article/nlstm"\n')
    settings = load_settings(path)
    assert [settings.reference(unit, "article/") for unit in UNITS] == [
        "article/rnn", "hf://someone/rnnmem-gru@v1", "article/lstm", "article/nlstm"]
    assert [settings.reference(unit) for unit in UNITS] == ["rnn", "hf://someone/rnnmem-gru@v1", "lstm",
                                                            "article/nlstm"]


def _memory_report() -> dict:
    figure = {"mean": 0.4, "low": 0.3, "high": 0.5}
    no_lift = {"mean": None, "low": None, "high": None}
    band = {"moments": 2, "sequences": 2, "share": figure, "expected": figure, "lift": no_lift}
    return {"held_out": {"split": "test", "positions": 1999, "sequences": 11, "seed": 0, "context_share": figure,
                         "d50": figure, "d90": figure},
            "recall": {"split": "test", "max_chars": 300000, "moments": 5, "characters": 300000, "controls": 10,
                       "sequences": 4, "seed": 0,
                       "share": figure, "expected": figure, "lift": figure, "by_distance": {"under 50": band}}}


def _broken(change) -> dict:
    report = _memory_report()
    change(report)
    return report


@pytest.mark.parametrize("broken, message", [
    (_memory_report(), None),
    (_broken(lambda r: r.pop("recall")), None),  # measured before recall was: the page shows what there is
    (_broken(lambda r: r.update(recall={"split": "test", "max_chars": 9, "moments": 0})), None),  # nothing to recall
    ([], "no held_out figures"),
    (_broken(lambda r: r["held_out"].update(positions="many")), "held_out: positions must be"),
    (_broken(lambda r: r["held_out"].update(split="train")), "split must be one of"),
    (_broken(lambda r: r["held_out"].update(d90={"mean": 1.0})), "held_out d90: mean, low and high"),
    (_broken(lambda r: r["held_out"].update(d50={"mean": None, "low": None, "high": None})), "held_out d50"),
    (_broken(lambda r: r["held_out"].update(context_share={"mean": float("inf"), "low": 0, "high": 1})),
     "context_share"),
    (_broken(lambda r: r.update(recall=[1])), "recall must be an object"),
    (_broken(lambda r: r["recall"].pop("controls")), "recall: controls must be"),
    (_broken(lambda r: r["recall"].update(by_distance=None)), "by_distance must map"),
    (_broken(lambda r: r["recall"]["by_distance"].update({"x" * 40: {}})), "by_distance must map"),
    (_broken(lambda r: r["recall"]["by_distance"]["under 50"].update(moments=True)), "under 50: moments must be"),
    (_broken(lambda r: r["recall"].update(lift="1.1")), "recall all lift must be an object"),
    (_broken(lambda r: r["recall"].update(share={"mean": "1", "low": 0, "high": 1})), "recall all share: mean"),
    (_broken(lambda r: r["recall"].pop("split")), "recall: split must be"),  # the page names the split
    (_broken(lambda r: r["recall"]["by_distance"].update({"all": r["recall"]["by_distance"]["under 50"]})),
     "by_distance must map bands among under 50, 50–99, 100\\+"),  # one row per band: "all" is the whole
    (_broken(lambda r: r["recall"].update(share={"mean": 1.5, "low": 0, "high": 1})), "numbers from 0 to 1"),
    (_broken(lambda r: r["recall"].update(lift={"mean": -1.0, "low": 0, "high": 1})), "lift: mean, low and high"),
    (_broken(lambda r: r["held_out"].update(d90={"mean": 1e308, "low": 0, "high": 1e308})), "numbers from 0 to 1"),
])
def test_broken_memory_reports_are_rejected(broken, message):
    if message is None:
        assert check_memory_report(broken) is broken
        return
    with pytest.raises(SettingsError, match=message):
        check_memory_report(broken)


def test_read_memory_report_round_trip_absence_and_unreadable(tmp_path):
    assert read_memory_report(None) is None and read_memory_report(tmp_path) is None
    (tmp_path / "memory.json").write_text(json.dumps(_memory_report()))
    assert read_memory_report(tmp_path) == _memory_report()
    (tmp_path / "memory.json").write_text("{not json")
    with pytest.raises(SettingsError, match="memory.json cannot be read"):
        read_memory_report(tmp_path)
