"""The training losses: the full softmax (the model's own masked cross-entropy), or a sampled softmax that
estimates it at a fraction of the cost; and the validation loss, always with the full softmax."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import UNKNOWN_ID, PreparedDataset, make_batch, rarer_words_read_before
from .model import AutocompleteRNN, masked_cross_entropy
from .runconfig import TrainConfig


def log_uniform_log_q(vocab_size: int, num_sampled: int, device) -> torch.Tensor:
    """log of the probability that class k is among ``num_sampled`` draws (with replacement) from the
    log-uniform (Zipfian) proposal over the frequency-sorted vocabulary, P(k) ∝ log((k+2)/(k+1)).
    Classes 0 and 1 (<eos>, <unknown>) are never targets and never drawn."""
    ranks = torch.arange(vocab_size - 2, dtype=torch.float64, device=device)
    p = torch.log((ranks + 2) / (ranks + 1)) / math.log(vocab_size - 1)
    included = -torch.expm1(num_sampled * torch.log1p(-p))  # 1 - (1 - p)^S
    return torch.cat([torch.full((2,), float("-inf"), dtype=torch.float64, device=device),
                      torch.log(included)]).float()


def sampled_softmax_loss(hidden, targets, weight, bias, log_q, num_sampled, generator, bf16=False,
                         reduction="mean"):
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
    return F.cross_entropy(logits, torch.zeros_like(targets), reduction=reduction)


def repetition_weights(chars: torch.Tensor, targets: torch.Tensor, repeat_weight: float) -> torch.Tensor:
    """(B, T) float32 loss weights for a batch: ``repeat_weight`` at the characters of a rarer word
    already read in its sequence (rnnmem.dataset.rarer_words_read_before: the "repetition" breakdown's
    third band, as the Memory page and ``evaluate --by repetition`` score them), 1 elsewhere. About 0.6 ms
    for 32 sequences of 200 characters, against a CPU step's ~450 ms."""
    repeated = rarer_words_read_before(chars.cpu().numpy(), targets.cpu().numpy())
    return torch.where(torch.from_numpy(repeated), float(repeat_weight), 1.0).float().to(targets.device)


def training_loss(model: AutocompleteRNN, chars, targets, config: TrainConfig, log_q, generator):
    """The step's loss: the mean cross-entropy over characters whose target is a word, each character
    weighted by ``repetition_weights`` when ``config.repeat_weight`` is not 1 (a weighted mean)."""
    weighted = config.repeat_weight != 1.0
    if config.softmax == "full" and not weighted:
        _, loss = model(chars, targets, output_dtype=torch.bfloat16 if config.bf16_output else None)
        return loss
    hidden = model.recurrent_outputs(chars)  # (B, T, H)
    mask = targets > UNKNOWN_ID
    reduction = "none" if weighted else "mean"
    if config.softmax == "full":
        logits, _ = model.head(hidden[mask], output_dtype=torch.bfloat16 if config.bf16_output else None)
        losses = F.cross_entropy(logits.float(), targets[mask], reduction=reduction)
    else:
        losses = sampled_softmax_loss(hidden[mask], targets[mask], model.output.weight, model.output.bias,
                                      log_q, config.num_sampled, generator, bf16=config.bf16_output,
                                      reduction=reduction)
    if not weighted:
        return losses
    weights = repetition_weights(chars, targets, config.repeat_weight)[mask]
    return (losses * weights).sum() / weights.sum()


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
        total += masked_cross_entropy(logits, targets, reduction="sum").item()
        count += int((targets > UNKNOWN_ID).sum())
    model.train(was_training)
    return total / max(count, 1)
