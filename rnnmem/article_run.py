"""The article-size models on one GPU, to a wall-clock budget: probe, plan, train, evaluate, pack.

``run(config)`` trains each unit of ``config.units`` at the article's size (2 layers x 600; the Nested LSTM
one layer of depth 2, as the shipped models: README, "Where we deviate") on a corpus, one unit after the
other, and leaves in ``config.out`` only what may come back from the GPU machine: each unit's model
directory packed into checksummed parts (rnnmem.packing) and the run log ``run.log``. The other end,
turning the parts that came back into shipped model directories, is rnnmem.article_collect.

The time plan, measured on the machine it runs on (everything counts against ``time_budget``):

1. The corpus is prepared in a child process while the GPU is probed. (A thread would hold the GIL for
   the preparation's Python loops and slow the probe's kernel launches, distorting what it measures.)
2. Probe: ``probe_steps`` timed optimiser steps of each unit at each candidate batch size, on synthetic
   batches of the real shape; for the Nested LSTM on CUDA also with its recurrent stack in a CUDA graph.
3. Plan (``plan_units``): the time left, less a reserve per unit for its evaluation and packing, is shared
   among the units still to train. If every unit can reach the target (``epochs`` over the training
   split) at its fastest batch size, each gets its share of the spare time too and trains to the target
   with the smallest batch size that still fits (more, smaller steps); otherwise every unit gets the same
   fraction of its target, at its fastest batch size. Re-planned before each unit, so time one unit did
   not use goes to the next; units train in ``units`` order (the GRU and LSTM first by default).
4. Training: full softmax, Adam at ``base_lr`` x sqrt(batch / 64) (the article: 1e-3 at batch 64; capped
   at ``max_lr``), linear warm-up, cosine decay to the unit's end, gradient clipping. At every validation
   (a fixed validation subset, every ``valid_every_seconds``) the characters still to train are
   re-estimated from the rate measured so far, so that the decay ends at the unit's deadline. Every
   improvement is written as a float16 model directory and packed into ``out``: a run stopped at any
   point (its deadline, SIGTERM, a crash, a kill) leaves each unit's best weights so far.
5. Evaluation: the best weights as stored (float16) on the test and validation splits, and in float32 on
   the test split for the float16 drift.

Precision (CUDA): the recurrent stack in float32 with TF32 matrix products, the dense layer and loss (most
of the arithmetic: 16,386 word logits per character) under bfloat16 autocast. The recurrent stack stays
outside autocast because autocast runs cuDNN's RNNs in float16, whatever dtype it was asked for
(aten/src/ATen/cudnn/AutocastRNN.cpp casts to kHalf), and float16 gradients without loss scaling can
underflow. The Nested LSTM has no fused kernel: its time loop is ~30 small kernels per step, launched
from Python; on CUDA its recurrent stack can run as a CUDA graph (torch.cuda.make_graphed_callables),
replayed without Python. The probe measures both and keeps the faster.

Longer than the package's other modules (about 700 lines) because it is one program with one time
budget: probe, plan, the training loop with its deadline-aware schedule and packing, and evaluation share
the clock and the stop signal; its pure parts (plan_units, the packing in rnnmem.packing) are tested alone.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .accuracy import accuracy_by_chars_seen
from .dataset import DatasetConfig, PreparedDataset, load_dataset, make_batch, prepare_dataset
from .losses import validation_loss
from .model import AutocompleteRNN, ModelConfig
from .packing import PACK_OVERHEAD_BYTES, PART_BYTES, check_return_limits, pack_directory
from .runconfig import TrainConfig, learning_rate_at
from .runfiles import CorpusFacts, finish
from .train import epoch_order, training_sequences
from .units import UNITS

RUN_LOG = "run.log"
# How a unit's training ended (said after "it" in the logs and model cards).
REACHED_TARGET = "reached its target"
USED_ITS_TIME = "used its time: its learning-rate schedule ran to the end, short of the target"
HIT_DEADLINE = "hit its deadline"
SIGNALLED = "was stopped by a signal"
DIVERGED = "diverged (non-finite loss); the best weights before that are kept"
STILL_TRAINING = "was still training (these are the best weights so far)"
RUN_CONFIG_FILE = "article_run.json"  # the run's configuration and this unit's plan, beside the model
EVALUATION_BATCH = 256


@dataclass
class ArticleRunConfig:
    # what to train, in order of priority (a run cut short has trained the first ones)
    units: tuple[str, ...] = ("gru", "lstm", "rnn", "nlstm")
    hidden_size: int = 600  # units per layer and embedding width (the article: 600)
    num_layers: int = 2  # GRU, LSTM, RNN layers (the article: 2)
    nlstm_layers: int = 1  # Nested LSTM layers of depth 2 (the published code: 1; same parameters as 2 LSTM layers)
    # data
    corpus: str = "text8"
    vocab_words: int = 2**14
    seq_len: int = 200
    data_seed: int = 0  # the split; the same as every other model's, so test figures compare
    epochs: float = 2.0  # the target per unit (the article: 2 epochs at batch 64)
    # time, in seconds of wall clock from the start of run()
    time_budget: float = 270.0
    reserve_seconds: float = 25.0  # per unit: last validation, evaluation, packing (measured after the first)
    safety_seconds: float = 10.0  # kept free at the end
    probe_steps: int = 3  # timed steps per probe (after two untimed ones)
    # optimisation
    batch_sizes: tuple[int, ...] = (256, 1024)  # candidates; the plan picks one per unit
    base_lr: float = 1e-3  # Adam's peak rate at batch 64 (the article's rate), scaled by sqrt(batch / 64)
    max_lr: float = 4e-3
    warmup_fraction: float = 0.03  # of each unit's planned characters
    min_lr_ratio: float = 0.05  # the cosine ends at this fraction of the peak
    grad_clip: float = 1.0  # global norm (the article: none; at 4x its rate, a guard against spikes)
    precision: str = "bf16-output"  # "bf16-output": dense layer and loss in bfloat16 (see above); "fp32"
    cuda_graphs: str = "auto"  # Nested LSTM on CUDA: "auto" (probe both ways, keep the faster), "on", "off"
    # bookkeeping
    valid_chars: int = 1_000_000  # fixed validation subset during training
    valid_every_seconds: float = 30.0
    eval_chars: int = 2_000_000  # characters of the test and validation splits evaluated at the end (0: all)
    max_shard_size: int | None = 15_000_000  # bytes per safetensors shard (None: one model.safetensors)
    part_bytes: int = PART_BYTES  # bytes per returned part (rnnmem.packing)
    out: str = "article-out"  # what comes back: parts and run.log, nothing else
    return_limits: bool = True  # refuse units whose packs could not come back from the GPU machine in one call
    work: str | None = None  # scratch (model directories before packing); default: a temporary folder
    device: str = "auto"
    seed: int = 0

    def __post_init__(self):
        self.units = tuple(self.units)
        self.batch_sizes = tuple(sorted(set(self.batch_sizes)))
        unknown = [unit for unit in self.units if unit not in UNITS]
        if unknown or not self.units:
            raise ValueError(f"units must be some of {', '.join(UNITS)}; got {', '.join(self.units) or 'none'}")
        if self.precision not in ("bf16-output", "fp32"):
            raise ValueError(f"precision is bf16-output or fp32, not {self.precision!r}")
        if self.cuda_graphs not in ("auto", "on", "off"):
            raise ValueError(f"cuda_graphs is auto, on or off, not {self.cuda_graphs!r}")

    def layers(self, unit: str) -> int:
        return self.nlstm_layers if unit == "nlstm" else self.num_layers

    def resolved_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device


# ---- the log and the stop signal ----------------------------------------------------------------------

class RunLog:
    """Each line to stderr and appended to ``out/run.log`` (flushed: a killed run keeps its log), with
    the seconds since the run started."""

    def __init__(self, path: Path, started: float):
        self.path, self.started = path, started

    def __call__(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:7.1f}s] {message}"
        print(line, file=sys.stderr, flush=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class StopSignal:
    """SIGTERM or SIGINT asks the run to stop at the next step: what is packed stays as it is."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def __enter__(self) -> "StopSignal":
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: no graceful stop there
                pass
        return self

    def _handle(self, *_) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


# ---- one training step ----------------------------------------------------------------------------------

class RecurrentStack(nn.Module):
    """A model's recurrent layers as a module of their own: embedded characters (B, T, E) in, the top
    layer's outputs (B, T, H) out. torch.cuda.make_graphed_callables captures a module with exactly the
    parameters it uses, so the embedding and dense layer (run eagerly) must not be in it."""

    def __init__(self, model: AutocompleteRNN):
        super().__init__()
        self.layers = model.layers if model.unit == "nlstm" else nn.ModuleList([model.recurrent])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x, _ = layer(x)
        return x


class TrainStep:
    """One optimiser step on a batch: embedding, recurrent stack, dense layer and loss (in bfloat16 with
    precision "bf16-output"), backward, gradient clipping, Adam. Returns the loss, still on the device (no
    synchronisation per step). With ``graphs`` (CUDA only) the recurrent stack is a CUDA graph captured for
    batches of exactly (batch_size, seq_len): pad every batch to that shape (``fixed_shape``)."""

    def __init__(self, model: AutocompleteRNN, config: ArticleRunConfig, batch_size: int, device: str,
                 graphs: bool = False):
        self.model, self.clip = model, config.grad_clip
        self.output_dtype = torch.bfloat16 if config.precision == "bf16-output" else None
        cuda = device.startswith("cuda")
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.base_lr, fused=True if cuda else None)
        self.recurrent = model.recurrent_from_embeddings
        self.fixed_shape: tuple[int, int] | None = None
        if graphs:  # CUDA only
            sample = torch.randn(batch_size, config.seq_len, model.config.embedding_size, device=device,
                                 requires_grad=True)
            self.recurrent = torch.cuda.make_graphed_callables(RecurrentStack(model), (sample,))
            self.fixed_shape = (batch_size, config.seq_len)
            check_same_function(self.recurrent, model.recurrent_from_embeddings, sample)

    def __call__(self, chars: torch.Tensor, targets: torch.Tensor, lr: float) -> torch.Tensor:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        hidden = self.recurrent(self.model.embedding(chars))  # (B, T, H)
        _, loss = self.model.head(hidden, targets, output_dtype=self.output_dtype)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        return loss.detach()


def check_same_function(fast, reference, sample: torch.Tensor, tolerance: float = 1e-3) -> None:
    """Raise RuntimeError unless ``fast`` (a captured graph) gives ``reference``'s outputs and input
    gradients on fresh random data shaped like ``sample``: a capture that silently computed something
    else would only show as a model that does not learn."""
    x = torch.randn_like(sample).requires_grad_(True)
    out_fast = fast(x)
    weights = torch.randn_like(out_fast)
    (grad_fast,) = torch.autograd.grad(out_fast, x, weights)
    out_fast = out_fast.detach().clone()  # a graph's outputs are overwritten by its next replay
    out_ref = reference(x)
    (grad_ref,) = torch.autograd.grad(out_ref, x, weights)
    for what, a, b in (("outputs", out_fast, out_ref), ("input gradients", grad_fast, grad_ref)):
        error = ((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-12)).item()
        if not error <= tolerance:
            raise RuntimeError(f"the captured graph's {what} differ from the eager ones (relative error {error:.2g})")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _new_model(config: ArticleRunConfig, unit: str, words: list[str], device: str) -> AutocompleteRNN:
    torch.manual_seed(config.seed)
    return AutocompleteRNN(ModelConfig(unit=unit, hidden_size=config.hidden_size, num_layers=config.layers(unit),
                                       embedding_size=config.hidden_size, words=words,
                                       max_seq_len=config.seq_len)).to(device)


# ---- probe and plan -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Throughput:
    unit: str
    batch_size: int
    graphs: bool
    chars_per_second: float | None  # characters of (batch_size, seq_len) batches; None if it failed
    note: str = ""  # why it failed


def probe(config: ArticleRunConfig, vocab_size: int, device: str, log) -> list[Throughput]:
    """Time ``probe_steps`` steps of every unit at every batch size (and, for the Nested LSTM on CUDA, with
    and without the CUDA graph), on random batches of the real shape."""
    words = ["<eos>", "<unknown>"] + [f"w{i}" for i in range(vocab_size - 2)]
    results = []
    for unit in config.units:
        for batch_size in config.batch_sizes:
            for graphs in _graph_modes(config, unit, device):
                results.append(_probe_one(config, unit, batch_size, graphs, words, device))
                r = results[-1]
                log(f"probe {unit} batch {batch_size}{' graph' if graphs else ''}: "
                    + (f"{r.chars_per_second:,.0f} chars/s" if r.chars_per_second else f"failed ({r.note})"))
    return results


def _graph_modes(config: ArticleRunConfig, unit: str, device: str) -> tuple[bool, ...]:
    if unit != "nlstm" or not device.startswith("cuda") or config.cuda_graphs == "off":
        return (False,)
    return (True,) if config.cuda_graphs == "on" else (False, True)


def _probe_one(config: ArticleRunConfig, unit: str, batch_size: int, graphs: bool, words: list[str],
               device: str) -> Throughput:
    model = step = None
    try:
        model = _new_model(config, unit, words, device)
        step = TrainStep(model, config, batch_size, device, graphs=graphs)
        generator = torch.Generator().manual_seed(config.seed)
        chars = torch.randint(1, 28, (batch_size, config.seq_len), generator=generator).to(device)
        # Zipf-like targets, as real word frequencies are
        ranks = torch.rand(batch_size, config.seq_len, generator=generator).pow(3) * (len(words) - 2)
        targets = (ranks.long() + 2).to(device)
        for _ in range(2):  # untimed: cuDNN plans, allocator growth
            step(chars, targets, 1e-5)
        _sync(device)
        started = time.perf_counter()
        for _ in range(config.probe_steps):
            loss = step(chars, targets, 1e-5)
        _sync(device)
        if not torch.isfinite(loss):
            return Throughput(unit, batch_size, graphs, None, "non-finite loss")
        rate = batch_size * config.seq_len * config.probe_steps / (time.perf_counter() - started)
        return Throughput(unit, batch_size, graphs, rate)
    except Exception as error:  # out of memory, a capture the driver refuses: that option is out
        return Throughput(unit, batch_size, graphs, None, f"{type(error).__name__}: {str(error)[:120]}")
    finally:
        del model, step
        if device.startswith("cuda"):
            torch.cuda.empty_cache()


@dataclass(frozen=True)
class UnitPlan:
    unit: str
    batch_size: int
    graphs: bool
    chars_per_second: float  # expected training rate (real characters)
    seconds: float  # training time given to the unit
    chars: int  # characters to train on: the target, or what the time allows


def plan_units(rates: dict[str, dict[tuple[int, bool], float]], target_chars: int,
               seconds: float) -> dict[str, UnitPlan]:
    """Share ``seconds`` of training among units, from measured rates (unit -> {(batch size, graphs):
    characters per second}). A unit with no rate is left out.

    If every unit reaches ``target_chars`` at its fastest setting within the time, each also gets a share
    of the spare time in proportion to its need, and trains to the target with the smallest batch size
    that reaches it in its share. Otherwise every unit gets the same fraction of the target, at its
    fastest setting (time in proportion to its need)."""
    fastest = {}
    for unit, by_setting in rates.items():
        usable = {setting: rate for setting, rate in by_setting.items() if rate}
        if usable:
            fastest[unit] = max(usable.items(), key=lambda item: item[1])
    need = {unit: target_chars / rate for unit, (_, rate) in fastest.items()}
    total = sum(need.values())
    plans = {}
    if total <= 0 or seconds <= 0:
        return plans
    if total >= seconds:
        fraction = seconds / total
        for unit, ((batch_size, graphs), rate) in fastest.items():
            plans[unit] = UnitPlan(unit, batch_size, graphs, rate, fraction * need[unit], int(fraction * target_chars))
        return plans
    spare = seconds - total
    for unit, ((batch_size, graphs), rate) in fastest.items():
        share = need[unit] + spare * need[unit] / total
        # the smallest batch size that reaches the target in the share, at its faster graph mode
        fitting = sorted((b, -r, g) for (b, g), r in rates[unit].items() if r and target_chars / r <= share)
        batch_size, rate, graphs = fitting[0][0], -fitting[0][1], fitting[0][2]
        # its deadline is the whole share, not the time the probe predicts: real batches run slower or
        # faster than the probe's, and a unit that reaches its target early leaves the rest to the next
        plans[unit] = UnitPlan(unit, batch_size, graphs, rate, share, target_chars)
    return plans


def peak_learning_rate(config: ArticleRunConfig, batch_size: int) -> float:
    """Adam's peak rate for ``batch_size``: the square-root scaling of the article's rate at batch 64."""
    return min(config.max_lr, config.base_lr * math.sqrt(batch_size / 64))


# ---- the dataset, prepared beside the probe -------------------------------------------------------------

def _prepare_in_child(corpus: str, dataset_config: DatasetConfig, results) -> None:
    started = time.monotonic()
    dataset = prepare_dataset(corpus, dataset_config, log=lambda message: None)
    results.put((str(Path(dataset.chars.filename).parent), dataset.description, time.monotonic() - started))


class DatasetInBackground:
    """Prepare (or find in the cache) the dataset in a child process; ``result()`` waits for it and opens
    the cached arrays (memory-mapped) here, without reading the corpus again."""

    def __init__(self, corpus: str, dataset_config: DatasetConfig):
        self.corpus = corpus
        context = multiprocessing.get_context("spawn")  # not fork: this process may hold a CUDA context
        self.results = context.Queue()
        self.process = context.Process(target=_prepare_in_child, args=(corpus, dataset_config, self.results),
                                       daemon=True)
        self.process.start()

    def result(self, log) -> PreparedDataset:
        self.process.join()
        if self.process.exitcode != 0:
            raise RuntimeError(f"preparing the dataset from {self.corpus} failed (exit {self.process.exitcode}); "
                               "run `python -m rnnmem train --corpus ...` once to see why")
        folder, description, seconds = self.results.get(timeout=30)
        dataset = load_dataset(Path(folder))
        dataset.description = description  # type: ignore[attr-defined]
        log(f"dataset: {description}, {len(dataset.words):,} classes, ready in {seconds:.1f}s ({folder})")
        return dataset

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()


# ---- training one unit -----------------------------------------------------------------------------------

@dataclass
class UnitResult:
    unit: str
    directory: Path | None  # the last exported model directory (best weights), if any
    stopped: str  # why training ended
    chars_trained: int = 0
    best_valid_loss: float = math.inf


class UnitRun:
    """Trains one unit to its deadline and keeps its best weights exported and packed."""

    def __init__(self, config: ArticleRunConfig, plan: UnitPlan, dataset: PreparedDataset, device: str,
                 work: Path, log, stop: StopSignal, probed: list[Throughput]):
        self.config, self.plan, self.dataset, self.device, self.log, self.stop = (
            config, plan, dataset, device, log, stop)
        self.probed = probed  # this unit's probe measurements, kept beside the model
        self.unit = plan.unit
        self.directory = work / self.unit
        self.unit_started = time.monotonic()  # reset when training starts; the card's wall time counts from there
        self.target = int(config.epochs * dataset.split_chars("train"))
        self.train_config = TrainConfig(
            unit=self.unit, hidden_size=config.hidden_size, num_layers=config.layers(self.unit),
            corpus=config.corpus, vocab_words=config.vocab_words, seq_len=config.seq_len,
            data_seed=config.data_seed, epochs=config.epochs, max_chars=plan.chars, batch_size=plan.batch_size,
            learning_rate=peak_learning_rate(config, plan.batch_size), lr_schedule="cosine",
            warmup_chars=max(int(config.warmup_fraction * plan.chars), plan.batch_size * config.seq_len),
            min_lr_ratio=config.min_lr_ratio, grad_clip=config.grad_clip, softmax="full",
            bf16_output=config.precision == "bf16-output", valid_every_chars=0, valid_chars=config.valid_chars,
            memory_positions=0, checkpoint_every_seconds=config.valid_every_seconds, seed=config.seed,
            device=device)
        self.progress = {"step": 0, "chars_seen": 0, "seconds": 0.0, "prior_chars": 0, "prior_steps": 0}
        self.log_rows: list[dict] = []
        self.best = None  # (valid loss, float32 state dict on the CPU, progress at that point)
        self.wrap_up_started: float | None = None  # when training ended: what follows is the reserve's

    # The loop -------------------------------------------------------------------------------------------

    def train(self, deadline: float) -> UnitResult:
        config, plan, dataset, device = self.config, self.plan, self.dataset, self.device
        model = _new_model(config, self.unit, list(dataset.words), device)
        try:
            step = TrainStep(model, config, plan.batch_size, device, graphs=plan.graphs)
        except Exception as error:  # a capture refused at this point: the eager path does the same work
            self.log(f"{self.unit}: CUDA graph capture failed ({type(error).__name__}: {error}); training eagerly")
            model = _new_model(config, self.unit, list(dataset.words), device)
            step = TrainStep(model, config, plan.batch_size, device)
        planned = plan.chars
        self.log(f"{self.unit}: batch {plan.batch_size}{' (graph)' if step.fixed_shape else ''}, "
                 f"peak lr {self.train_config.learning_rate:.2g}, {plan.seconds:.0f}s for {planned:,} characters "
                 f"({planned / dataset.split_chars('train'):.2f} epochs) at ~{plan.chars_per_second:,.0f}/s")
        starts, lengths, held_out = training_sequences(dataset)  # the walkthrough paragraph is never trained on
        if len(held_out):
            self.log(f"{self.unit}: {len(held_out)} training sequences hold part of the article's walkthrough "
                     "paragraph and are left out")
        self.unit_started = time.monotonic()
        per_epoch = len(starts) // plan.batch_size  # the last, partial batch is dropped (graphs need one shape)
        if per_epoch == 0:
            raise ValueError(f"the training split has {len(starts)} sequences, fewer than a batch of {plan.batch_size}")
        started = time.monotonic()
        last_valid = started
        window_loss, window_steps = None, 0
        stopped = None
        epoch, batch, order = 0, 0, epoch_order(len(starts), config.seed, 0)
        model.train()
        while stopped is None:
            if batch >= per_epoch:
                epoch, batch = epoch + 1, 0
                order = epoch_order(len(starts), config.seed, epoch)
            idx = np.sort(order[batch * plan.batch_size:(batch + 1) * plan.batch_size])
            batch += 1
            chars, targets = self._batch(starts[idx], lengths[idx], step.fixed_shape)
            lr = learning_rate_at(self.train_config, self.progress["chars_seen"], planned)
            loss = step(chars, targets, lr)
            window_loss = loss if window_loss is None else window_loss + loss
            window_steps += 1
            self.progress["step"] += 1
            self.progress["chars_seen"] += int(lengths[idx].sum())
            now = time.monotonic()
            if self.stop.requested:
                stopped = SIGNALLED
                break
            if self.progress["chars_seen"] >= self.target:
                stopped = REACHED_TARGET
            elif self.progress["chars_seen"] >= planned:
                stopped = USED_ITS_TIME
            elif now >= deadline:
                stopped = HIT_DEADLINE
            elif now - last_valid < config.valid_every_seconds:
                continue
            if stopped:
                self.wrap_up_started = now
            _sync(device)
            self.progress["seconds"] = time.monotonic() - started
            diverged = not self._validate(model, (window_loss / window_steps).item(), now - started)
            window_loss, window_steps, last_valid = None, 0, time.monotonic()
            if diverged:
                stopped = DIVERGED
            # Re-plan: the characters that fit before the deadline at the rate measured so far (wall time,
            # validations and exports included), so that the cosine ends when the time does.
            rate = self.progress["chars_seen"] / max(time.monotonic() - started, 1e-9)
            planned = int(min(self.target, max(self.progress["chars_seen"] + 1,
                                               self.progress["chars_seen"] + rate * (deadline - time.monotonic()))))
        self.progress["seconds"] = time.monotonic() - started
        self.log(f"{self.unit}: {stopped} after {self.progress['chars_seen']:,} characters, "
                 f"{self.progress['step']} steps, {self.progress['seconds']:.0f}s")
        if self.best is not None and not self.stop.requested:
            self._export(stopped)  # the best weights again, with the final reason and log
        return UnitResult(self.unit, self.directory if self.best else None, stopped, self.progress["chars_seen"],
                          self.best[0] if self.best else math.inf)

    def _batch(self, starts: np.ndarray, lengths: np.ndarray, fixed_shape):
        chars, targets = make_batch(self.dataset, starts, lengths, self.config.seq_len)
        if fixed_shape is not None and chars.shape[1] < fixed_shape[1]:  # pad with <eos> (masked)
            pad = fixed_shape[1] - chars.shape[1]
            chars, targets = (torch.nn.functional.pad(t, (0, pad)) for t in (chars, targets))
        if self.device.startswith("cuda"):  # CUDA only: copies that do not wait for the GPU
            return chars.pin_memory().to(self.device, non_blocking=True), \
                targets.pin_memory().to(self.device, non_blocking=True)
        return chars, targets

    def _validate(self, model: AutocompleteRNN, train_loss: float, seconds: float) -> bool:
        """Log a validation row; export and pack the weights when they are the best so far. False when
        the run has diverged."""
        valid = validation_loss(model, self.dataset, self.config.valid_chars, self.device,
                                batch_size=EVALUATION_BATCH)
        model.train()
        self.log_rows.append({"step": self.progress["step"], "chars_seen": self.progress["chars_seen"],
                              "seconds": round(seconds, 2), "train_loss": round(train_loss, 5),
                              "valid_loss": round(valid, 5)})
        finite = math.isfinite(train_loss) and math.isfinite(valid)
        improved = finite and (self.best is None or valid < self.best[0])
        self.log(f"{self.unit}: step {self.progress['step']}, {self.progress['chars_seen']:,} chars, "
                 f"train {train_loss:.3f}, valid {valid:.3f}{' (best, packed)' if improved else ''}")
        if improved:
            state = {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}
            self.best = (valid, state, dict(self.progress))
            self._export(STILL_TRAINING)
        return finite

    def _export(self, stopped: str) -> None:
        """Write the best weights as a float16 model directory and pack it into the output folder."""
        valid, state, progress = self.best
        snapshot = AutocompleteRNN(self.model_config)
        snapshot.load_state_dict(state)
        extra = {"gpu": device_name(self.device), "precision": self._precision(),
                 "wall_seconds": round(time.monotonic() - self.unit_started, 1), "stopped": stopped,
                 "characters_trained": self.progress["chars_seen"], "target_characters": self.target,
                 "best_valid_loss": round(valid, 5), "time_budget_seconds": self.config.time_budget}
        finish(snapshot, self.directory, self.train_config, CorpusFacts.of(self.dataset), progress, self.log_rows, self.device,
               dtype=torch.float16, max_shard_size=self.config.max_shard_size, extra=extra)
        (self.directory / RUN_CONFIG_FILE).write_text(json.dumps(
            {"run": asdict(self.config), "plan": asdict(self.plan), "probe": [asdict(t) for t in self.probed]},
            indent=2, default=str))
        pack_directory(self.directory, Path(self.config.out), self.unit, self.config.part_bytes)

    @property
    def model_config(self) -> ModelConfig:
        config = self.config
        return ModelConfig(unit=self.unit, hidden_size=config.hidden_size, num_layers=config.layers(self.unit),
                           embedding_size=config.hidden_size, words=list(self.dataset.words),
                           max_seq_len=config.seq_len)

    def _precision(self) -> str:
        if not self.device.startswith("cuda"):
            return "float32" + (", dense layer in bfloat16" if self.config.precision == "bf16-output" else "")
        return ("float32 recurrent stack (TF32 products)" + (" as a CUDA graph" if self.plan.graphs else "")
                + (", dense layer and loss in bfloat16" if self.config.precision == "bf16-output" else ""))


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return "cpu"


# ---- evaluation ------------------------------------------------------------------------------------------

def evaluate_split(model: AutocompleteRNN, dataset: PreparedDataset, split: str, max_chars: int) -> dict:
    """Accuracy by characters seen and cross-entropy on the first ``max_chars`` characters of ``split``
    (0: all of it), as ``python -m rnnmem evaluate --json`` reports them."""
    starts, lengths = dataset.sequences(split)

    def sequences():
        seen = 0
        for start, length in zip(starts.tolist(), lengths.tolist()):
            if max_chars and seen >= max_chars:
                return
            seen += length
            yield (np.asarray(dataset.chars[start:start + length]),
                   np.asarray(dataset.targets[start:start + length], dtype=np.int64))

    result = accuracy_by_chars_seen(model, sequences(), batch_size=EVALUATION_BATCH)
    return {"model": model.unit, "unit": model.unit, "corpus": getattr(dataset, "description", ""),
            "split": split, **result.as_dict()}


def evaluate_unit(result: UnitResult, dataset: PreparedDataset, config: ArticleRunConfig, device: str,
                  best_state: dict, log) -> None:
    """Evaluate the stored (float16) weights on the test and validation splits and the float32 ones on the
    test split; write evaluation_test.json, evaluation_valid.json and the drift into the directory."""
    stored = AutocompleteRNN.from_directory(result.directory).to(device)
    reports = {split: evaluate_split(stored, dataset, split, config.eval_chars) for split in ("test", "valid")}
    full = AutocompleteRNN(stored.config)
    full.load_state_dict(best_state)
    test32 = evaluate_split(full.to(device).eval(), dataset, "test", config.eval_chars)
    drift = max(abs(a - b) for k in ("top1", "top2", "top3")
                for a, b in zip(test32["accuracy_by_chars_seen"][k], reports["test"]["accuracy_by_chars_seen"][k]))
    for split, report in reports.items():
        (result.directory / f"evaluation_{split}.json").write_text(json.dumps(report, indent=1))
    summary_path = result.directory / "training_summary.json"
    summary = json.loads(summary_path.read_text())
    summary["float16_test_accuracy_drift"] = round(drift, 5)
    summary_path.write_text(json.dumps(summary, indent=2))
    top1 = reports["test"]["accuracy_by_chars_seen"]["top1"]
    log(f"{result.unit}: test cross-entropy {reports['test']['cross_entropy']:.3f}, top-1 at 0-3 characters seen "
        + " ".join(f"{v:.3f}" for v in top1[:4]) + f", float16 drift {drift:.4f}")


# ---- the whole run -------------------------------------------------------------------------------------

def estimated_pack_bytes(config: ArticleRunConfig) -> dict[str, int]:
    """An upper bound on each unit's pack, known before the corpus is read: float16 weights, config.json
    (20 bytes a word in its indented list: 16,386 words of text8 take 15.3), the other small files."""
    sizes = {}
    words = ["<eos>", "<unknown>"] + [f"w{i}" for i in range(config.vocab_words)]
    for unit in config.units:
        with torch.device("meta"):  # shapes only, no memory
            model = _new_model(config, unit, words, "meta")
        params = sum(p.numel() for p in model.parameters())
        sizes[unit] = 2 * params + 20 * len(words) + PACK_OVERHEAD_BYTES
    return sizes


def _check_sharded_save(config: ArticleRunConfig, work: Path, log) -> ArticleRunConfig:
    """Save and load a tiny model the way the run will, before any real work: huggingface_hub's sharded
    save differs between versions, and the GPU machine's is not this project's pin. If it fails, the run
    stores one model.safetensors per unit instead (the collector reshards)."""
    if config.max_shard_size is None:
        return config
    probe_dir = work / "save-check"
    try:
        model = AutocompleteRNN(ModelConfig(unit="gru", hidden_size=4, num_layers=1, embedding_size=4,
                                            words=["<eos>", "<unknown>", "a"]))
        model.save(probe_dir, dtype=torch.float16, max_shard_size=200)
        AutocompleteRNN.from_directory(probe_dir)
        return config
    except Exception as error:
        log(f"sharded saving fails here ({type(error).__name__}: {error}); storing single files")
        return replace(config, max_shard_size=None)


def run(config: ArticleRunConfig, log=None) -> dict[str, UnitResult]:
    """Probe, plan, train, evaluate and pack every unit of ``config`` within ``config.time_budget``
    seconds. Returns each trained unit's result. See the module's docstring for the plan."""
    started = time.monotonic()
    deadline = started + config.time_budget
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    log = log or RunLog(out / RUN_LOG, started)
    device = config.resolved_device()
    scratch = None if config.work else tempfile.TemporaryDirectory(prefix="rnnmem-article-")
    work = Path(config.work or scratch.name)
    work.mkdir(parents=True, exist_ok=True)
    if device.startswith("cuda"):  # CUDA only: TF32 tensor cores for the float32 products
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log(f"device {device} ({device_name(device)}), torch {torch.__version__}; units {' '.join(config.units)}; "
        f"budget {config.time_budget:.0f}s")
    if config.return_limits:
        check_return_limits(estimated_pack_bytes(config), part_bytes=config.part_bytes)
    config = _check_sharded_save(config, work, log)
    dataset_config = DatasetConfig(vocab_words=config.vocab_words, max_seq_len=config.seq_len,
                                   seed=config.data_seed)
    data = DatasetInBackground(config.corpus, dataset_config)
    results: dict[str, UnitResult] = {}
    try:
        with StopSignal() as stop:
            throughputs = probe(config, config.vocab_words + 2, device, log)
            dataset = data.result(log)
            # The probe's batches are full (seq_len real characters a row); real batches are shorter.
            _, lengths = dataset.sequences("train")
            fill = float(lengths.mean()) / config.seq_len
            rates: dict[str, dict[tuple[int, bool], float]] = {}
            for t in throughputs:
                rates.setdefault(t.unit, {})[(t.batch_size, t.graphs)] = (t.chars_per_second or 0) * fill
            target = int(config.epochs * dataset.split_chars("train"))
            reserve = config.reserve_seconds
            for i, unit in enumerate(config.units):
                if stop.requested:
                    break
                remaining = config.units[i:]
                seconds = deadline - time.monotonic() - reserve * len(remaining) - config.safety_seconds
                plans = plan_units({u: rates.get(u, {}) for u in remaining}, target, seconds)
                if unit not in plans:
                    log(f"{unit}: skipped (no time left, or every probe of it failed)")
                    continue
                unit_run = UnitRun(config, plans[unit], dataset, device, work, log, stop,
                                   [t for t in throughputs if t.unit == unit])
                try:
                    result = unit_run.train(time.monotonic() + plans[unit].seconds)
                except Exception as error:  # out of memory, a driver error: the next unit may still run
                    log(f"{unit}: training failed ({type(error).__name__}: {error}); its best weights so far stay")
                    continue
                finally:
                    if device.startswith("cuda"):
                        torch.cuda.empty_cache()
                if result.directory is None:
                    log(f"{unit}: no weights to keep (it never validated)")
                    continue
                results[unit] = result
                if stop.requested:
                    break
                try:
                    evaluate_unit(result, dataset, config, device, unit_run.best[1], log)
                    pack_directory(result.directory, out, unit, config.part_bytes)
                except Exception as error:  # the packed weights stay; the collector copes without evaluations
                    log(f"{unit}: evaluation failed ({type(error).__name__}: {error}); packed without it")
                if unit_run.wrap_up_started is not None:  # the next units' reserve: what this one took
                    reserve = 1.2 * (time.monotonic() - unit_run.wrap_up_started) + 3.0
    finally:
        data.stop()
        if scratch is not None:
            scratch.cleanup()
    log("summary: " + "; ".join(
        f"{unit} {r.chars_trained:,} chars, valid {r.best_valid_loss:.3f}, {r.stopped}" for unit, r in results.items())
        + f"; wall {time.monotonic() - started:.0f}s of {config.time_budget:.0f}s")
    log("files in the output folder: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return results
