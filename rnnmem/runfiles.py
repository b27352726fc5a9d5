"""What a training run writes beside its weights: the training log, its configuration, a summary, the card.

Read back by the app (rnnmem.settings: the Training page) and by warm starts (rnnmem.train).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .model import AutocompleteRNN
from .modelcard import write_model_card
from .runconfig import TrainConfig

LOG_FILE = "training_log.csv"
TRAIN_CONFIG_FILE = "training_config.json"
SUMMARY_FILE = "training_summary.json"
MEMORY_FILE = "memory.json"  # the memory figures a shipped model carries (rnnmem.memory_report), not a run's
LOG_FIELDS = ("step", "chars_seen", "seconds", "train_loss", "valid_loss",
              "context_share", "d50", "d90")  # the memory measure (rnnmem.memory) on a fixed validation sample


@dataclass(frozen=True)
class CorpusFacts:
    """What a model card says about the corpus a run trained on (stored in the checkpoint, so that a run
    can be exported without preparing its corpus again)."""

    description: str  # where the corpus came from
    train_chars: int  # characters of the training split: one epoch

    @classmethod
    def of(cls, dataset) -> "CorpusFacts":
        """The facts of a rnnmem.dataset.PreparedDataset."""
        return cls(dataset.description, dataset.split_chars("train"))


def finish(model: AutocompleteRNN, out: Path, config: TrainConfig, corpus: CorpusFacts, progress: dict,
           log_rows: list[dict], device: str, dtype: torch.dtype = torch.float32, *,
           max_shard_size: int | None = None, extra: dict | None = None) -> None:
    """Write the model directory: weights (sharded with ``max_shard_size``, see AutocompleteRNN.save),
    config, training log, summary (with ``extra``'s fields added), model card."""
    model.cpu().eval().save(out, dtype=dtype, max_shard_size=max_shard_size)
    (out / TRAIN_CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2, sort_keys=True))
    write_log(out / LOG_FILE, log_rows)
    summary = {"corpus": corpus.description or config.corpus,
               **_summary(config, corpus, progress, log_rows, device), **(extra or {})}
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    write_model_card(out, model, training=summary)


def progress_totals(progress: dict) -> dict:
    """Steps, characters and seconds of training so far: a run's progress counts its own (``step``,
    ``chars_seen``, ``seconds``) and holds what its warm-start model had (``prior_*``, absent before warm
    starts existed or carried their time)."""
    return {"step": progress.get("prior_steps", 0) + progress["step"],
            "chars_seen": progress.get("prior_chars", 0) + progress["chars_seen"],
            "seconds": round(progress.get("prior_seconds", 0.0) + progress["seconds"], 2)}


def _summary(config: TrainConfig, corpus: CorpusFacts, progress: dict, log_rows: list[dict],
             device: str) -> dict:
    """What the model card and training_summary.json say about a run."""
    last = log_rows[-1] if log_rows else {}
    prior, totals = progress.get("prior_chars", 0), progress_totals(progress)
    return {
        "characters_seen": totals["chars_seen"],
        **({"warm_start": {"from": config.init_from, "characters_seen_before": prior}} if prior else {}),
        "steps": totals["step"],
        "epochs_completed": round(totals["chars_seen"] / max(corpus.train_chars, 1), 3),
        "batch_size": config.batch_size,
        "softmax": config.softmax + (f" ({config.num_sampled} negatives)" if config.softmax == "sampled" else ""),
        "learning_rate": config.learning_rate,
        "learning_rate_schedule": (config.lr_schedule if config.lr_schedule == "constant" else
                                   f"{config.lr_schedule} to {config.learning_rate * config.min_lr_ratio:g}")
                                  + (f", {config.warmup_chars:,}-character warm-up" if config.warmup_chars else ""),
        "gradient_clipping": config.grad_clip or "none",
        # only when set: the loss was not the plain one (see TrainConfig.repeat_weight)
        **({"repeated_word_weight": float(config.repeat_weight)} if config.repeat_weight != 1 else {}),
        "device": device,
        "seconds": totals["seconds"],  # warm starts' included
        "final_train_loss": last.get("train_loss"),
        "final_valid_loss": last.get("valid_loss"),
    }


def cumulative_seconds(rows: list[dict]) -> list[dict]:
    """Training-log rows whose ``seconds`` count all training so far: logs written before warm starts
    carried their time restart the clock at each one (a row's seconds below the one before it), so each
    such row and the rows after it get the earlier total added. A restart whose first row is not below the
    row before it (a stage shorter than the next one's first validation) goes unseen, and the time after a
    stage's last row is not known: the result is a lower bound."""
    repaired, offset, last_raw, last_total = [], 0.0, None, 0.0
    for row in rows:
        seconds = row.get("seconds")
        if seconds is None:
            repaired.append(row)
            continue
        if last_raw is not None and seconds < last_raw:  # the clock restarted: a warm start
            offset = last_total
        last_raw, last_total = seconds, round(seconds + offset, 2)
        repaired.append({**row, "seconds": last_total})
    return repaired


def write_log(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS, restval="")  # older rows lack the memory columns
        writer.writeheader()
        writer.writerows(rows)


def read_log(path: str | Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
                for row in csv.DictReader(f)]
