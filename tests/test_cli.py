"""The CLI end to end, in subprocesses, as a user runs it."""

import json
import os
import subprocess
import sys

import xml.etree.ElementTree as ElementTree

import numpy as np
import pandas as pd
import pytest

from rnnmem.analysis import accuracy_by_chars_seen, connectivity, connectivity_matrix
from rnnmem.attribution_methods import attribution
from rnnmem.refs import load_model
from rnnmem.units import UNIT_NAMES


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


def test_connectivity_writes_svg_csv_and_json_files_of_any_method_and_target(trained_model_dir, tmp_path):
    """The row's chart as SVG (well-formed XML), its table as CSV and its JSON parse back to the library's
    numbers; without --position, the matrix as CSV and JSON."""
    model = load_model(str(trained_model_dir))
    svg, csv, out = tmp_path / "row.svg", tmp_path / "row.csv", tmp_path / "row.json"
    run_cli("connectivity", str(trained_model_dir), "the cat sat", "--position", "6", "--method",
            "integrated_gradients", "--target", "top-2", "--svg", str(svg), "--csv", str(csv), "--json", str(out))
    expected = attribution(model, "the cat sat", 6, "integrated_gradients", "top-2")
    drawn = [element.text for element in ElementTree.parse(svg).getroot().iter() if element.tag.endswith("text")]
    assert drawn[-2:] == ["|integrated gradients| / row maximum",  # the figure's own colour scale, and its title
                          f"{UNIT_NAMES[model.unit]} ({trained_model_dir}): integrated gradients of “{expected.word}” "
                          "at character 6, “a”"]
    row = json.loads(out.read_text())
    assert row["word"] == expected.word and row["method"] == "integrated_gradients" and row["n_steps"] >= 64
    np.testing.assert_allclose(row["values"], expected.values, rtol=1e-5, atol=1e-7)
    table = pd.read_csv(csv, keep_default_na=False)
    np.testing.assert_allclose(table["integrated gradients"], expected.values, rtol=1e-5, atol=1e-7)
    assert "".join(table["char"]) == " the cat sat"

    matrix_csv, matrix_json = tmp_path / "matrix.csv", tmp_path / "matrix.json"
    run_cli("connectivity", str(trained_model_dir), "the cat sat", "--csv", str(matrix_csv),
            "--json", str(matrix_json))
    whole = connectivity_matrix(model, "the cat sat")
    parsed = pd.read_csv(matrix_csv, keep_default_na=False)
    np.testing.assert_allclose(parsed[[str(i) for i in range(len(whole.text))]].to_numpy(), whole.connectivity, rtol=1e-5)
    np.testing.assert_allclose(json.loads(matrix_json.read_text())["connectivity"], whole.connectivity, rtol=1e-5)
    refused = run_cli("connectivity", str(trained_model_dir), "the cat", "--svg", str(svg), check=False)
    assert refused.returncode == 2 and "--svg needs --position" in refused.stderr


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
    assert split["split"] == "valid" and 0 < split["chars"] <= 3000
    assert split["accuracy_by_chars_seen"]["top1"][3] > 0.5
    broken = json.loads(run_cli("evaluate", str(trained_model_dir), "--text-file", str(sample), "--by", "length",
                                "--json").stdout)
    assert {key: broken[key] for key in out} == out  # the same figures, and the breakdown beside them
    bands = broken["breakdown"]["bands"]
    assert broken["breakdown"]["by"] == "length" and list(bands)[0] == "1–2 letters"
    assert sum(sum(band["counts"]) for band in bands.values()) == out["chars"]
    assert all(band["cross_entropy"] is None for band in bands.values())  # plain JSON: no NaN
    printed = run_cli("evaluate", str(trained_model_dir), "--text-file", str(sample), "--by", "repetition").stdout
    assert "top 13 (" in printed and "rarer, already read in its sequence (0 characters)" in printed
    printed = run_cli("evaluate", str(trained_model_dir), "--text-file", str(sample), "--by", "distance").stdout
    assert "top 13 (" in printed and "rarer, read 100+ characters back (0 characters)" in printed


TRAIN_ON_TEXT = ["train", "--unit", "gru", "--corpus", "{text}", "--out", "{tmp}/run"]


@pytest.mark.parametrize("args, message", [
    (["connectivity", "{model}", ""], "empty"),
    (["connectivity", "{model}", "?!?"], "empty"),
    (["suggest", "{model}", "x" * 100_000], "limit"),
    (["suggest", "x" * 256, "the cat"], "unknown model"),
    (["suggest", "{model}", "the cat", "-k", "inf"], "argument -k: invalid int value: 'inf'"),
    (["suggest", "{model}", "the cat", "-k", "0"], "k must be a whole number from 1 to 100"),
    (["evaluate", "{model}", "--text-file", "/dev/zero"], "larger than 256 MiB"),
    (["evaluate", "{model}", "--text-file", "/dev/zero", "--max-chars", "1000"], "only 0 characters of text"),
    (["evaluate", "{model}", "--text-file", "{text}", "--max-chars", "0"], "--max-chars: must be at least 1, not 0"),
    (["evaluate", "{model}", "--text-file", "{text}", "--max-chars", "-5"], "must be at least 1, not -5"),
    (["evaluate", "{model}", "--text-file", "{text}", "--batch-size", "0"], "--batch-size: must be at least 1"),
    (["evaluate", "{model}", "--text-file", "{text}", "--batch-size", "-3"], "must be at least 1, not -3"),
    (["evaluate", "{model}", "--text-file", "{tmp}"], "cannot read"),  # a directory
    (["connectivity", "{model}", "the cat", "--position", "99"], "out of range"),
    (["connectivity", "{model}", "the cat", "--position", "3", "--target", "zebra"], "not in the model's vocabulary"),
    (["connectivity", "{model}", "the cat", "--method", "grad_x_input"], "--method needs --position"),
    (["connectivity", "{model}", "the cat", "--position", "3", "--svg", "/no/such/dir/x.svg"], "cannot write"),
    (["suggest", "no-such-model", "the"], "unknown model"),
    (["suggest", "{corrupt}", "the"], "missing"),
    (["suggest", "hf://bad", "the"], "repository id"),
    (["evaluate", "{model}", "--text-file", "/no/such/file"], "cannot read"),
    (["train", "--unit", "gru", "--corpus", "/no/such/corpus.txt", "--out", "{tmp}/run"], "not found"),
    # settings no run can use: refused before the corpus is read (--valid-every 0 used to loop for ever)
    ([*TRAIN_ON_TEXT, "--valid-every", "0"],
     "valid_every_chars must be a whole number of at least 1, not 0"),
    ([*TRAIN_ON_TEXT, "--batch-size", "0"],
     "batch_size must be a whole number of at least 1, not 0"),
    ([*TRAIN_ON_TEXT, "--lr", "-1"],
     "learning_rate must be a finite number above 0, not -1.0"),
    ([*TRAIN_ON_TEXT, "--epochs", "nan"],
     "epochs must be a finite number above 0 and at most 1e+06, not nan"),
    ([*TRAIN_ON_TEXT, "--min-lr-ratio", "2"],
     "min_lr_ratio must be a finite number at least 0 and at most 1, not 2.0"),
    ([*TRAIN_ON_TEXT, "--repeat-weight", "0"],
     "repeat_weight must be a finite number above 0, not 0.0"),
    ([*TRAIN_ON_TEXT, "--threads", "-1"],
     "--threads must be at least 1, not -1"),
    ([*TRAIN_ON_TEXT, "--vocab-size", "70000"],  # word ids are stored in 16 bits: more would wrap round
     "vocab_words is at most 65,534 (word ids are stored in 16 bits), not 70,000"),
    # numpy refuses negative seeds with a bare ValueError
    (["memory", "{model}", "--text-file", "{text}", "--seed", "-1"], "--seed: must be at least 0, not -1"),
    (["evaluate", "{model}", "--corpus", "{text}", "--data-seed", "-2"], "--data-seed: must be at least 0, not -2"),
])
def test_bad_input_gets_one_line_and_nonzero_exit(trained_model_dir, tmp_path, args, message):
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text("{}")
    (tmp_path / "text.txt").write_text("the cat sat on a mat " * 20)
    filled = [a.format(model=trained_model_dir, corrupt=tmp_path / "corrupt", tmp=tmp_path,
                       text=tmp_path / "text.txt") for a in args]
    proc = run_cli(*filled, check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:") and message in lines[-1], proc.stderr
    assert [line for line in lines if "error" in line.lower()] == [lines[-1]]  # one line, no traceback
    assert proc.stdout == ""


def test_suggest_from_an_empty_context_answers(trained_model_dir):
    """An empty text is the context before the first word: the model answers from the leading space."""
    out = json.loads(run_cli("suggest", str(trained_model_dir), "?!", "--json").stdout)
    assert out["text"] == " " and out["prefix"] == "" and len(out["suggestions"]) == 3


def test_evaluate_max_chars_scores_the_start_of_a_long_file(trained_model_dir, tmp_path):
    """The file is read only as far as --max-chars needs, and the scores equal those of its start alone."""
    sentence = "The cat sat on a mat, and the dog ran to 2 big red houses. "
    long, short = tmp_path / "long.txt", tmp_path / "short.txt"
    long.write_text(sentence * 40_000)  # 2.4 MB
    short.write_text(sentence * 100)  # 6,000 characters
    scores = [json.loads(run_cli("evaluate", str(trained_model_dir), "--text-file", str(path), "--max-chars", "3000",
                                 "--json").stdout) for path in (long, short)]
    assert 0 < scores[0]["chars"] <= 3000  # characters scored: those whose word is in the vocabulary
    assert {k: v for k, v in scores[0].items() if k != "corpus"} == {k: v for k, v in scores[1].items() if k != "corpus"}


def test_max_chars_takes_exactly_that_many_characters_cutting_the_last_sequence():
    import numpy as np

    from rnnmem.held_out import take_chars

    sequences = [(np.arange(n), np.arange(n) + 100) for n in (5, 7, 6)]
    taken = list(take_chars(iter(sequences), 9))
    assert [len(c) for c, _ in taken] == [5, 4]  # the second cut to fit, the third not started
    assert taken[1][1].tolist() == [100, 101, 102, 103]  # its targets cut with it
    assert sum(len(c) for c, _ in take_chars(iter(sequences), None)) == 18
