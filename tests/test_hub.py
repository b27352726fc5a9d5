"""The Hugging Face Hub integration, against a stand-in Hub on 127.0.0.1 (tests/hub_server.py); no internet.

huggingface_hub reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE when it is imported, so every Hub scenario
runs in a subprocess with its own environment (a driver that loads references and prints JSON results),
against a server running in this process. Each test gets a fresh server and a fresh cache (HF_HOME).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hub_server import FakeHub  # noqa: E402

from rnnmem import refs  # noqa: E402
from rnnmem.hub import scrub  # noqa: E402
from rnnmem.refs import load_with_fallback  # noqa: E402
from rnnmem.model import AutocompleteRNN, ModelConfig  # noqa: E402
from rnnmem.modelcard import write_model_card  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
WORDS = ["<eos>", "<unknown>", "the", "cat", "sat"]
COMMIT = re.compile(r"^[0-9a-f]{40}$")
EVALUATION = {
    "corpus": "text8", "split": "test", "chars": 12345, "cross_entropy": 2.5,
    "accuracy_by_chars_seen": {"top1": [0.1, 0.3, 0.5, 0.7, 0.8], "top2": [0.2, 0.4, 0.6, 0.8, 0.9],
                               "top3": [0.3, 0.5, 0.7, 0.9, 0.95]},
}


def digest(model):
    """The weights' sha256 and the logits on a fixed input. Also runs inside the driver (its source is
    copied there), so both sides compute it the same way."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().contiguous().numpy().tobytes())
    with torch.no_grad():
        logits, _ = model(torch.tensor([[3, 21, 9, 2, 4, 3, 22]]))
    return h.hexdigest(), [float(x) for x in logits.flatten()]


# Runs in a subprocess: loads each action's reference and prints one JSON line of results.
DRIVER = inspect.getsource(digest) + r'''
import json, sys
from pathlib import Path
import rnnmem.hub
import rnnmem.refs
from rnnmem.hub import load_hub_model
from rnnmem.refs import load_with_fallback

def run(action):
    if action["op"] == "load":
        loaded = rnnmem.refs.load(action["ref"])
    elif action["op"] == "load_hub":
        loaded = load_hub_model(action["repo"], action.get("revision"), token=action.get("token"))
    elif action["op"] == "limit":  # lower one of rnnmem.hub's limits for the actions after it
        setattr(rnnmem.hub, action["name"], action["value"])
        return {"ok": True}
    elif action["op"] == "fallback":
        rnnmem.refs.WEIGHTS_ROOT = Path(action["weights_root"])
        loaded = load_with_fallback(action["ref"], action["unit"])
    weights, outputs = digest(loaded.model)
    return {"ok": True, "revision": loaded.revision, "source": str(loaded.ref), "digest": weights,
            "outputs": outputs, "notice": loaded.notice,
            "files_dir": str(loaded.files_dir) if loaded.files_dir else None}

results = []
for action in json.loads(sys.argv[1]):
    try:
        results.append(run(action))
    except BaseException as error:  # report, never crash: the test checks the type and the message
        results.append({"ok": False, "type": type(error).__name__, "error": str(error)})
print(json.dumps(results))
'''


# ---- helpers ------------------------------------------------------------------------------------------

def make_model(directory: Path, *, seed: int = 0, hidden: int = 8, card: bool = True) -> AutocompleteRNN:
    torch.manual_seed(seed)
    config = ModelConfig(unit="gru", hidden_size=hidden, num_layers=1, embedding_size=8, words=list(WORDS),
                         max_seq_len=20)
    model = AutocompleteRNN(config).eval()
    model.save(directory)
    if card:
        write_model_card(directory, model, evaluation=EVALUATION)
    return model


def hub_env(hub: FakeHub, tmp_path: Path, **extra) -> dict:
    """A clean environment pointing huggingface_hub at the stand-in server and a private cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    env.update(
        HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_ETAG_TIMEOUT="1",
        HF_HUB_DOWNLOAD_TIMEOUT="1", HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1",
        PYTHONPATH=str(REPO_ROOT), HOME=str(tmp_path / "home"),
    )
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def run_driver(env: dict, actions: list) -> tuple[list, subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(actions)], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) == len(actions)
    return results, proc


def run_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnmem", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180)


def load(ref: str) -> dict:
    return {"op": "load", "ref": ref}


def assert_loaded(result: dict, model: AutocompleteRNN, revision: str) -> None:
    assert result["ok"], result
    assert result["revision"] == revision
    weights, outputs = digest(model)
    assert result["digest"] == weights
    assert result["outputs"] == outputs


def assert_one_line_failure(result: dict, *fragments: str) -> None:
    assert not result["ok"], result
    assert result["type"] == "HubError", result
    assert "\n" not in result["error"] and len(result["error"]) <= 300, result["error"]
    for fragment in fragments:
        assert fragment in result["error"], (fragment, result["error"])


def assert_cache_clean(hf_home: Path) -> None:
    """Nothing half-downloaded or corrupted is left for a later load: no partial files, and every blob's
    bytes hash to its name (sha256 for LFS files, git blob sha1 otherwise)."""
    assert not list(hf_home.rglob("*.incomplete"))
    for blob in hf_home.rglob("blobs/*"):
        data = blob.read_bytes()
        expected = {hashlib.sha256(data).hexdigest(),
                    hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
        assert blob.name in expected, f"corrupted blob left in the cache: {blob}"


@pytest.fixture
def hub():
    with FakeHub() as server:
        yield server


# ---- loading --------------------------------------------------------------------------------------------

def test_pinned_load_moving_branch_cache_reuse_and_offline(hub, tmp_path):
    model_a = make_model(tmp_path / "a", seed=0)
    model_b = make_model(tmp_path / "b", seed=1)
    sha_a = hub.commit_dir("alice/tiny", tmp_path / "a", message="first training")
    env = hub_env(hub, tmp_path)

    results, _ = run_driver(env, [load("hf://alice/tiny"), load(f"hf://alice/tiny@{sha_a}"),
                                  load("hf://alice/tiny@main")])
    for result in results:
        assert_loaded(result, model_a, sha_a)
    assert results[0]["source"] == "hf://alice/tiny"
    assert results[1]["source"] == f"hf://alice/tiny@{sha_a}"
    assert results[0]["files_dir"].endswith(f"/snapshots/{sha_a}") and results[0]["notice"] is None

    # The branch moves; the old commit (and a tag on it) still give the old weights.
    hub.tag("alice/tiny", "v1", sha_a)
    sha_b = hub.commit_dir("alice/tiny", tmp_path / "b", message="retrained")
    assert sha_b != sha_a
    hub.requests.clear()
    results, _ = run_driver(env, [load("hf://alice/tiny"), load(f"hf://alice/tiny@{sha_a}"),
                                  load("hf://alice/tiny@v1")])
    assert_loaded(results[0], model_b, sha_b)
    assert_loaded(results[1], model_a, sha_a)
    assert_loaded(results[2], model_a, sha_a)
    # A cached commit is immutable: loading it pinned made no request at all.
    assert not [path for _, path in hub.requests if sha_a in path]

    # Offline, server gone: everything cached still loads (branch and tag from the cache's refs).
    hub.stop()
    results, _ = run_driver(hub_env(hub, tmp_path, HF_HUB_OFFLINE="1"),
                            [load("hf://alice/tiny"), load(f"hf://alice/tiny@{sha_a}"), load("hf://alice/tiny@v1"),
                             load("hf://alice/never-downloaded")])
    assert_loaded(results[0], model_b, sha_b)
    assert_loaded(results[1], model_a, sha_a)
    assert_loaded(results[2], model_a, sha_a)
    assert_one_line_failure(results[3], "hf://alice/never-downloaded", "offline", "cache")

    # Not offline, but the Hub cannot be reached: the cached commit loads, with a notice saying so.
    results, _ = run_driver(env, [load("hf://alice/tiny"), load("hf://alice/never-downloaded")])
    assert_loaded(results[0], model_b, sha_b)
    assert "could not be reached" in results[0]["notice"] and sha_b[:12] in results[0]["notice"]
    assert_one_line_failure(results[1], "cannot reach the Hub")
    assert_cache_clean(tmp_path / "hf")


def test_each_failure_is_one_line_and_nothing_bad_is_reused(hub, tmp_path):
    good = make_model(tmp_path / "good", seed=2)
    files = {p.name: p.read_bytes() for p in (tmp_path / "good").iterdir()}
    wide = make_model(tmp_path / "wide", seed=2, hidden=16)

    for name in ("trunc", "corrupt", "slow"):
        hub.commit_dir(f"alice/{name}", tmp_path / "good")
    hub.tamper["alice/trunc/model.safetensors"] = lambda data: data[: len(data) // 2]
    hub.tamper["alice/corrupt/model.safetensors"] = lambda data: data[:-16] + bytes(b ^ 0xFF for b in data[-16:])
    hub.delay, hub.delay_paths = 3.0, "alice/slow"
    hub.commit("alice/garbage", {"config.json": files["config.json"],
                                 "model.safetensors": b"this is not a safetensors file"})
    hub.commit("alice/mismatch", {"config.json": (tmp_path / "wide" / "config.json").read_bytes(),
                                  "model.safetensors": files["model.safetensors"]})
    hub.commit("alice/bert", {"config.json": json.dumps({"architectures": ["BertModel"], "model_type": "bert",
                                                         "hidden_size": 768}).encode(),
                              "model.safetensors": files["model.safetensors"]})
    hub.commit("alice/pickled", {"config.json": files["config.json"], "pytorch_model.bin": b"\x80\x04K\x01."})
    hub.create_repo("alice/empty")
    hub.commit_dir("alice/private", tmp_path / "good", private=True)
    make_model(tmp_path / "weights" / "gru", seed=5)
    shipped = AutocompleteRNN.from_directory(tmp_path / "weights" / "gru")
    assert wide.config.hidden_size == 16

    env = hub_env(hub, tmp_path)
    results, proc = run_driver(env, [
        load("hf://alice/missing"),
        load("hf://alice/trunc@nope"),
        load("hf://alice/trunc@" + "0" * 40),
        load("hf://alice/pickled"),
        load("hf://alice/bert"),
        load("hf://alice/mismatch"),
        load("hf://alice/trunc"),
        load("hf://alice/corrupt"),
        load("hf://alice/garbage"),
        load("hf://alice/slow"),
        load("hf://alice/private"),
        load("hf://alice/empty"),
        {"op": "fallback", "ref": "hf://alice/missing", "unit": "gru", "weights_root": str(tmp_path / "weights")},
    ])
    assert_one_line_failure(results[0], "hf://alice/missing", "repository not found")
    assert_one_line_failure(results[1], "hf://alice/trunc@nope", "revision 'nope' does not exist")
    assert_one_line_failure(results[2], "does not exist")
    assert_one_line_failure(results[3], "only pickle weights", "pytorch_model.bin")
    assert_one_line_failure(results[4], "not an rnnmem model", "'bert'")
    assert_one_line_failure(results[5], "hf://alice/mismatch", "do not match config.json")
    assert_one_line_failure(results[6], "hf://alice/trunc", "truncated")
    assert_one_line_failure(results[7], "hf://alice/corrupt", "corrupted", "removed it from the cache")
    assert_one_line_failure(results[8], "hf://alice/garbage", "cannot read weights")
    assert_one_line_failure(results[9], "hf://alice/slow", "did not answer in time")
    assert_one_line_failure(results[10], "hf://alice/private", "repository not found", "HF_TOKEN")
    assert_one_line_failure(results[11], "not an rnnmem model repository")
    fallback = results[12]
    assert fallback["ok"] and fallback["source"] == "gru"
    assert fallback["digest"] == digest(shipped)[0]
    assert "hf://alice/missing" in fallback["notice"] and "repository not found" in fallback["notice"]
    assert "shipped default" in fallback["notice"] and "\n" not in fallback["notice"]
    assert "Traceback" not in proc.stderr
    # The pickle file was never downloaded, nor the weights of the other model type.
    fetched = [path for method, path in hub.requests if method == "GET" and "/resolve/" in path]
    assert not [p for p in fetched if p.endswith(".bin") or ("alice/bert" in p and p.endswith(".safetensors"))]
    assert_cache_clean(tmp_path / "hf")

    # The Hub recovers: the same references now load the right weights (no bad bytes were kept).
    hub.tamper.clear()
    hub.delay = 0.0
    results, _ = run_driver(env, [load("hf://alice/trunc"), load("hf://alice/corrupt"), load("hf://alice/slow")])
    for name, result in zip(("trunc", "corrupt", "slow"), results):
        assert_loaded(result, good, hub.repos[f"alice/{name}"].branches["main"])
    assert_cache_clean(tmp_path / "hf")


def test_a_link_cannot_make_the_server_download_or_build_a_model_of_any_size(hub, tmp_path):
    """The Hub's reported file sizes and the parameters config.json implies are checked before anything
    large is fetched or allocated; an oversized side file (log, evaluation) is skipped, the model loads."""
    good = make_model(tmp_path / "good", seed=3)
    sha = hub.commit_dir("alice/tiny", tmp_path / "good")
    (tmp_path / "good" / "training_log.csv").write_text("step,chars_seen,seconds,train_loss,valid_loss\n" * 50)
    sha_logged = hub.commit_dir("alice/logged", tmp_path / "good")
    config = json.loads((tmp_path / "good" / "config.json").read_text())
    hub.commit("alice/huge", {"config.json": json.dumps({**config, "hidden_size": 20_000}).encode(),
                              "model.safetensors": (tmp_path / "good" / "model.safetensors").read_bytes()})
    narrow_and_deep = {**config, "hidden_size": 1, "embedding_size": 1, "num_layers": 2000}  # few parameters
    hub.commit("alice/deep", {"config.json": json.dumps(narrow_and_deep).encode(),
                              "model.safetensors": (tmp_path / "good" / "model.safetensors").read_bytes()})
    weights = (tmp_path / "good" / "model.safetensors").stat().st_size

    results, proc = run_driver(hub_env(hub, tmp_path), [
        load("hf://alice/deep"),
        load("hf://alice/huge"),
        {"op": "limit", "name": "MAX_DOWNLOAD_BYTES", "value": weights - 1},
        load("hf://alice/tiny"),
        {"op": "limit", "name": "MAX_DOWNLOAD_BYTES", "value": weights},
        {"op": "limit", "name": "MAX_SIDE_FILE_BYTES", "value": 100},
        load("hf://alice/logged"),
    ])
    assert_one_line_failure(results.pop(0), "hf://alice/deep", "config.json describes a model of 2,000 layers",
                            "this app loads at most 8")
    assert_one_line_failure(results[0], "hf://alice/huge", "config.json describes a model of 1,200,700,229 parameters",
                            "this app loads at most 32,000,000")
    assert_one_line_failure(results[2], "hf://alice/tiny", f"model.safetensors is {weights:,} bytes",
                            f"downloads at most {weights - 1:,} bytes per file")
    assert_loaded(results[5], good, sha_logged)
    fetched = [path for method, path in hub.requests if method == "GET" and "/resolve/" in path]
    assert not [p for p in fetched if p.endswith(".safetensors") and any(f"alice/{name}" in p for name in
                                                                        ("deep", "huge", "tiny"))]
    assert [p for p in fetched if "alice/logged" in p and p.endswith(".safetensors")]
    assert not [p for p in fetched if p.endswith("training_log.csv")]
    assert sha != sha_logged and "Traceback" not in proc.stderr


def test_private_repo_needs_the_token_which_is_never_shown(hub, tmp_path):
    # (Without any token, a private repository reads as "not found": see the failures test.)
    model = make_model(tmp_path / "m", seed=6)
    sha = hub.commit_dir("alice/private", tmp_path / "m", private=True)
    wrong = "hf_WrongTokenWrongToken0123456789"

    results, proc = run_driver(hub_env(hub, tmp_path, HF_TOKEN=hub.token), [
        load("hf://alice/private"),  # HF_TOKEN from the environment
        load(f"hf://alice/private@{sha}"),
        {"op": "load_hub", "repo": "alice/private", "revision": "main", "token": wrong},  # an explicit, wrong one
        load("hf://alice/missing"),
    ])
    assert_loaded(results[0], model, sha)
    assert_loaded(results[1], model, sha)
    assert_one_line_failure(results[2], "access denied", "HF_TOKEN")
    assert_one_line_failure(results[3], "repository not found")
    for secret in (hub.token, wrong):
        assert secret not in proc.stdout and secret not in proc.stderr


def test_token_from_streamlit_secrets(tmp_path):
    (tmp_path / "app" / ".streamlit").mkdir(parents=True)
    (tmp_path / "app" / ".streamlit" / "secrets.toml").write_text('HF_TOKEN = "hf_FromSecrets0123456789"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    env.update(PYTHONPATH=str(REPO_ROOT), HOME=str(tmp_path / "home"))
    code = ("from rnnmem.hub import token_from_environment as t; import os; a = t() == 'hf_FromSecrets0123456789';"
            " os.environ['HF_TOKEN'] = 'hf_FromEnvironment01234'; print(a, t() == 'hf_FromEnvironment01234')")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path / "app", capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.split() == ["True", "True"], proc.stderr[-2000:]
    assert "hf_From" not in proc.stdout + proc.stderr


def test_scrub_masks_tokens_and_keeps_one_line():
    text = scrub("failed\nfor Bearer hf_SomeSecretValue12345 and sk", "sk")
    assert "\n" not in text and "hf_SomeSecretValue12345" not in text and " sk" not in text


# ---- the app's fallback ----------------------------------------------------------------------------------

def test_load_with_fallback(tmp_path, monkeypatch):
    make_model(tmp_path / "weights" / "gru", seed=7)
    monkeypatch.setattr(refs, "WEIGHTS_ROOT", tmp_path / "weights")

    loaded = load_with_fallback(str(tmp_path / "weights" / "gru"), "gru")
    assert loaded.notice is None and loaded.ref.kind == "local"

    missing = str(tmp_path / "no" / "such-model")
    loaded = load_with_fallback(missing, "gru")
    assert str(loaded.ref) == "gru" and loaded.unit == "gru"
    notice = loaded.notice
    assert missing in notice and "not found" in notice and "shipped default GRU" in notice
    assert "\n" not in notice

    tried = []

    def failing_loader(ref):  # the app's cached loader: the fallback goes through it too
        tried.append(ref)
        if ref != "gru":
            raise refs.ModelRefError("down")
        return refs.load(ref)

    assert load_with_fallback("hf://alice/x", "gru", loader=failing_loader).notice.startswith("Could not load")
    assert tried == ["hf://alice/x", "gru"]

    monkeypatch.setattr(refs, "WEIGHTS_ROOT", tmp_path / "empty")
    with pytest.raises(refs.ModelRefError, match="cannot be loaded either"):
        load_with_fallback(missing, "gru")


# ---- publishing ------------------------------------------------------------------------------------------

def _front_matter(card: str) -> str:
    assert card.startswith("---\n")
    return card[4:card.index("\n---", 4)]


def test_publish_cli_then_load_back(hub, tmp_path):
    model = make_model(tmp_path / "model", seed=3)
    directory = tmp_path / "model"
    (directory / "evaluation.json").write_text(json.dumps(EVALUATION))
    (directory / "training_log.csv").write_text("chars,train_loss\n1000,3.2\n")
    (directory / "training_summary.json").write_text(json.dumps({"steps": 10}))
    (directory / "training_config.json").write_text(json.dumps({"unit": "gru"}))
    (directory / "memory.json").write_text(json.dumps({"held_out": {}}))  # the Memory page's stored figures
    (directory / "checkpoint.ckpt").write_bytes(b"not for the Hub")
    env = hub_env(hub, tmp_path, HF_TOKEN=hub.token)

    proc = run_cli(env, "publish", str(directory), "--repo-id", "bob/tiny")
    assert proc.returncode == 0, proc.stderr
    sha = proc.stdout.strip()
    assert COMMIT.match(sha) and hub.repos["bob/tiny"].branches["main"] == sha
    assert not hub.repos["bob/tiny"].private
    uploaded = hub.files("bob/tiny", sha)
    assert set(uploaded) == {".gitattributes", "config.json", "model.safetensors", "README.md", "evaluation.json",
                             "training_log.csv", "training_summary.json", "training_config.json", "memory.json"}
    assert uploaded["model.safetensors"] == (directory / "model.safetensors").read_bytes()
    meta = _front_matter(uploaded["README.md"].decode())
    for line in ("library_name: rnnmem", "license: cc-by-sa-3.0", "datasets:", "- text8", "model-index:",
                 "type: accuracy", "value: 0.1000"):
        assert line in meta, line

    # A directory whose README has no Hub metadata gets a generated card; its own file is left alone.
    other = make_model(tmp_path / "notes", seed=4, card=False)
    (tmp_path / "notes" / "README.md").write_text("# my notes\n")
    proc2 = run_cli(env, "publish", str(tmp_path / "notes"), "--repo-id", "bob/priv", "--private",
                    "--revision", "exp/dev")
    assert proc2.returncode == 0, proc2.stderr
    sha2 = proc2.stdout.strip()
    repo = hub.repos["bob/priv"]
    assert repo.private and repo.branches["exp/dev"] == sha2
    assert "model.safetensors" not in hub.files("bob/priv", "main")
    assert "library_name: rnnmem" in _front_matter(hub.file("bob/priv", "README.md", "exp/dev").decode())
    assert (tmp_path / "notes" / "README.md").read_text() == "# my notes\n"
    # Publishing a retrained model to the existing repository makes a new commit; the old one stays loadable.
    make_model(tmp_path / "model", seed=9)
    proc3 = run_cli(env, "publish", str(directory), "--repo-id", "bob/tiny")
    assert proc3.returncode == 0, proc3.stderr
    sha3 = proc3.stdout.strip()
    assert COMMIT.match(sha3) and sha3 != sha and hub.repos["bob/tiny"].branches["main"] == sha3
    for p in (proc, proc2, proc3):
        assert hub.token not in p.stdout + p.stderr

    results, _ = run_driver(env, [load(f"hf://bob/tiny@{sha}"), load("hf://bob/priv@exp/dev")])
    assert_loaded(results[0], model, sha)
    assert_loaded(results[1], other, sha2)
    # the files the app shows beside a Hub model came down with it, memory.json among them
    assert (Path(results[0]["files_dir"]) / "memory.json").read_text() == json.dumps({"held_out": {}})
    assert (Path(results[0]["files_dir"]) / "training_log.csv").is_file()


def test_publish_cli_failures_exit_2_with_one_line(hub, tmp_path):
    make_model(tmp_path / "model", seed=8)
    wrong = "hf_WrongTokenWrongToken0123456789"
    proc = run_cli(hub_env(hub, tmp_path, HF_TOKEN=wrong), "publish", str(tmp_path / "model"),
                   "--repo-id", "bob/tiny")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: cannot publish") and "HF_TOKEN" in lines[-1]
    assert "Traceback" not in proc.stderr and wrong not in proc.stdout + proc.stderr
    assert "bob/tiny" not in hub.repos

    (tmp_path / "not-a-model").mkdir()
    proc = run_cli(hub_env(hub, tmp_path, HF_TOKEN=hub.token), "publish", str(tmp_path / "not-a-model"),
                   "--repo-id", "bob/tiny")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cannot publish")
    assert "config.json is missing" in proc.stderr and "Traceback" not in proc.stderr
