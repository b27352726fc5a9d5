"""Sharded safetensors wherever models load (directory, shipped name, Hub), the packing for the GPU
machine's way back, the article run's plan, and scripts.train_article_gpu end to end on the CPU: a full
run, a run cut short by its time budget, and one stopped by SIGTERM, each leaving loadable models."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnmem import refs
from rnnmem.article_collect import collect
from rnnmem.article_run import (HIT_DEADLINE, REACHED_TARGET, SIGNALLED, STILL_TRAINING, USED_ITS_TIME,
                                ArticleRunConfig, RecurrentStack, TrainStep, check_same_function,
                                estimated_pack_bytes, peak_learning_rate, plan_units, run)
from rnnmem.model import WEIGHTS_FILE, WEIGHTS_INDEX_FILE, AutocompleteRNN, ModelFilesError
from rnnmem.packing import (MAX_FILE_BYTES, PART_BYTES, PackError, check_return_limits, pack_directory,
                            parts_in, unpack_parts)
from rnnmem.refs import load_model

from .conftest import tiny_config
from .test_hub import (FakeHub, assert_cache_clean, assert_loaded, assert_one_line_failure, digest, hub_env,
                       load, run_cli, run_driver)

REPO_ROOT = Path(__file__).resolve().parents[1]
WORDS = ["<eos>", "<unknown>", "the", "cat", "sat"]
RETURNABLE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # what the GPU machine sends back


def tiny(unit: str = "lstm", seed: int = 0) -> AutocompleteRNN:
    torch.manual_seed(seed)
    return AutocompleteRNN(tiny_config(unit, WORDS)).eval()


def sharded(directory: Path, model: AutocompleteRNN, **kwargs) -> list[Path]:
    """Save ``model`` in shards of at most 2 kB (a tiny LSTM makes 4); returns the shard paths."""
    model.save(directory, max_shard_size=2_000, **kwargs)
    return sorted(directory.glob("model-*-of-*.safetensors"))


def outputs(model: AutocompleteRNN) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([[1, 21, 9, 2, 4, 1, 22, 3]]))[0]


# ---- sharded model directories ---------------------------------------------------------------------------

def test_sharded_round_trip_by_path_shipped_name_and_mixin(tmp_path, monkeypatch):
    model = tiny("lstm")
    shards = sharded(tmp_path / "weights" / "article" / "lstm", model)
    directory = shards[0].parent
    index = json.loads((directory / WEIGHTS_INDEX_FILE).read_text())
    assert len(shards) >= 2 and not (directory / WEIGHTS_FILE).exists()
    assert set(index["weight_map"]) == set(model.state_dict())
    assert set(index["weight_map"].values()) == {p.name for p in shards}

    assert torch.equal(outputs(load_model(str(directory))), outputs(model))
    assert torch.equal(outputs(AutocompleteRNN.from_pretrained(str(directory))), outputs(model))
    monkeypatch.setattr(refs, "WEIGHTS_ROOT", tmp_path / "weights")
    shipped = refs.load("article/lstm")
    assert str(shipped.ref) == "article/lstm" and torch.equal(outputs(shipped.model), outputs(model))

    # float16 shards load as float32; re-saving as one file leaves no stale index or shard behind
    sharded(directory, model, dtype=torch.float16)
    half = load_model(str(directory))
    assert all(p.dtype == torch.float32 for p in half.parameters())
    assert torch.allclose(outputs(half), outputs(model), atol=1e-2)
    model.save(directory)
    assert sorted(p.name for p in directory.glob("model*")) == [WEIGHTS_FILE]
    assert torch.equal(outputs(load_model(str(directory))), outputs(model))


def _broken_copy(source: Path, target: Path, edit) -> Path:
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    edit(target)
    return target


def _edit_index(edit):
    def apply(directory: Path) -> None:
        index = json.loads((directory / WEIGHTS_INDEX_FILE).read_text())
        edit(index["weight_map"])
        (directory / WEIGHTS_INDEX_FILE).write_text(json.dumps(index))
    return apply


def test_sharded_directories_fail_strictly_with_one_line(tmp_path):
    model = tiny("lstm", seed=1)
    shards = sharded(tmp_path / "good", model)
    good, second = tmp_path / "good", shards[1].name
    some_tensor = next(name for name, shard in json.loads((good / WEIGHTS_INDEX_FILE).read_text())[
        "weight_map"].items() if shard == second)
    cases = {
        "missing-shard": (lambda d: (d / second).unlink(), f"shard {second} is missing"),
        "truncated-shard": (lambda d: (d / second).write_bytes((good / second).read_bytes()[:50]),
                            f"cannot read weights {second}"),
        "wrong-shard": (_edit_index(lambda m: m.update({some_tensor: shards[0].name})), "do not match config.json"),
        "unlisted": (_edit_index(lambda m: m.pop(some_tensor)), "do not match config.json"),
        "escape": (_edit_index(lambda m: m.update({some_tensor: "../elsewhere.safetensors"})), "beside the index"),
        "pickle": (_edit_index(lambda m: m.update({some_tensor: "pytorch_model.bin"})), "not a .safetensors file"),
        "not-json": (lambda d: (d / WEIGHTS_INDEX_FILE).write_text("{oops"), "cannot be read as JSON"),
        "no-map": (lambda d: (d / WEIGHTS_INDEX_FILE).write_text("{}"), "has no weight_map"),
        "both": (lambda d: (d / WEIGHTS_FILE).write_bytes(b""), "holds both"),
        "none": (lambda d: (d / WEIGHTS_INDEX_FILE).unlink(), "model.safetensors is missing"),
    }
    for name, (edit, message) in cases.items():
        directory = _broken_copy(good, tmp_path / name, edit)
        with pytest.raises(ModelFilesError) as error:
            load_model(str(directory))
        assert message in str(error.value) and "\n" not in str(error.value), (name, str(error.value))


# ---- the Hub ---------------------------------------------------------------------------------------------

@pytest.fixture
def hub():
    with FakeHub() as server:
        yield server


def test_hub_loads_a_sharded_repository_checks_every_shard_and_publishes_one(hub, tmp_path):
    model = tiny("lstm", seed=2)
    shards = sharded(tmp_path / "m", model)
    sha = hub.commit_dir("alice/sharded", tmp_path / "m")
    hub.commit_dir("alice/broken", tmp_path / "m")
    hub.tamper[f"alice/broken/{shards[-1].name}"] = lambda data: data[:-8] + b"\xff" * 8
    hub.commit("alice/gap", {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir() if p != shards[0]})
    env = hub_env(hub, tmp_path, HF_TOKEN=hub.token)

    results, _ = run_driver(env, [load("hf://alice/sharded"), load("hf://alice/broken"), load("hf://alice/gap")])
    assert_loaded(results[0], model, sha)
    assert_one_line_failure(results[1], "hf://alice/broken", shards[-1].name, "corrupted", "removed it from the cache")
    assert_one_line_failure(results[2], "hf://alice/gap", "a file is missing")
    assert not [p for p in (tmp_path / "hf").rglob(shards[-1].name) if "broken" in str(p)]  # purged
    assert_cache_clean(tmp_path / "hf")

    # A cached sharded commit loads offline, from the shards in the cache.
    results, _ = run_driver(hub_env(hub, tmp_path, HF_HUB_OFFLINE="1"),
                            [load("hf://alice/sharded"), load(f"hf://alice/sharded@{sha}")])
    assert_loaded(results[0], model, sha)
    assert_loaded(results[1], model, sha)

    # The Hub mixin's own loader (AutocompleteRNN.from_pretrained) takes the sharded layout too.
    code = ("import json; from rnnmem.model import AutocompleteRNN; from tests.test_hub import digest; "
            "print(json.dumps(digest(AutocompleteRNN.from_pretrained('alice/sharded'))))")
    mixin = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                           timeout=180)
    assert mixin.returncode == 0, mixin.stderr[-2000:]
    assert json.loads(mixin.stdout.strip().splitlines()[-1]) == list(digest(model))

    proc = run_cli(env, "publish", str(tmp_path / "m"), "--repo-id", "bob/sharded")
    assert proc.returncode == 0, proc.stderr
    uploaded = hub.files("bob/sharded", proc.stdout.strip())
    assert {WEIGHTS_INDEX_FILE, *(p.name for p in shards)} <= set(uploaded) and WEIGHTS_FILE not in uploaded
    results, _ = run_driver(env, [load("hf://bob/sharded")])
    assert_loaded(results[0], model, proc.stdout.strip())


def test_publishing_the_other_layout_replaces_the_old_weights(hub, tmp_path):
    """A repository holding one layout gets the other: the old weights (and an old evaluation) go in the
    same commit, so a load takes the new model; a file publish never writes stays."""
    env = hub_env(hub, tmp_path, HF_TOKEN=hub.token)
    single = tiny("lstm", seed=3)
    single.save(tmp_path / "v1")
    (tmp_path / "v1" / "evaluation_old.json").write_text("{}")
    assert run_cli(env, "publish", str(tmp_path / "v1"), "--repo-id", "bob/switch").returncode == 0
    hub.commit("bob/switch", {"NOTES.md": b"kept"})
    split = tiny("lstm", seed=4)
    shards = sharded(tmp_path / "v2", split)
    proc = run_cli(env, "publish", str(tmp_path / "v2"), "--repo-id", "bob/switch")
    assert proc.returncode == 0, proc.stderr
    files = set(hub.files("bob/switch", proc.stdout.strip()))
    assert WEIGHTS_FILE not in files and "evaluation_old.json" not in files and "NOTES.md" in files
    assert {WEIGHTS_INDEX_FILE, *(p.name for p in shards)} <= files
    back = tiny("lstm", seed=5)  # and back to one file: the index and every shard go
    back.save(tmp_path / "v3")
    proc3 = run_cli(env, "publish", str(tmp_path / "v3"), "--repo-id", "bob/switch")
    assert proc3.returncode == 0, proc3.stderr
    files = set(hub.files("bob/switch", proc3.stdout.strip()))
    assert WEIGHTS_FILE in files and not [f for f in files if f.startswith("model-") or f == WEIGHTS_INDEX_FILE]
    results, _ = run_driver(env, [load(f"hf://bob/switch@{proc.stdout.strip()}"), load("hf://bob/switch")])
    assert_loaded(results[0], split, proc.stdout.strip())
    assert_loaded(results[1], back, proc3.stdout.strip())


def test_a_sharded_model_is_held_to_the_download_limits(hub, tmp_path):
    """Splitting the weights into shards does not get round the size limit, and their number is capped;
    both are refused before any shard is fetched."""
    model = tiny("lstm", seed=2)
    shards = sharded(tmp_path / "m", model)
    sha = hub.commit_dir("alice/split", tmp_path / "m")
    total = sum(p.stat().st_size for p in shards)
    results, _ = run_driver(hub_env(hub, tmp_path), [
        {"op": "limit", "name": "MAX_DOWNLOAD_BYTES", "value": total - 1},
        load("hf://alice/split"),
        {"op": "limit", "name": "MAX_DOWNLOAD_BYTES", "value": total},
        {"op": "limit", "name": "MAX_SHARDS", "value": len(shards) - 1},
        load("hf://alice/split"),
        {"op": "limit", "name": "MAX_SHARDS", "value": len(shards)},
        load("hf://alice/split"),
    ])
    assert max(p.stat().st_size for p in shards) < total - 1  # each shard alone is within the limit
    assert_one_line_failure(results[1], "hf://alice/split", f"the weight shards hold {total:,} bytes",
                            f"at most {total - 1:,} bytes of weights")
    assert_one_line_failure(results[4], "hf://alice/split", f"split into {len(shards)} shards", "at most")
    assert_loaded(results[6], model, sha)
    fetched = [path for method, path in hub.requests if method == "GET" and "/resolve/" in path]
    assert sum(1 for p in fetched if p.endswith(shards[0].name)) == 1  # only by the load that was allowed


# ---- packing for the way back ----------------------------------------------------------------------------

def test_packs_round_trip_and_a_torn_newer_generation_is_ignored(tmp_path):
    source = tmp_path / "gru"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(2500))
    (source / "config.json").write_text('{"unit": "gru"}')
    out = tmp_path / "out"
    first = pack_directory(source, out, "gru", part_bytes=1000)
    assert [p.name.split("-")[2] for p in first] == [f"{i}of{len(first)}" for i in range(1, len(first) + 1)]
    assert [p.stat().st_size for p in first[:-1]] == [1000] * (len(first) - 1) and first[-1].stat().st_size <= 1000
    assert all(RETURNABLE_NAME.match(p.name) for p in first)
    assert unpack_parts(out, tmp_path / "a") == {"gru": tmp_path / "a" / "gru"}
    assert (tmp_path / "a" / "gru" / "weights.bin").read_bytes() == (source / "weights.bin").read_bytes()

    (source / "config.json").write_text('{"unit": "gru", "v": 2}')
    second = pack_directory(source, out, "gru", part_bytes=1000)
    assert sorted(out.iterdir()) == sorted(second)  # the first generation is gone once the second is whole
    # A run that dies while writing a third generation leaves some of its parts: the second still unpacks.
    (source / "config.json").write_text('{"unit": "gru", "v": 3}')
    written = []

    def dies_on_the_third_part(self, data):
        written.append(self)
        if len(written) == 3:
            raise KeyboardInterrupt  # the process is killed here
        return original(self, data)

    original = Path.write_bytes
    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(Path, "write_bytes", dies_on_the_third_part)
        pack_directory(source, out, "gru", part_bytes=1000)
    assert {p.name.split("-")[1] for p in out.iterdir()} == {"g002", "g003"}
    unpack_parts(out, tmp_path / "b")
    assert json.loads((tmp_path / "b" / "gru" / "config.json").read_text()) == {"unit": "gru", "v": 2}
    # A part whose bytes do not match its checksum makes its generation unusable.
    second[1].write_bytes(b"x" + second[1].read_bytes()[1:])
    assert unpack_parts(out, tmp_path / "c") == {}


def test_a_pack_with_anything_but_plain_files_is_refused(tmp_path):
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("gru/../../evil.txt")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"evil"))
    import hashlib

    blob = buffer.getvalue()
    (tmp_path / f"gru-g001-1of1-{hashlib.sha256(blob).hexdigest()[:16]}.part").write_bytes(blob)
    with pytest.raises(PackError, match="unexpected entry"):
        unpack_parts(tmp_path, tmp_path / "dest")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_two_article_units_come_back_in_one_call_and_three_do_not():
    # 2x600 in float16: parameters x 2 bytes, plus 20 bytes a word of config.json and 100 kB for the rest.
    sizes = estimated_pack_bytes(ArticleRunConfig(units=("gru", "lstm", "rnn", "nlstm")))
    params = {"gru": 14_191_986, "lstm": 15_634_386, "rnn": 11_307_186, "nlstm": 15_629_586}
    assert sizes == {unit: 2 * n + 20 * 16_386 + 100_000 for unit, n in params.items()}
    assert max(sizes.values()) <= 2 * PART_BYTES and PART_BYTES <= MAX_FILE_BYTES
    for units in (("gru", "lstm"), ("rnn", "nlstm")):
        check_return_limits({unit: sizes[unit] for unit in units})
    with pytest.raises(ValueError, match="cannot come back in one call"):
        check_return_limits({unit: sizes[unit] for unit in ("gru", "lstm", "rnn")})
    with pytest.raises(ValueError, match="limit per file"):
        check_return_limits({"gru": 10}, part_bytes=MAX_FILE_BYTES + 1)


# ---- the plan --------------------------------------------------------------------------------------------

def test_plan_shares_the_time_by_need():
    rates = {"gru": {(256, False): 1e6, (1024, False): 2e6}, "lstm": {(256, False): 0.5e6, (1024, False): 1e6},
             "nlstm": {(256, False): None}}
    # 100M characters: at their fastest the GRU needs 50 s, the LSTM 100 s. With 290 s, 140 spare: the GRU's
    # share is 50 + 140/3 = 96.7 s (batch 256 needs 100 s: too slow), the LSTM's 193.3 s (batch 256 needs 200).
    plans = plan_units(rates, 100_000_000, 290)
    assert set(plans) == {"gru", "lstm"}  # every probe of the Nested LSTM failed
    assert (plans["gru"].batch_size, plans["gru"].chars) == (1024, 100_000_000)
    assert plans["gru"].seconds == pytest.approx(50 + 140 / 3)  # its whole share: slack for a slower run
    assert (plans["lstm"].batch_size, plans["lstm"].seconds) == (1024, pytest.approx(100 + 280 / 3))
    # With 310 s, shares of 103.3 and 206.7 s: batch 256 fits both (100 and 200 s), each keeps its share
    plans = plan_units(rates, 100_000_000, 310)
    assert [p.batch_size for p in plans.values()] == [256, 256]
    assert [p.seconds for p in plans.values()] == pytest.approx([310 / 3, 620 / 3])
    # With 75 s, half of what they need: each gets half the target, at its fastest batch size.
    plans = plan_units(rates, 100_000_000, 75)
    assert [(p.batch_size, p.seconds, p.chars) for p in plans.values()] == [(1024, 25, 50_000_000),
                                                                           (1024, 50, 50_000_000)]
    assert plan_units(rates, 100_000_000, 0) == {}
    config = ArticleRunConfig()
    assert [peak_learning_rate(config, b) for b in (64, 256, 1024, 4096)] == [1e-3, 2e-3, 4e-3, 4e-3]


@pytest.mark.parametrize("unit", ["rnn", "gru", "lstm", "nlstm"])
def test_the_stack_a_cuda_graph_would_capture_is_the_models_recurrent_stack(unit):
    model = tiny(unit, seed=3)
    x = torch.randn(2, 6, model.config.embedding_size)
    stack = RecurrentStack(model)
    assert torch.equal(stack(x), model.recurrent_from_embeddings(x))
    recurrent = {name for name, _ in model.named_parameters() if not name.startswith(("embedding", "output"))}
    assert len(list(stack.parameters())) == len(recurrent)
    # What a capture is checked with before use: the same function passes, a slightly different one fails.
    sample = torch.randn(2, 6, model.config.embedding_size)
    check_same_function(stack, model.recurrent_from_embeddings, sample)
    with pytest.raises(RuntimeError, match="differ from the eager ones"):
        check_same_function(lambda v: stack(v) * 1.01, model.recurrent_from_embeddings, sample)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_graphed_nested_lstm_step_trains_exactly_like_the_eager_one():
    config = ArticleRunConfig(units=("nlstm",), hidden_size=32, seq_len=16, precision="fp32")
    chars = torch.randint(1, 28, (8, 16), device="cuda")
    targets = torch.randint(2, len(WORDS), (8, 16), device="cuda")
    models = []
    for _ in range(2):
        torch.manual_seed(5)
        models.append(AutocompleteRNN(tiny_config("nlstm", WORDS, hidden=32)).cuda().train())
    eager = TrainStep(models[0], config, 8, "cuda")
    graphed = TrainStep(models[1], config, 8, "cuda", graphs=True)
    assert graphed.fixed_shape == (8, 16)
    for _ in range(5):
        assert torch.allclose(eager(chars, targets, 1e-2), graphed(chars, targets, 1e-2), rtol=1e-4)
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.allclose(a, b, atol=1e-5)


# ---- the run, on the CPU ---------------------------------------------------------------------------------

TINY_RUN = ["--hidden", "12", "--vocab-size", "20", "--seq-len", "40", "--batch-sizes", "8", "16",
            "--reserve", "4", "--safety", "1", "--valid-chars", "2000", "--eval-chars", "3000",
            "--max-shard-bytes", "3000", "--probe-steps", "2", "--device", "cpu", "--threads", "1"]
# Runs the script with Streamlit and Altair unimportable: the GPU machine has neither.
WITHOUT_APP_PACKAGES = ("import runpy, sys; sys.modules['streamlit'] = None; sys.modules['altair'] = None; "
                        "sys.argv[0] = 'train_article_gpu'; runpy.run_module('scripts.train_article_gpu', "
                        "run_name='__main__')")


def script(*args: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", WITHOUT_APP_PACKAGES, *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def returned_files(out: Path) -> list[Path]:
    files = sorted(out.iterdir())
    assert len(files) <= 8 and all(p.is_file() and RETURNABLE_NAME.match(p.name) for p in files), files
    assert all(p.stat().st_size <= MAX_FILE_BYTES for p in files)
    return files


@pytest.mark.slow
def test_gpu_script_end_to_end_on_cpu_then_collect(tmp_path, toy_corpus):
    out = tmp_path / "out"
    # A target (half an epoch, ~10k characters) that even a loaded machine reaches well within the budget.
    proc = script("--corpus", str(toy_corpus), "--out", str(out), "--units", "gru", "nlstm", "--epochs", "0.5",
                  "--time-budget", "120", "--valid-every", "1", *TINY_RUN)
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log[-3000:]
    names = [p.name for p in returned_files(out)]
    assert "run.log" in names and {n.split("-")[0] for n in names if n.endswith(".part")} == {"gru", "nlstm"}, log
    assert f"gru: {REACHED_TARGET}" in log and f"nlstm: {REACHED_TARGET}" in log, log
    assert (out / "run.log").read_text().splitlines()[-1] in log  # the log file has what was printed

    dest = tmp_path / "article"
    collected = collect([out], dest, max_shard_size=3000, corpus=str(toy_corpus), memory_positions=60,
                        log=lambda m: None)
    assert sorted(collected) == ["gru", "nlstm"]
    for unit, directory in collected.items():
        model = load_model(str(directory))
        assert model.unit == unit and model.config.hidden_size == 12
        assert (directory / WEIGHTS_INDEX_FILE).is_file()  # sharded, as shipped
        summary = json.loads((directory / "training_summary.json").read_text())
        assert summary["stopped"] == REACHED_TARGET and summary["gpu"] == "cpu"
        card = (directory / "README.md").read_text()
        assert f"{summary['characters_seen']:,}" in card and "wall seconds" in card
        for split in ("test", "valid", "sample"):
            assert json.loads((directory / f"evaluation_{split}.json").read_text())["chars"] > 0
        # measured as the default models are: on the test split (60 positions) and the walkthrough paragraph
        memory = json.loads((directory / "memory.json").read_text())
        # the sample ends before the word that would pass the 60 asked for (rnnmem.memory.sample_texts)
        assert 48 <= memory["held_out"]["positions"] <= 60 and memory["held_out"]["split"] == "test"
        assert len(memory["moments"]) == 3 and memory["walkthrough"]["article"]["d90"] > 0
        assert f"{memory['held_out']['d90']['mean']:.3f}" in card


@pytest.mark.slow
def test_run_cut_short_by_its_time_budget_keeps_its_best_weights(tmp_path, toy_corpus):
    # A target of 1000 epochs cannot be reached in the budget: time ends the unit (its schedule planned to
    # end with the time, or else its deadline), and its best weights are evaluated and packed as usual.
    config = ArticleRunConfig(units=("lstm",), hidden_size=12, corpus=str(toy_corpus), vocab_words=20, seq_len=40,
                              epochs=1000, time_budget=90, reserve_seconds=4, safety_seconds=1, probe_steps=2,
                              batch_sizes=(8,), valid_chars=2000, eval_chars=3000, valid_every_seconds=1,
                              out=str(tmp_path / "out"), device="cpu")
    log: list[str] = []
    results = run(config, log=log.append)  # a budget a loaded 2-core machine still fits the probe into
    assert "lstm" in results, "\n".join(log)
    assert results["lstm"].stopped in (USED_ITS_TIME, HIT_DEADLINE)
    returned_files(tmp_path / "out")
    directory = unpack_parts(tmp_path / "out", tmp_path / "unpacked")["lstm"]
    summary = json.loads((directory / "training_summary.json").read_text())
    assert summary["stopped"] == results["lstm"].stopped
    assert 0 < summary["characters_seen"] < summary["target_characters"]
    assert load_model(str(directory)).unit == "lstm" and (directory / "evaluation_test.json").is_file()


@pytest.mark.slow
def test_sigterm_mid_run_leaves_loadable_best_weights(tmp_path, toy_corpus):
    out = tmp_path / "out"
    proc = script("--corpus", str(toy_corpus), "--out", str(out), "--units", "gru", "--epochs", "1000",
                  "--time-budget", "300", "--valid-every", "0.5", *TINY_RUN)
    try:
        deadline = time.monotonic() + 300
        while not (out.is_dir() and parts_in(out)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # a few more validations, maybe mid-pack
        proc.send_signal(signal.SIGTERM)
        log, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, log[-3000:]
    assert f"gru: {SIGNALLED}" in log
    returned_files(out)
    directory = unpack_parts(out, tmp_path / "unpacked")["gru"]
    summary = json.loads((directory / "training_summary.json").read_text())
    assert summary["stopped"] == STILL_TRAINING  # honest about what the weights are
    assert load_model(str(directory)).unit == "gru"
