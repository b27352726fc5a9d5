"""Training: Adam on the masked loss, periodic validation, checkpoints that resume exactly.

``train(config)`` is the whole loop; ``python -m rnnmem train`` is a thin wrapper over it. Everything a
run needs to continue (weights, optimiser, data position, sampler RNG, log) is in one checkpoint file,
written atomically, so an interrupted run continues with ``--resume`` as if it had never stopped. The
checkpoint also holds the model's config (its vocabulary) and the corpus facts, so ``export`` needs no
corpus; checkpoints written before that still export, by preparing the corpus again.
"""

from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .dataset import PreparedDataset, make_batch, prepare_dataset, sequence_texts, sequences_containing
from .errors import InputError, ModelFilesError
# rnnmem.train's API also names what moved to rnnmem.losses, .runconfig and .runfiles (benchmarks, scripts use it)
from .losses import log_uniform_log_q, sampled_softmax_loss, training_loss, validation_loss  # noqa: F401
from .memory import MEASURES, memory_profile
from .model import AutocompleteRNN, config_from_dict
from .runconfig import LR_SCHEDULES, TrainConfig, learning_rate_at  # noqa: F401 (rnnmem.train's API too)
from .runfiles import (LOG_FIELDS, LOG_FILE, SUMMARY_FILE, TRAIN_CONFIG_FILE, CorpusFacts,  # noqa: F401
                       cumulative_seconds, finish, progress_totals, read_log, write_log)
from .walkthrough import held_out_fragments

CHECKPOINT_FILE = "checkpoint.pt"


def epoch_order(n_sequences: int, seed: int, epoch: int) -> np.ndarray:
    """The batch order of one epoch: a function of (seed, epoch) only, so resuming needs no RNG state."""
    return np.random.default_rng([seed, epoch]).permutation(n_sequences)


def training_sequences(dataset: PreparedDataset):
    """(starts, lengths) of the training split without the sequences that hold part of the article's
    walkthrough paragraph (rnnmem.walkthrough), and the indices of those left out. The app compares the
    models on that paragraph with the article's published data: it must never be training data."""
    held_out = sequences_containing(dataset, held_out_fragments())
    train_index = dataset.splits["train"]
    keep = train_index[~np.isin(train_index, held_out)]
    return dataset.starts[keep], dataset.lengths[keep], held_out


def validation_memory(model: AutocompleteRNN, dataset: PreparedDataset, positions: int) -> dict:
    """The memory measure (rnnmem.memory) on the first ``positions`` characters of the validation split,
    the same sample at every validation, so the log shows how far back the model looks as it trains."""
    if positions <= 0:
        return {}
    was_training = model.training
    model.eval()
    try:
        profile = memory_profile(model, sequence_texts(dataset, "valid", positions), positions=positions, seed=0)
    finally:
        model.train(was_training)
    return {name: round(profile.means[name]["mean"], 4) for name in MEASURES}


# ---- the loop -----------------------------------------------------------------------------------------

def _planned_chars(config: TrainConfig, dataset: PreparedDataset) -> int:
    if config.max_chars is not None:
        return int(config.max_chars)
    return int(config.epochs * dataset.split_chars("train"))


def warm_start(model: AutocompleteRNN, directory: str | Path, data_seed: int = 0) -> dict:
    """Copy the weights of the model directory ``directory`` into ``model`` (a warm start), refusing a
    directory whose unit, sizes, sequence length, vocabulary or split (``data_seed``, where its
    training_config.json records one) differ from the run's: another split would put its held-out text in
    this run's training split. Returns what that model had been trained on: {"chars_seen": characters,
    "steps", "seconds", "log": its training-log rows}, so the new run's log and model card continue its
    history instead of starting the count at zero."""
    directory = Path(directory)
    source = AutocompleteRNN.from_directory(directory)
    mine, theirs = model.config, source.config
    for name in ("unit", "hidden_size", "num_layers", "embedding_size", "max_seq_len"):
        if getattr(mine, name) != getattr(theirs, name):
            raise ModelFilesError(f"--init-from {directory}: its {name} is {getattr(theirs, name)!r}, "
                                  f"this run's is {getattr(mine, name)!r}")
    if list(mine.words) != list(theirs.words):
        raise ModelFilesError(f"--init-from {directory}: its vocabulary differs from this corpus's "
                              "(another corpus or --vocab-size)")
    if (directory / TRAIN_CONFIG_FILE).is_file():
        their_seed = json.loads((directory / TRAIN_CONFIG_FILE).read_text()).get("data_seed", 0)
        if their_seed != data_seed:
            raise ModelFilesError(f"--init-from {directory}: it was trained with --data-seed {their_seed}, this "
                                  f"run's is {data_seed}: its validation and test text would be trained on")
    model.load_state_dict(source.state_dict(), strict=True)
    prior = {"chars_seen": 0, "steps": 0, "seconds": 0.0, "log": []}
    summary_path = directory / SUMMARY_FILE
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        prior["chars_seen"] = int(summary.get("characters_seen", 0))
        prior["steps"] = int(summary.get("steps", 0))
        prior["seconds"] = float(summary.get("seconds", 0.0))
    if (directory / LOG_FILE).is_file():
        prior["log"] = cumulative_seconds([{k: (int(v) if k in ("step", "chars_seen") else v)
                                            for k, v in row.items()} for row in read_log(directory / LOG_FILE)])
        # a log from before warm starts carried their time: its repaired last row counts more than the summary
        prior["seconds"] = max([prior["seconds"]] + [row["seconds"] for row in prior["log"]
                                                     if row.get("seconds") is not None])
    return prior


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a crash mid-write never leaves a broken checkpoint


def train(config: TrainConfig, out: str | Path, *, resume: bool = False, resume_overrides: dict | None = None,
          log=print, dataset: PreparedDataset | None = None, progress: bool = True) -> AutocompleteRNN:
    """Train ``config`` into the model directory ``out`` (checkpoint, log and model card beside it).
    With ``resume``, continue the run in ``out`` from its checkpoint: its saved configuration wins,
    except the device and ``resume_overrides`` ({"max_chars": …} or {"epochs": …}, None ignored)."""
    out = Path(out)
    checkpoint_path = out / CHECKPOINT_FILE
    state = None
    if resume:
        state, config = _restore(checkpoint_path, config, resume_overrides, log)
    elif checkpoint_path.exists():
        raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose --out")
    config.check()  # the settings the run will use (on --resume, the saved ones with the new budget)
    device = config.resolved_device()

    log("configuration: " + json.dumps(asdict(config), sort_keys=True))
    if dataset is None:
        dataset = prepare_dataset(config.corpus, config.dataset_config(), log=log)
    corpus = CorpusFacts.of(dataset)
    starts, lengths, held_out = training_sequences(dataset)
    if len(starts) == 0 or len(dataset.splits["valid"]) == 0:  # refused before anything is written
        raise InputError(f"the corpus is too small to train on: {len(starts)} training and "
                         f"{len(dataset.splits['valid'])} validation sequences of up to {config.seq_len} characters")
    out.mkdir(parents=True, exist_ok=True)
    (out / TRAIN_CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2, sort_keys=True))

    torch.manual_seed(config.seed)
    model_config = config.model_config(dataset.words)
    model = AutocompleteRNN(model_config).to(device)
    # what the warm-start model had already been trained on
    prior = {"chars_seen": 0, "steps": 0, "seconds": 0.0, "log": []}
    if config.init_from and state is None:
        prior = warm_start(model, config.init_from, config.data_seed)
        log(f"warm start from {config.init_from}: {prior['chars_seen']:,} characters seen before")
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    progress_state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "chars_seen": 0, "seconds": 0.0,
                      "next_valid": config.valid_every_chars}
    log_rows: list[dict] = list(prior["log"])
    progress_state["prior_chars"] = prior["chars_seen"]
    progress_state["prior_steps"] = prior["steps"]
    progress_state["prior_seconds"] = prior["seconds"]
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        progress_state = state["progress"]
        log_rows = state["log"]
        log(f"resume: step {progress_state['step']}, {progress_state['chars_seen']:,} characters seen")

    log_q = log_uniform_log_q(model_config.vocab_size, config.num_sampled, device)
    if len(held_out):
        log(f"training: {len(held_out)} training sequences hold part of the article's walkthrough paragraph "
            "and are left out")
    n_batches = math.ceil(len(starts) / config.batch_size)
    planned = _planned_chars(config, dataset)

    def checkpoint() -> None:
        _save_checkpoint(checkpoint_path, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(), "progress": dict(progress_state), "log": log_rows,
            "train_config": asdict(config),
            # what export needs to write the model directory without the corpus
            "model_config": asdict(model_config), "corpus": asdict(corpus),
        })

    # Ctrl-C and SIGTERM (a stopped background job) ask the loop to stop at the next step boundary, so
    # the checkpoint never holds a half-applied optimiser step or a sampler that ran ahead.
    stop_requested = []
    previous_handlers = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous_handlers[signum] = signal.signal(signum, lambda *_: stop_requested.append(True))
        except ValueError:  # not the main thread (a test, a notebook thread): no graceful stop there
            pass

    model.train()
    bar = tqdm(total=planned, initial=progress_state["chars_seen"], unit="char", unit_scale=True,
               desc=f"train {config.unit}", disable=not progress, dynamic_ncols=True)
    last_checkpoint = time.monotonic()
    window_loss, window_steps = 0.0, 0
    started = time.monotonic() - progress_state["seconds"]
    try:
        order_epoch, order = None, None
        while progress_state["chars_seen"] < planned:
            if order_epoch != progress_state["epoch"]:  # one permutation per epoch, not per step
                order_epoch = progress_state["epoch"]
                order = epoch_order(len(starts), config.seed, order_epoch)
            b = progress_state["batch_in_epoch"]
            if b >= n_batches:
                progress_state["epoch"] += 1
                progress_state["batch_in_epoch"] = 0
                continue
            idx = np.sort(order[b * config.batch_size:(b + 1) * config.batch_size])
            chars, targets = make_batch(dataset, starts[idx], lengths[idx], config.seq_len)
            chars, targets = chars.to(device), targets.to(device)
            rate = learning_rate_at(config, progress_state["chars_seen"], planned)
            for group in optimizer.param_groups:
                group["lr"] = rate
            loss = training_loss(model, chars, targets, config, log_q, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()

            n_chars = int(lengths[idx].sum())
            progress_state["step"] += 1
            progress_state["batch_in_epoch"] += 1
            progress_state["chars_seen"] += n_chars
            progress_state["seconds"] = time.monotonic() - started
            window_loss += loss.item()
            window_steps += 1
            bar.update(n_chars)
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{rate:.2g}",
                            chars_per_s=f"{progress_state['chars_seen'] / max(progress_state['seconds'], 1e-9):,.0f}",
                            refresh=False)

            done = progress_state["chars_seen"] >= planned
            if stop_requested and not done:  # a stop asked for on the last step lets the run finish
                raise KeyboardInterrupt
            if progress_state["chars_seen"] >= progress_state["next_valid"] or done:
                row = _validate(model, dataset, config, device, progress_state, window_loss / window_steps)
                log_rows.append(row)
                bar.write(f"step {row['step']}: {row['chars_seen']:,} chars, train {row['train_loss']:.3f}, "
                          f"valid {row['valid_loss']:.3f}" + (f", context share {row['context_share']:.3f}, "
                                                              f"d90 {row['d90']:.1f}" if "d90" in row else ""))
                window_loss, window_steps = 0.0, 0
                while progress_state["next_valid"] <= progress_state["chars_seen"]:
                    progress_state["next_valid"] += config.valid_every_chars
            if time.monotonic() - last_checkpoint > config.checkpoint_every_seconds or done:
                checkpoint()
                last_checkpoint = time.monotonic()
    except KeyboardInterrupt:
        checkpoint()
        bar.close()
        log(f"interrupted: checkpoint saved at step {progress_state['step']}; continue with --resume")
        raise
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    bar.close()

    if not log_rows or log_rows[-1]["chars_seen"] != progress_totals(progress_state)["chars_seen"]:
        # A run resumed with a budget below what it had seen ends without a step, so its last validation is
        # older than its weights: validate them, so the model card's final losses describe what it ships.
        log_rows.append(_validate(model, dataset, config, device, progress_state,
                                  window_loss / window_steps if window_steps else None))
        checkpoint()
    finish(model, out, config, corpus, progress_state, log_rows, device)
    log(f"done: model written to {out}")
    return model.eval()


def _restore(checkpoint_path: Path, config: TrainConfig, resume_overrides: dict | None, log) -> tuple[dict, TrainConfig]:
    """The checkpoint's state and the configuration the run continues with: its saved one, except the
    device and the budget (a larger --max-chars or --epochs extends a finished or interrupted run)."""
    if not checkpoint_path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint in {checkpoint_path.parent}")
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    saved = asdict(TrainConfig(**state["train_config"]))
    overrides = {key: value for key, value in (resume_overrides or {}).items() if value is not None}
    if "epochs" in overrides and "max_chars" not in overrides:
        overrides["max_chars"] = None  # --epochs replaces a character budget
    if overrides:
        log("resume: budget changed to " + json.dumps(overrides))
    return state, TrainConfig(**(saved | {"device": config.device} | overrides))


def _validate(model: AutocompleteRNN, dataset: PreparedDataset, config: TrainConfig, device: str, progress: dict,
              train_loss: float | None) -> dict:
    """The training-log row of a validation: the validation loss on a fixed subset, the memory measure on
    a fixed sample, the mean training loss since the last one (None, left empty in the log, when no step
    of this process was taken since: a run resumed and ended at once) and the training time so far (the
    progress's, which the summary reports too). Leaves the model in training mode."""
    valid = validation_loss(model, dataset, config.valid_chars, device)
    memory = validation_memory(model, dataset, config.memory_positions)
    model.train()
    return {**progress_totals(progress), "train_loss": None if train_loss is None else round(train_loss, 5),
            "valid_loss": round(valid, 5), **memory}


def export_checkpoint(run_dir: str | Path, out: str | Path, *, dtype: torch.dtype = torch.float32,
                      log=print) -> Path:
    """Write a model directory from a run's latest checkpoint (a run still going, or interrupted), so
    its current weights can be used before training ends."""
    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / CHECKPOINT_FILE).exists():
        raise FileNotFoundError(f"no checkpoint in {run_dir}")
    state = torch.load(run_dir / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    config = TrainConfig(**state["train_config"])
    if "model_config" in state:
        model_config, corpus = config_from_dict(state["model_config"]), CorpusFacts(**state["corpus"])
    else:  # a checkpoint from before the model config was stored in it: the corpus gives the vocabulary
        dataset = prepare_dataset(config.corpus, config.dataset_config(), log=log)
        model_config, corpus = config.model_config(dataset.words), CorpusFacts.of(dataset)
    model = AutocompleteRNN(model_config)
    model.load_state_dict(state["model"], strict=True)
    out.mkdir(parents=True, exist_ok=True)
    progress, rows = state["progress"], state["log"]
    seen = progress_totals(progress)["chars_seen"]
    validated = int(rows[-1]["chars_seen"]) if rows else None
    # the card's final losses are the last validation's, which may be older than these weights
    stopped = None if validated == seen else (
        f"exported from a checkpoint; the final losses are from the validation at {validated:,} characters"
        if validated is not None else "exported from a checkpoint before its first validation")
    finish(model, out, config, corpus, progress, rows, config.resolved_device(), dtype,
           extra={"stopped": stopped} if stopped else None)
    log(f"exported step {state['progress']['step']} of {run_dir} to {out}")
    return out
