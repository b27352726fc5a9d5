"""The CLI end to end, in subprocesses, as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnnmem.analysis import connectivity, connectivity_matrix
from rnnmem.refs import load_model


def run_cli(*args, check=True):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "rnnmem", *args], capture_output=True, text=True, env=env,
                          timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_suggest_json(trained_model_dir):
    out = json.loads(run_cli("suggest", str(trained_model_dir), "The cat s", "-k", "2", "--json").stdout)
    assert out["text"] == " the cat s" and out["prefix"] == "s" and out["unit"] == "gru"
    assert [s["word"] for s in out["suggestions"]][0] == "sat" and len(out["suggestions"]) == 2
    text = run_cli("suggest", str(trained_model_dir), "the cat s").stdout
    assert "sat" in text


def test_connectivity_json_position_and_matrix(trained_model_dir):
    model = load_model(str(trained_model_dir))
    row = json.loads(run_cli("connectivity", str(trained_model_dir), "the cat sat", "--position", "6",
                             "--json").stdout)
    np.testing.assert_allclose(row["connectivity"], connectivity(model, "the cat sat", 6), rtol=1e-5)
    matrix = json.loads(run_cli("connectivity", str(trained_model_dir), "the cat sat", "--json").stdout)
    expected = connectivity_matrix(model, "the cat sat")
    np.testing.assert_allclose(matrix["connectivity"], expected.connectivity, rtol=1e-5)
    assert matrix["desired"] == expected.desired and len(matrix["top_words"][0]) == 3
    human = run_cli("connectivity", str(trained_model_dir), "the cat sat", "--position", "6").stdout
    assert "#" in human


def test_evaluate_json_on_text_file_and_corpus_split(trained_model_dir, toy_corpus, tmp_path):
    sample = tmp_path / "sample.txt"
    sample.write_text("The cat sat on a mat. The dog ran to big red house!")
    out = json.loads(run_cli("evaluate", str(trained_model_dir), "--text-file", str(sample), "--json").stdout)
    for key in ("unit", "chars", "cross_entropy", "accuracy_by_chars_seen", "counts"):
        assert key in out
    acc = out["accuracy_by_chars_seen"]
    assert len(acc["top1"]) == len(acc["top2"]) == len(acc["top3"]) == len(out["counts"])
    assert all(a <= b <= c for a, b, c in zip(acc["top1"], acc["top2"], acc["top3"]))
    assert sum(out["counts"]) == out["chars"]
    split = json.loads(run_cli("evaluate", str(trained_model_dir), "--corpus", str(toy_corpus), "--split", "valid",
                               "--max-chars", "3000", "--json").stdout)
    assert split["split"] == "valid" and 0 < split["chars"] <= 3000 + 40
    assert split["accuracy_by_chars_seen"]["top1"][3] > 0.5


@pytest.mark.parametrize("args, message", [
    (["suggest", "{model}", ""], "empty"),
    (["suggest", "{model}", "?!?"], "empty"),
    (["suggest", "{model}", "x" * 100_000], "limit"),
    (["connectivity", "{model}", "the cat", "--position", "99"], "out of range"),
    (["suggest", "no-such-model", "the"], "unknown model"),
    (["suggest", "{corrupt}", "the"], "missing"),
    (["suggest", "hf://bad", "the"], "repository id"),
    (["evaluate", "{model}", "--text-file", "/no/such/file"], "cannot read"),
    (["train", "--unit", "gru", "--corpus", "/no/such/corpus.txt", "--out", "{tmp}/run"], "not found"),
])
def test_bad_input_gets_one_line_and_nonzero_exit(trained_model_dir, tmp_path, args, message):
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text("{}")
    filled = [a.format(model=trained_model_dir, corrupt=tmp_path / "corrupt", tmp=tmp_path) for a in args]
    proc = run_cli(*filled, check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:") and message in lines[-1]
    assert "Traceback" not in proc.stderr
