import json
import os
import signal

import pytest
import torch

from rnnmem.dataset import EOS_ID, UNKNOWN_ID
from rnnmem.model import AutocompleteRNN, ModelConfig, ModelFilesError, masked_cross_entropy
from rnnmem.refs import load_model
from rnnmem.train import (TrainConfig, export_checkpoint, log_uniform_log_q, make_batch, read_log,
                          sampled_softmax_loss, train, validation_loss)

from .conftest import tiny_config

WORDS = ["<eos>", "<unknown>", "the", "cat", "sat"]


def test_masked_loss_ignores_eos_and_unknown_targets():
    logits = torch.randn(1, 4, 5)
    targets = torch.tensor([[2, EOS_ID, UNKNOWN_ID, 3]])
    expected = torch.nn.functional.cross_entropy(logits[0, [0, 3]], torch.tensor([2, 3]))
    assert torch.allclose(masked_cross_entropy(logits, targets), expected)
    # changing logits at masked positions changes nothing
    logits2 = logits.clone()
    logits2[0, 1:3] += 100
    assert torch.allclose(masked_cross_entropy(logits2, targets), expected)


@pytest.mark.parametrize("unit", ["rnn", "gru", "lstm", "nlstm"])
def test_forward_shapes_and_fresh_state(unit):
    torch.manual_seed(0)
    model = AutocompleteRNN(tiny_config(unit, WORDS)).eval()
    chars = torch.randint(1, 28, (3, 7))
    logits, loss = model(chars)
    assert logits.shape == (3, 7, 5) and loss is None
    # causal: a later character cannot change an earlier output
    changed = chars.clone()
    changed[:, -1] = (changed[:, -1] % 27) + 1
    assert torch.allclose(model(changed)[0][:, :-1], logits[:, :-1], atol=1e-6)


@pytest.mark.parametrize("unit", ["rnn", "gru", "lstm", "nlstm"])
def test_save_load_round_trip_gives_identical_outputs(tmp_path, unit):
    torch.manual_seed(1)
    model = AutocompleteRNN(tiny_config(unit, WORDS)).eval()
    model.save(tmp_path / unit)
    loaded = load_model(str(tmp_path / unit))
    chars = torch.randint(1, 28, (2, 9))
    assert torch.equal(model(chars)[0], loaded(chars)[0])
    assert loaded.config == model.config and not loaded.training
    # the Hub mixin's own loader also rebuilds it from the files
    again = AutocompleteRNN.from_pretrained(str(tmp_path / unit))
    assert torch.equal(again(chars)[0], loaded(chars)[0])


def test_fp16_storage_loads_as_float32(tmp_path):
    torch.manual_seed(2)
    model = AutocompleteRNN(tiny_config("gru", WORDS)).eval()
    model.save(tmp_path / "m", dtype=torch.float16)
    loaded = load_model(str(tmp_path / "m"))
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    chars = torch.randint(1, 28, (2, 9))
    assert torch.allclose(model(chars)[0], loaded(chars)[0], atol=1e-2)


def test_corrupt_or_mismatched_model_directory_gives_clear_errors(tmp_path):
    torch.manual_seed(3)
    model = AutocompleteRNN(tiny_config("gru", WORDS))
    good = model.save(tmp_path / "good")
    config = json.loads((good / "config.json").read_text())

    mismatched = AutocompleteRNN(tiny_config("lstm", WORDS)).save(tmp_path / "mismatch")
    (mismatched / "config.json").write_text(json.dumps(config))  # GRU config over LSTM weights
    with pytest.raises(ModelFilesError, match="do not match"):
        load_model(str(mismatched))

    wider = dict(config, hidden_size=config["hidden_size"] + 1)
    (tmp_path / "wider").mkdir()
    (tmp_path / "wider" / "config.json").write_text(json.dumps(wider))
    (tmp_path / "wider" / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes())
    with pytest.raises(ModelFilesError, match="do not match|shape"):
        load_model(str(tmp_path / "wider"))

    (tmp_path / "trunc").mkdir()
    (tmp_path / "trunc" / "config.json").write_text(json.dumps(config))
    (tmp_path / "trunc" / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes()[:100])
    with pytest.raises(ModelFilesError, match="cannot read weights"):
        load_model(str(tmp_path / "trunc"))

    (tmp_path / "badjson").mkdir()
    (tmp_path / "badjson" / "config.json").write_text("{not json")
    (tmp_path / "badjson" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelFilesError, match="not valid JSON"):
        load_model(str(tmp_path / "badjson"))

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    (tmp_path / "other" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelFilesError, match="not an rnnmem model"):
        load_model(str(tmp_path / "other"))

    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFilesError, match="missing"):
        load_model(str(tmp_path / "empty"))


def test_sampled_softmax_matches_full_softmax_when_every_class_is_sampled():
    torch.manual_seed(4)
    V, H, N = 12, 5, 30
    hidden, weight, bias = torch.randn(N, H), torch.randn(V, H), torch.randn(V)
    targets = torch.randint(2, V, (N,))
    full = torch.nn.functional.cross_entropy((hidden @ weight.T + bias)[:, 2:], targets - 2)
    # with many draws every class is included, log Q ~ 0, and the estimate equals the full loss
    log_q = log_uniform_log_q(V, 20000, "cpu")
    sampled = sampled_softmax_loss(hidden, targets, weight, bias, log_q, 20000, torch.Generator().manual_seed(0))
    assert torch.allclose(sampled, full, atol=1e-4)


def _toy_config(**overrides):
    base = dict(unit="gru", hidden_size=24, num_layers=1, embedding_size=12, corpus="toy", vocab_words=20,
                seq_len=40, max_chars=60_000, batch_size=16, learning_rate=0.01, valid_every_chars=20_000,
                valid_chars=2_000, checkpoint_every_seconds=1e9)
    return TrainConfig(**(base | overrides))


@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_a_few_training_steps_lower_the_loss(tmp_path, toy_dataset, softmax):
    config = _toy_config(softmax=softmax, num_sampled=8, max_chars=30_000, valid_every_chars=10_000)
    torch.manual_seed(0)
    untrained = AutocompleteRNN(ModelConfig(unit="gru", hidden_size=24, num_layers=1, embedding_size=12,
                                            words=list(toy_dataset.words), max_seq_len=40))
    before = validation_loss(untrained, toy_dataset, 2_000, "cpu")
    model = train(config, tmp_path / softmax, dataset=toy_dataset, log=lambda m: None, progress=False)
    after = validation_loss(model, toy_dataset, 2_000, "cpu")
    assert after < before - 0.5
    for name in ("config.json", "model.safetensors", "README.md", "training_log.csv", "training_config.json"):
        assert (tmp_path / softmax / name).is_file()
    rows = read_log(tmp_path / softmax / "training_log.csv")
    assert [r["chars_seen"] for r in rows] == sorted(r["chars_seen"] for r in rows) and len(rows) >= 3
    card = (tmp_path / softmax / "README.md").read_text()
    assert "library_name: rnnmem" in card and "CC BY-SA" in card and "characters seen" in card


def test_resume_continues_exactly_where_it_stopped(tmp_path, toy_dataset, monkeypatch):
    config = _toy_config(softmax="sampled", num_sampled=8, max_chars=12_000, valid_every_chars=4_000)
    straight = train(config, tmp_path / "straight", dataset=toy_dataset, log=lambda m: None, progress=False)

    # Stop the second run with SIGTERM in the middle of its 6th optimiser step, as `kill` would.
    steps = {"n": 0}
    original_step = torch.optim.Adam.step

    def interrupting_step(self, *args, **kwargs):
        steps["n"] += 1
        if steps["n"] == 6:
            os.kill(os.getpid(), signal.SIGTERM)
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupting_step)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "resumed", dataset=toy_dataset, log=lambda m: None, progress=False)
    monkeypatch.setattr(torch.optim.Adam, "step", original_step)
    assert (tmp_path / "resumed" / "checkpoint.pt").exists()
    with pytest.raises(FileExistsError):
        train(config, tmp_path / "resumed", dataset=toy_dataset, log=lambda m: None, progress=False)

    resumed = train(config, tmp_path / "resumed", resume=True, dataset=toy_dataset, log=lambda m: None,
                    progress=False)
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    # a larger budget extends a finished run
    longer = train(config, tmp_path / "resumed", resume=True, resume_overrides={"max_chars": 16_000},
                   dataset=toy_dataset, log=lambda m: None, progress=False)
    rows = read_log(tmp_path / "resumed" / "training_log.csv")
    assert rows[-1]["chars_seen"] >= 16_000
    assert not torch.equal(longer.output.weight, straight.output.weight)


def _sigterm_at_step(monkeypatch, step: int) -> None:
    """Send SIGTERM, as `kill` would, in the middle of the given optimiser step (counted from 1)."""
    steps = {"n": 0}
    original_step = torch.optim.Adam.step

    def interrupting_step(self, *args, **kwargs):
        steps["n"] += 1
        if steps["n"] == step:
            os.kill(os.getpid(), signal.SIGTERM)
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupting_step)


def test_the_final_validation_describes_the_weights_a_run_ships(tmp_path, toy_dataset, monkeypatch):
    config = _toy_config(max_chars=8_000, valid_every_chars=3_000)
    quiet = dict(dataset=toy_dataset, log=lambda m: None, progress=False)
    train(config, tmp_path / "straight", **quiet)
    last_step = json.loads((tmp_path / "straight" / "training_summary.json").read_text())["steps"]

    # a stop asked for during the last step lets the run finish, with its final validation
    _sigterm_at_step(monkeypatch, last_step)
    train(config, tmp_path / "stopped_last", **quiet)
    summary = json.loads((tmp_path / "stopped_last" / "training_summary.json").read_text())
    rows = read_log(tmp_path / "stopped_last" / "training_log.csv")
    assert rows[-1]["chars_seen"] == summary["characters_seen"] >= 8_000

    # a run stopped early and resumed with a budget below what it had seen takes no step, yet validates
    # the weights it writes (no training loss: none was measured since)
    _sigterm_at_step(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut", **quiet)
    monkeypatch.undo()
    cut = train(config, tmp_path / "cut", resume=True, resume_overrides={"max_chars": 100}, **quiet)
    summary = json.loads((tmp_path / "cut" / "training_summary.json").read_text())
    rows = read_log(tmp_path / "cut" / "training_log.csv")
    assert rows[-1]["chars_seen"] == summary["characters_seen"] < 8_000
    assert rows[-1]["train_loss"] is None and summary["final_train_loss"] is None
    assert summary["final_valid_loss"] == rows[-1]["valid_loss"]
    card = (tmp_path / "cut" / "README.md").read_text()
    assert "final valid loss" in card and "final train loss" not in card
    assert rows[-1]["valid_loss"] == pytest.approx(validation_loss(cut, toy_dataset, 2_000, "cpu"), abs=1e-4)


def test_export_checkpoint_writes_a_loadable_model(tmp_path, toy_corpus, monkeypatch):
    config = _toy_config(corpus=str(toy_corpus), max_chars=10_000)
    train(config, tmp_path / "run", log=lambda m: None, progress=False)
    export_checkpoint(tmp_path / "run", tmp_path / "exported", dtype=torch.float16, log=lambda m: None)
    model = load_model(str(tmp_path / "exported"))
    assert model.unit == "gru" and "exported from a checkpoint" not in (tmp_path / "exported" / "README.md").read_text()

    # a checkpoint taken after the last validation: the card says whose losses it shows
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    state["progress"]["chars_seen"] += 1_000
    torch.save(state, tmp_path / "run" / "checkpoint.pt")
    export_checkpoint(tmp_path / "run", tmp_path / "later", log=lambda m: None)
    last = read_log(tmp_path / "run" / "training_log.csv")[-1]
    assert f"the final losses are from the validation at {int(last['chars_seen']):,} characters" in (
        tmp_path / "later" / "README.md").read_text()


def test_make_batch_pads_with_eos(toy_dataset):
    starts, lengths = toy_dataset.sequences("train")
    chars, targets = make_batch(toy_dataset, starts[:3], lengths[:3], 40)
    for row, n in enumerate(lengths[:3].tolist()):
        assert (chars[row, n:] == 0).all() and (targets[row, n:] == 0).all()
        assert chars[row, 0] == 1


# beyond the 100 most frequent words: "grammar" and "schools" are rarer words
_RARER_WORDS = ["<eos>", "<unknown>", "the", *[f"w{i}" for i in range(100)], "grammar", "schools"]


def _model_and_batch(texts: list[str]):
    """A small untrained GRU over _RARER_WORDS and (chars, targets) of ``texts`` as it reads them."""
    from rnnmem.dataset import pad_batch
    from rnnmem.inputs import text_sequences
    torch.manual_seed(3)
    model = AutocompleteRNN(ModelConfig(unit="gru", hidden_size=8, num_layers=1, embedding_size=6,
                                        words=_RARER_WORDS, max_seq_len=200))
    pairs = [pair for text in texts for pair in text_sequences(model, text)]
    chars, targets = pad_batch(pairs)
    return model, torch.from_numpy(chars), torch.from_numpy(targets)


def test_repetition_weights_single_out_the_letters_of_a_rarer_word_read_before():
    from rnnmem.losses import repetition_weights
    _, chars, targets = _model_and_batch(["the grammar the grammar schools grammar"])
    weights = repetition_weights(chars, targets, 3.0)[0].tolist()
    # its leading space and every letter of the second and third "grammar" weigh 3; "the" (one of the 100
    # most frequent words), the first "grammar" and the padding weigh 1
    expected = [1.0] * 16 + [3.0] * 8 + [1.0] * 8 + [3.0] * 8  # " the grammar the grammar schools grammar"
    assert weights == expected


@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_the_repeat_weight_makes_a_weighted_mean_of_the_plain_loss(softmax):
    from rnnmem.losses import repetition_weights, training_loss
    model, chars, targets = _model_and_batch(["the grammar w5 grammar schools", "schools the schools w7 w7"])
    # every class sampled, and <eos> and <unknown> (never sampled) given no mass: the sampled loss is the full one
    every_class = dict(num_sampled=200_000)
    with torch.no_grad():
        model.output.bias[:2] = -100.0
    log_q = log_uniform_log_q(len(_RARER_WORDS), every_class["num_sampled"], "cpu")

    def loss(weight: float) -> float:
        config = TrainConfig(softmax=softmax, repeat_weight=weight, **every_class)
        return training_loss(model, chars, targets, config, log_q, torch.Generator().manual_seed(0)).item()

    logits, plain = model(chars, targets)
    per_char = masked_cross_entropy(logits, targets, reduction="none").reshape(targets.shape)
    weights = repetition_weights(chars, targets, 4.0) * (targets > UNKNOWN_ID)
    assert 0 < int((weights == 4.0).sum()) < int((weights > 0).sum())  # some characters weigh more, not all
    assert loss(1.0) == pytest.approx(plain.item(), abs=2e-4)
    assert loss(4.0) == pytest.approx(((per_char * weights).sum() / weights.sum()).item(), abs=2e-4)
    assert loss(4.0) != pytest.approx(plain.item(), abs=1e-3)


@pytest.mark.parametrize("weight", [0.0, -1.0, float("nan")])
def test_a_repeat_weight_that_is_not_positive_is_refused(weight):
    from rnnmem.errors import InputError
    with pytest.raises(InputError, match="repeat_weight"):
        TrainConfig(repeat_weight=weight).check()


def test_a_repeat_weight_with_no_rarer_words_to_weigh_is_refused():
    from rnnmem.errors import InputError
    with pytest.raises(InputError, match="a vocabulary of 100 words has none"):
        TrainConfig(vocab_words=100, repeat_weight=3).check()
    TrainConfig(vocab_words=100).check()  # the plain loss needs no rarer words
    TrainConfig(vocab_words=101, repeat_weight=3).check()


def test_a_run_with_a_repeat_weight_says_so_in_its_summary_and_card(tmp_path):
    from rnnmem.runfiles import CorpusFacts, finish
    model, _, _ = _model_and_batch(["the grammar"])
    progress = {"step": 3, "chars_seen": 600, "seconds": 1.5}
    for name, weight in (("weighted", 2), ("plain", 1.0)):
        config = TrainConfig(vocab_words=len(_RARER_WORDS) - 2, repeat_weight=weight)
        finish(model, tmp_path / name, config, CorpusFacts("a test corpus", 10_000), progress, [], "cpu")
    summary = json.loads((tmp_path / "weighted" / "training_summary.json").read_text())
    assert summary["repeated_word_weight"] == 2.0 and isinstance(summary["repeated_word_weight"], float)
    card = (tmp_path / "weighted" / "README.md").read_text()
    assert "| repeated word weight | 2 (the loss's weight at the letters of a rarer word" in card
    assert "overrating them" in card
    assert "repeated_word_weight" not in json.loads((tmp_path / "plain" / "training_summary.json").read_text())
    assert "repeated word" not in (tmp_path / "plain" / "README.md").read_text()
