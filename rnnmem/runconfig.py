"""A training run's configuration: one typed dataclass, its learning-rate schedule, and the model and
dataset configurations it implies.

Kept flat (not composed of ModelConfig and DatasetConfig) because it is stored as it is: every checkpoint
and training_config.json holds ``asdict(TrainConfig)``, and runs must resume across versions. The CLI's
defaults are read from it (rnnmem.cli), so each default is written once, here.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from .dataset import FREQUENT_WORDS, DatasetConfig, check_vocab_words
from .errors import InputError
from .model import ModelConfig
from .units import UNITS


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
    # the loss's weight at the characters of a rarer word already read in its sequence (rnnmem.breakdowns'
    # "repetition" band), against 1 elsewhere: above 1 asks the unit to recall what it read; 1: the plain loss.
    # Set when a run starts: --resume keeps the run's own
    repeat_weight: float = 1.0
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

    def check(self) -> None:
        """Raise InputError naming the first setting no run can use (a zero batch, a negative or
        non-finite rate, a validation interval of 0 that would never advance…), before any work starts."""
        def whole(name: str, low: int, value=None) -> None:
            value = getattr(self, name) if value is None else value
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise InputError(f"{name} must be a whole number of at least {low:,}, not {value!r}")

        def number(name: str, low: float, high: float = math.inf, *, above: bool = False) -> None:
            value = getattr(self, name)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and (
                low < value if above else low <= value) and value <= high
            if not ok:
                bound = f"above {low:g}" if above else f"at least {low:g}"
                raise InputError(f"{name} must be a finite number {bound}" + (
                    f" and at most {high:g}" if math.isfinite(high) else "") + f", not {value!r}")

        if self.unit not in UNITS:
            raise InputError(f"unit must be one of {', '.join(UNITS)}, not {self.unit!r}")
        for name in ("hidden_size", "num_layers", "vocab_words", "batch_size", "num_sampled", "valid_every_chars",
                     "valid_chars"):
            whole(name, 1)
        whole("seq_len", 2)
        check_vocab_words(self.vocab_words)
        for name in ("data_seed", "warmup_chars", "memory_positions", "seed"):
            whole(name, 0)
        if self.embedding_size is not None:
            whole("embedding_size", 1)
        if self.max_chars is not None:
            whole("max_chars", 1)
        else:
            number("epochs", 0.0, 1e6, above=True)
        number("learning_rate", 0.0, above=True)
        number("min_lr_ratio", 0.0, 1.0)
        number("grad_clip", 0.0)
        number("repeat_weight", 0.0, above=True)
        if self.repeat_weight != 1 and self.vocab_words <= FREQUENT_WORDS:  # it would silently change nothing
            raise InputError(f"repeat_weight weighs rarer words, beyond the {FREQUENT_WORDS} most frequent: a "
                             f"vocabulary of {self.vocab_words} words has none")
        number("checkpoint_every_seconds", 0.0, above=True)
        for name, allowed in (("lr_schedule", LR_SCHEDULES), ("softmax", ("full", "sampled")),
                              ("device", ("auto", "cpu", "cuda"))):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")

    def resolved_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def dataset_config(self) -> DatasetConfig:
        return DatasetConfig(vocab_words=self.vocab_words, max_seq_len=self.seq_len, seed=self.data_seed)

    def model_config(self, words: list[str]) -> ModelConfig:
        return ModelConfig(unit=self.unit, hidden_size=self.hidden_size, num_layers=self.num_layers,
                           embedding_size=self.embedding_size or self.hidden_size, words=list(words),
                           max_seq_len=self.seq_len)


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
        raise InputError(f"unknown learning-rate schedule {config.lr_schedule!r}; expected one of {LR_SCHEDULES}")
    span = max(planned_chars - config.warmup_chars, 1)
    progress = min(max((chars_seen - config.warmup_chars) / span, 0.0), 1.0)
    floor = peak * config.min_lr_ratio
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
