"""Training: Adam on the masked loss, periodic validation, checkpoints that resume exactly.

``train(config)`` is the whole loop; ``python -m rnnmem train`` is a thin wrapper over it. Everything a
run needs to continue (weights, optimiser, data position, sampler RNG, log) is in one checkpoint file,
written atomically, so an interrupted run continues with ``--resume`` as if it had never stopped.
"""

from __future__ import annotations

import csv
import json
import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .dataset import UNKNOWN_ID, DatasetConfig, PreparedDataset, prepare_dataset, sequence_texts
from .model import AutocompleteRNN, ModelConfig
from .modelcard import write_model_card

CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "training_log.csv"
TRAIN_CONFIG_FILE = "training_config.json"
LOG_FIELDS = ("step", "chars_seen", "seconds", "train_loss", "valid_loss",
              "context_share", "d50", "d90")  # the memory measure (rnnmem.memory) on a fixed validation sample


@dataclass
class TrainConfig:
    # what to train
    unit: str = "gru"  # rnn | gru | lstm | nlstm
    hidden_size: int = 256  # units per layer (the article: 600)
    num_layers: int = 2
    embedding_size: int | None = None  # default: hidden_size, as in the article
    # data
    corpus: str = "text8"  # "text8" (downloaded) or a local corpus file
    vocab_words: int = 2**14
    seq_len: int = 200
    data_seed: int = 0  # the split shuffle; keep it fixed so every unit sees the same test split
    # budget: epochs over the training split, or a number of characters (whichever is set)
    epochs: float = 2.0
    max_chars: int | None = None
    batch_size: int = 64
    learning_rate: float = 1e-3  # Adam, otherwise default settings, as the article (the peak, with a schedule)
    lr_schedule: str = "constant"  # "constant" (the article), or "cosine": warm-up, then decay to the budget's end
    warmup_chars: int = 0  # linear warm-up from 0 over this many characters (a fresh Adam on warm weights)
    min_lr_ratio: float = 0.05  # "cosine" ends at learning_rate * min_lr_ratio
    init_from: str | None = None  # a model directory whose weights start the run (a warm start)
    grad_clip: float = 0.0  # clip the gradient's global norm to this (0: off, as the article)
    # cheaper training that leaves what the model computes at inference unchanged
    softmax: str = "full"  # "full", or "sampled": sampled softmax with log-Q correction (Jean et al. 2015)
    num_sampled: int = 2048  # negatives per batch for the sampled softmax
    bf16_output: bool = False  # run the dense layer in bfloat16 during training (parameters stay float32)
    # bookkeeping
    valid_every_chars: int = 2_000_000
    valid_chars: int = 200_000  # size of the fixed validation subset used during training
    memory_positions: int = 2000  # the memory measure on this many validation positions at each validation (0: off)
    checkpoint_every_seconds: float = 120.0
    seed: int = 0  # initialisation, batch order and negative sampling
    device: str = "auto"

    def resolved_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device


LR_SCHEDULES = ("constant", "cosine")


def learning_rate_at(config: TrainConfig, chars_seen: int, planned_chars: int) -> float:
    """The learning rate for the step that starts after ``chars_seen`` characters of a run planned for
    ``planned_chars``. Measured in characters, not steps, so the schedule does not depend on how the
    packing happens to fill batches. Extending a finished cosine run (--resume --max-chars) restretches
    the decay over the new budget, so the rate rises again: plan the budget up front."""
    peak = config.learning_rate
    if config.warmup_chars > 0 and chars_seen < config.warmup_chars:
        return peak * (chars_seen + 1) / config.warmup_chars
    if config.lr_schedule == "constant":
        return peak
    if config.lr_schedule != "cosine":
        raise ValueError(f"unknown learning-rate schedule {config.lr_schedule!r}; expected one of {LR_SCHEDULES}")
    span = max(planned_chars - config.warmup_chars, 1)
    progress = min(max((chars_seen - config.warmup_chars) / span, 0.0), 1.0)
    floor = peak * config.min_lr_ratio
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---- batches ------------------------------------------------------------------------------------------

def make_batch(dataset: PreparedDataset, starts: np.ndarray, lengths: np.ndarray, seq_len: int):
    """Pad a set of sequences into (B, T) char and target arrays; padding is <eos> (masked)."""
    T = int(min(seq_len, lengths.max()))
    chars = np.zeros((len(starts), T), dtype=np.int64)
    targets = np.zeros((len(starts), T), dtype=np.int64)
    for row, (s, n) in enumerate(zip(starts.tolist(), lengths.tolist())):
        n = min(n, T)
        chars[row, :n] = dataset.chars[s:s + n]
        targets[row, :n] = dataset.targets[s:s + n]
    return torch.from_numpy(chars), torch.from_numpy(targets)


def epoch_order(n_sequences: int, seed: int, epoch: int) -> np.ndarray:
    """The batch order of one epoch: a function of (seed, epoch) only, so resuming needs no RNG state."""
    return np.random.default_rng([seed, epoch]).permutation(n_sequences)


# ---- losses -------------------------------------------------------------------------------------------

def log_uniform_log_q(vocab_size: int, num_sampled: int, device) -> torch.Tensor:
    """log of the probability that class k is among ``num_sampled`` draws (with replacement) from the
    log-uniform (Zipfian) proposal over the frequency-sorted vocabulary, P(k) ∝ log((k+2)/(k+1)).
    Classes 0 and 1 (<eos>, <unknown>) are never targets and never drawn."""
    ranks = torch.arange(vocab_size - 2, dtype=torch.float64, device=device)
    p = torch.log((ranks + 2) / (ranks + 1)) / math.log(vocab_size - 1)
    included = -torch.expm1(num_sampled * torch.log1p(-p))  # 1 - (1 - p)^S
    return torch.cat([torch.full((2,), float("-inf"), dtype=torch.float64, device=device),
                      torch.log(included)]).float()


def sampled_softmax_loss(hidden, targets, weight, bias, log_q, num_sampled, generator, bf16=False):
    """Sampled softmax (Jean et al. 2015, as TensorFlow's sampled_softmax_loss): the true class against
    one shared set of sampled negatives, logits corrected by -log Q, accidental hits removed.
    An estimate of the full softmax loss for training only; the model's full softmax is unchanged.

    hidden (N, H), targets (N,) with masked positions already removed.
    """
    V = weight.shape[0]
    ranks = torch.arange(V - 2, device=hidden.device, dtype=torch.float32)
    probs = torch.log((ranks + 2) / (ranks + 1))
    draws = torch.multinomial(probs.cpu(), num_sampled, replacement=True, generator=generator)
    negatives = torch.unique(draws.to(hidden.device) + 2)  # (U,)
    with torch.autocast(hidden.device.type, dtype=torch.bfloat16, enabled=bf16):
        neg_logits = hidden @ weight[negatives].T + bias[negatives]  # (N, U)
    true_logits = (hidden * weight[targets]).sum(-1) + bias[targets]  # (N,)
    neg_logits = neg_logits.float() - log_q[negatives]
    true_logits = true_logits.float() - log_q[targets]
    neg_logits = neg_logits.masked_fill(negatives[None, :] == targets[:, None], float("-inf"))
    logits = torch.cat([true_logits[:, None], neg_logits], dim=1)  # (N, 1 + U), class 0 is the truth
    return F.cross_entropy(logits, torch.zeros_like(targets))


def training_loss(model: AutocompleteRNN, chars, targets, config: TrainConfig, log_q, generator):
    if config.softmax == "full":
        _, loss = model(chars, targets, output_dtype=torch.bfloat16 if config.bf16_output else None)
        return loss
    hidden = model.recurrent_outputs(chars)  # (B, T, H)
    mask = targets > UNKNOWN_ID
    return sampled_softmax_loss(hidden[mask], targets[mask], model.output.weight, model.output.bias,
                                log_q, config.num_sampled, generator, bf16=config.bf16_output)


@torch.no_grad()
def validation_loss(model: AutocompleteRNN, dataset: PreparedDataset, max_chars: int, device: str,
                    batch_size: int = 64) -> float:
    """Full-softmax masked cross-entropy on the first ``max_chars`` characters of the validation split
    (a fixed subset, so the curve is comparable across checkpoints), weighted per character."""
    starts, lengths = dataset.sequences("valid")
    keep = max(1, int(np.searchsorted(np.cumsum(lengths), max_chars)) + 1)
    starts, lengths = starts[:keep], lengths[:keep]
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    for i in range(0, len(starts), batch_size):
        chars, targets = make_batch(dataset, starts[i:i + batch_size], lengths[i:i + batch_size],
                                    dataset.config.max_seq_len)
        chars, targets = chars.to(device), targets.to(device)
        logits, _ = model(chars)
        mask = targets > UNKNOWN_ID
        total += F.cross_entropy(logits[mask], targets[mask], reduction="sum").item()
        count += int(mask.sum())
    model.train(was_training)
    return total / max(count, 1)


def training_sequences(dataset: PreparedDataset):
    """(starts, lengths) of the training split without the sequences that hold part of the article's
    walkthrough paragraph (rnnmem.walkthrough), and the indices of those left out. The app compares the
    models on that paragraph with the article's published data: it must never be training data."""
    from .dataset import sequences_containing
    from .walkthrough import held_out_fragments

    held_out = sequences_containing(dataset, held_out_fragments())
    train_index = dataset.splits["train"]
    keep = train_index[~np.isin(train_index, held_out)]
    return dataset.starts[keep], dataset.lengths[keep], held_out


def validation_memory(model: AutocompleteRNN, dataset: PreparedDataset, positions: int) -> dict:
    """The memory measure (rnnmem.memory) on the first ``positions`` characters of the validation split,
    the same sample at every validation, so the log shows how far back the model looks as it trains."""
    if positions <= 0:
        return {}
    from .memory import memory_profile

    was_training = model.training
    model.eval()
    try:
        profile = memory_profile(model, sequence_texts(dataset, "valid", positions), positions=positions, seed=0)
    finally:
        model.train(was_training)
    return {name: round(profile.means[name]["mean"], 4) for name in ("context_share", "d50", "d90")}


# ---- the loop -----------------------------------------------------------------------------------------

def _planned_chars(config: TrainConfig, dataset: PreparedDataset) -> int:
    if config.max_chars is not None:
        return int(config.max_chars)
    return int(config.epochs * dataset.split_chars("train"))


def warm_start(model: AutocompleteRNN, directory: str | Path) -> dict:
    """Copy the weights of the model directory ``directory`` into ``model`` (a warm start), refusing a
    directory whose unit, sizes or vocabulary differ from the run's. Returns what that model had been
    trained on: {"chars_seen": characters, "log": its training-log rows}, so the new run's log and
    model card continue its history instead of starting the count at zero."""
    from .model import ModelFilesError

    directory = Path(directory)
    source = AutocompleteRNN.from_directory(directory)
    mine, theirs = model.config, source.config
    for name in ("unit", "hidden_size", "num_layers", "embedding_size"):
        if getattr(mine, name) != getattr(theirs, name):
            raise ModelFilesError(f"--init-from {directory}: its {name} is {getattr(theirs, name)!r}, "
                                  f"this run's is {getattr(mine, name)!r}")
    if list(mine.words) != list(theirs.words):
        raise ModelFilesError(f"--init-from {directory}: its vocabulary differs from this corpus's "
                              "(another corpus, --vocab-size or --data-seed)")
    model.load_state_dict(source.state_dict(), strict=True)
    prior = {"chars_seen": 0, "steps": 0, "log": []}
    summary_path = directory / "training_summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        prior["chars_seen"] = int(summary.get("characters_seen", 0))
        prior["steps"] = int(summary.get("steps", 0))
    if (directory / LOG_FILE).is_file():
        prior["log"] = [{k: (int(v) if k in ("step", "chars_seen") else v) for k, v in row.items()}
                        for row in read_log(directory / LOG_FILE)]
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
    out.mkdir(parents=True, exist_ok=True)
    device = config.resolved_device()
    checkpoint_path = out / CHECKPOINT_FILE
    state = None
    if resume:
        if not checkpoint_path.exists():
            raise FileNotFoundError(f"--resume: no checkpoint in {out}")
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        # The run continues with its saved configuration; only the device and the budget may change
        # (a larger --max-chars or --epochs extends a finished or interrupted run).
        saved = asdict(TrainConfig(**state["train_config"]))
        overrides = {key: value for key, value in (resume_overrides or {}).items() if value is not None}
        if "epochs" in overrides and "max_chars" not in overrides:
            overrides["max_chars"] = None  # --epochs replaces a character budget
        config = TrainConfig(**(saved | {"device": config.device} | overrides))
        if overrides:
            log("resume: budget changed to " + json.dumps(overrides))
    elif checkpoint_path.exists():
        raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose --out")

    log("configuration: " + json.dumps(asdict(config), sort_keys=True))
    (out / TRAIN_CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2, sort_keys=True))
    if dataset is None:
        dataset = prepare_dataset(
            config.corpus,
            DatasetConfig(vocab_words=config.vocab_words, max_seq_len=config.seq_len, seed=config.data_seed),
            log=log,
        )

    torch.manual_seed(config.seed)
    model_config = ModelConfig(unit=config.unit, hidden_size=config.hidden_size, num_layers=config.num_layers,
                               embedding_size=config.embedding_size or config.hidden_size,
                               words=list(dataset.words), max_seq_len=config.seq_len)
    model = AutocompleteRNN(model_config).to(device)
    prior = {"chars_seen": 0, "steps": 0, "log": []}  # what the warm-start model had already been trained on
    if config.init_from and state is None:
        prior = warm_start(model, config.init_from)
        log(f"warm start from {config.init_from}: {prior['chars_seen']:,} characters seen before")
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    progress_state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "chars_seen": 0, "seconds": 0.0,
                      "next_valid": config.valid_every_chars}
    log_rows: list[dict] = list(prior["log"])
    progress_state["prior_chars"] = prior["chars_seen"]
    progress_state["prior_steps"] = prior["steps"]
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        progress_state = state["progress"]
        log_rows = state["log"]
        log(f"resume: step {progress_state['step']}, {progress_state['chars_seen']:,} characters seen")

    log_q = log_uniform_log_q(model_config.vocab_size, config.num_sampled, device)
    starts, lengths, held_out = training_sequences(dataset)
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

            if stop_requested:
                raise KeyboardInterrupt
            done = progress_state["chars_seen"] >= planned
            if progress_state["chars_seen"] >= progress_state["next_valid"] or done:
                valid = validation_loss(model, dataset, config.valid_chars, device)
                memory = validation_memory(model, dataset, config.memory_positions)
                model.train()
                row = {"step": progress_state.get("prior_steps", 0) + progress_state["step"],
                       "chars_seen": progress_state.get("prior_chars", 0) + progress_state["chars_seen"],
                       "seconds": round(time.monotonic() - started, 2),
                       "train_loss": round(window_loss / window_steps, 5), "valid_loss": round(valid, 5), **memory}
                log_rows.append(row)
                bar.write(f"step {row['step']}: {row['chars_seen']:,} chars, train {row['train_loss']:.3f}, "
                          f"valid {row['valid_loss']:.3f}"
                          + (f", context share {row['context_share']:.3f}, d90 {row['d90']:.1f}" if memory else ""))
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

    finish(model, out, config, dataset, progress_state, log_rows, device)
    log(f"done: model written to {out}")
    return model.eval()


def finish(model: AutocompleteRNN, out: Path, config: TrainConfig, dataset: PreparedDataset, progress: dict,
           log_rows: list[dict], device: str, dtype: torch.dtype = torch.float32, *,
           max_shard_size: int | None = None, extra: dict | None = None) -> None:
    """Write the model directory: weights (sharded with ``max_shard_size``, see AutocompleteRNN.save),
    config, training log, summary (with ``extra``'s fields added), model card."""
    model.cpu().eval().save(out, dtype=dtype, max_shard_size=max_shard_size)
    (out / TRAIN_CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2, sort_keys=True))
    write_log(out / LOG_FILE, log_rows)
    summary = {"corpus": getattr(dataset, "description", config.corpus),
               **_summary(config, dataset, progress, log_rows, device), **(extra or {})}
    (out / "training_summary.json").write_text(json.dumps(summary, indent=2))
    write_model_card(out, model, training=summary)


def _summary(config: TrainConfig, dataset: PreparedDataset, progress: dict, log_rows: list[dict],
             device: str) -> dict:
    """What the model card and training_summary.json say about a run."""
    last = log_rows[-1] if log_rows else {}
    prior = progress.get("prior_chars", 0)
    return {
        "characters_seen": prior + progress["chars_seen"],
        **({"warm_start": {"from": config.init_from, "characters_seen_before": prior}} if prior else {}),
        "steps": progress.get("prior_steps", 0) + progress["step"],
        "epochs_completed": round((prior + progress["chars_seen"]) / max(dataset.split_chars("train"), 1), 3),
        "batch_size": config.batch_size,
        "softmax": config.softmax + (f" ({config.num_sampled} negatives)" if config.softmax == "sampled" else ""),
        "learning_rate": config.learning_rate,
        "learning_rate_schedule": (config.lr_schedule if config.lr_schedule == "constant" else
                                   f"{config.lr_schedule} to {config.learning_rate * config.min_lr_ratio:g}")
                                  + (f", {config.warmup_chars:,}-character warm-up" if config.warmup_chars else ""),
        "gradient_clipping": config.grad_clip or "none",
        "device": device,
        "seconds": progress["seconds"],
        "final_train_loss": last.get("train_loss"),
        "final_valid_loss": last.get("valid_loss"),
    }


def write_log(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS, restval="")  # older rows lack the memory columns
        writer.writeheader()
        writer.writerows(rows)


def read_log(path: str | Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
                for row in csv.DictReader(f)]


def export_checkpoint(run_dir: str | Path, out: str | Path, *, dtype: torch.dtype = torch.float32,
                      log=print) -> Path:
    """Write a model directory from a run's latest checkpoint (a run still going, or interrupted), so
    its current weights can be used before training ends."""
    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / CHECKPOINT_FILE).exists():
        raise FileNotFoundError(f"no checkpoint in {run_dir}")
    state = torch.load(run_dir / CHECKPOINT_FILE, map_location="cpu", weights_only=False)
    config = TrainConfig(**state["train_config"])
    dataset = prepare_dataset(
        config.corpus,
        DatasetConfig(vocab_words=config.vocab_words, max_seq_len=config.seq_len, seed=config.data_seed), log=log)
    model = AutocompleteRNN(ModelConfig(unit=config.unit, hidden_size=config.hidden_size,
                                        num_layers=config.num_layers,
                                        embedding_size=config.embedding_size or config.hidden_size,
                                        words=list(dataset.words), max_seq_len=config.seq_len))
    model.load_state_dict(state["model"], strict=True)
    out.mkdir(parents=True, exist_ok=True)
    finish(model, out, config, dataset, state["progress"], state["log"], config.resolved_device(), dtype)
    log(f"exported step {state['progress']['step']} of {run_dir} to {out}")
    return out
