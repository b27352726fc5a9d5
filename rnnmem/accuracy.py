"""Accuracy given the characters of the word already seen (the article's accuracy figure).

At every character the model ranks the words; a character counts as a top-k hit when the word it belongs
to is among the k most likely, and the hits are grouped by how many letters of that word had been typed
(0 at its leading space). <eos> and <unknown> targets are not scored: no prediction can match them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from .dataset import UNKNOWN_ID, pad_batch
from .errors import InputError
from .inputs import text_sequences
from .model import AutocompleteRNN, masked_cross_entropy
from .suggestions import mask_specials
from .text import chars_seen_of


NOTHING_TO_SCORE = "nothing to score: the text has no words from the model's vocabulary"


@dataclass
class AccuracyResult:
    """Top-k accuracy for each number of characters seen, with the counts behind every value."""

    top1: list[float]
    top2: list[float]
    top3: list[float]
    counts: list[int]  # characters with that many characters seen (and a real target word)
    correct: dict[str, list[int]]  # top1/top2/top3 -> correct counts
    chars: int  # characters scored
    cross_entropy: float  # full-softmax masked cross-entropy over the same characters

    @classmethod
    def from_counts(cls, counts: np.ndarray, correct: np.ndarray, loss_sum: float) -> "AccuracyResult":
        n = int(np.max(np.nonzero(counts)[0]) + 1) if counts.any() else 0
        counts, correct = counts[:n], correct[:, :n]
        rates = np.divide(correct, counts, out=np.zeros(correct.shape), where=counts > 0)
        total = int(counts.sum())
        return cls(top1=rates[0].tolist(), top2=rates[1].tolist(), top3=rates[2].tolist(),
                   counts=counts.astype(int).tolist(),
                   correct={f"top{k + 1}": correct[k].astype(int).tolist() for k in range(3)},
                   chars=total, cross_entropy=loss_sum / total if total else float("nan"))

    def as_dict(self) -> dict:
        return {"chars": self.chars, "cross_entropy": self.cross_entropy,
                "accuracy_by_chars_seen": {"top1": self.top1, "top2": self.top2, "top3": self.top3},
                "counts": self.counts, "correct": self.correct}


class AccuracyAccumulator:
    """Adds up top-1/2/3 hits per number of characters seen over batches (the article's accumulator).

    ``groups`` optionally puts every scored character in one of ``n_groups`` groups, and the hits are then
    also kept per group (``result(group)``): a (V,) table putting every vocabulary word in a group (the
    character goes in its target word's; e.g. frequency bands, rnnmem.breakdowns; ``n_groups`` defaults to
    as many as it names), or a function of a batch's (chars, targets), both (B, T), giving every
    position's group (B, T), for groups that depend on the context (``n_groups`` then required)."""

    def __init__(self, max_seen: int = 64, groups: np.ndarray | Callable | None = None,
                 n_groups: int | None = None):
        self.groups = groups if groups is None or callable(groups) else np.asarray(groups, dtype=np.int64)
        if n_groups is None:
            if callable(self.groups):
                raise InputError("groups given by position need their number (n_groups)")
            n_groups = 1 if self.groups is None else int(self.groups.max()) + 1
        self.group_counts = np.zeros((n_groups, max_seen), dtype=np.int64)  # (G, S)
        self.group_correct = np.zeros((n_groups, 3, max_seen), dtype=np.int64)  # (G, 3, S)
        self.unknown = 0  # characters of words outside the vocabulary: not scored
        self.loss_sum = 0.0

    @property
    def counts(self) -> np.ndarray:
        return self.group_counts.sum(0)

    @property
    def correct(self) -> np.ndarray:
        return self.group_correct.sum(0)

    def add(self, logits: torch.Tensor, chars: np.ndarray, targets: np.ndarray) -> None:
        """logits (B, T, V); chars, targets (B, T) numpy; padding has target <eos>."""
        self.unknown += int((targets == UNKNOWN_ID).sum())
        targets_t = torch.from_numpy(targets.astype(np.int64)).to(logits.device)
        mask = targets_t > UNKNOWN_ID  # (B, T)
        if not bool(mask.any()):
            return
        scored = logits[mask]  # (N, V)
        wanted = targets_t[mask]  # (N,)
        self.loss_sum += float(masked_cross_entropy(scored, wanted, reduction="sum"))
        top3 = torch.topk(mask_specials(scored), 3, dim=-1).indices  # (N, 3)
        rank_hit = (top3 == wanted[:, None]).cpu().numpy()  # (N, 3)
        scored_positions = mask.cpu().numpy().reshape(-1)  # (B*T,)
        seen = np.concatenate([chars_seen_of(row == 1) for row in chars])[scored_positions]  # (N,)
        G, S = self.group_counts.shape
        seen = np.minimum(seen, S - 1)
        if self.groups is None:
            group = 0
        elif callable(self.groups):
            by_position = np.asarray(self.groups(chars, targets), dtype=np.int64)
            if by_position.shape != targets.shape:
                raise ValueError(f"groups by position: shape {by_position.shape}, not the batch's {targets.shape}")
            group = by_position.reshape(-1)[scored_positions]
        else:
            group = self.groups[wanted.cpu().numpy()]  # (N,)
        if np.any((group < 0) | (group >= len(self.group_counts))):
            raise ValueError(f"a group outside 0…{len(self.group_counts) - 1}")
        cell = group * S + seen  # (N,) index into the flattened (G, S) table
        self.group_counts += np.bincount(cell, minlength=G * S).reshape(G, S)
        cumulative = np.cumsum(rank_hit, axis=1) > 0  # top-k hits are cumulative
        for k in range(3):
            self.group_correct[:, k] += np.bincount(cell, weights=cumulative[:, k],
                                                    minlength=G * S).reshape(G, S).astype(np.int64)

    def result(self, group: int | None = None) -> AccuracyResult:
        """Over every character scored, or (``group``) over one group's (its cross-entropy left NaN)."""
        if group is None:
            return AccuracyResult.from_counts(self.counts, self.correct, self.loss_sum)
        return AccuracyResult.from_counts(self.group_counts[group], self.group_correct[group], float("nan"))


@torch.no_grad()
def accumulate_accuracy(model: AutocompleteRNN, text_or_sequences: str | Iterable, *, batch_size: int = 32,
                        progress=None, groups: np.ndarray | Callable | None = None,
                        n_groups: int | None = None) -> AccuracyAccumulator:
    """Run ``model`` over ``text_or_sequences`` (a string, normalised then cut into ≤ max_seq_len
    sequences at word boundaries, or an iterable of (chars, targets) array pairs) in batches and add up
    its hits (``groups``: see AccuracyAccumulator). ``progress`` is called with characters done."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"the batch size must be a whole number of at least 1, not {batch_size!r:.40}")
    if isinstance(text_or_sequences, str):
        sequences = text_sequences(model, text_or_sequences)
    else:
        sequences = text_or_sequences
    device = next(model.parameters()).device
    accumulator = AccuracyAccumulator(groups=groups, n_groups=n_groups)
    batch: list[tuple[np.ndarray, np.ndarray]] = []

    def flush() -> None:
        chars, targets = pad_batch(batch)
        logits, _ = model(torch.from_numpy(chars).to(device))
        accumulator.add(logits, chars, targets)
        if progress:
            progress(int(sum(len(c) for c, _ in batch)))
        batch.clear()

    for pair in sequences:
        batch.append(pair)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return accumulator


def accuracy_by_chars_seen(model: AutocompleteRNN, text_or_sequences: str | Iterable, *, batch_size: int = 32,
                           progress=None) -> AccuracyResult:
    """Top-1/2/3 accuracy given 0, 1, 2, … characters of the word seen.

    ``text_or_sequences``: a string (normalised, then cut into ≤ max_seq_len sequences at word
    boundaries), or an iterable of (chars, targets) array pairs. Characters whose target is <unknown>
    are not scored: no prediction can match them. ``progress`` is called with characters done.
    """
    accumulator = accumulate_accuracy(model, text_or_sequences, batch_size=batch_size, progress=progress)
    if not accumulator.counts.any():
        raise InputError(NOTHING_TO_SCORE)
    return accumulator.result()


def sample_text_from_vocabulary(words: list[str], n_words: int = 300, seed: int = 0) -> str:
    """A fixed, corpus-free sample for checking that a model still reproduces its stored figures:
    ``n_words`` words drawn (Zipf-weighted by rank, like real text) from the model's own vocabulary."""
    candidates = [w for w in words[2:2002]]  # skip <eos>/<unknown>; the frequent words
    weights = 1.0 / np.arange(1, len(candidates) + 1)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(candidates), size=n_words, p=weights / weights.sum())
    return " " + " ".join(candidates[i] for i in picks)
