"""The model's suggestions: the most likely words for the word being typed.

Read-only on the model (no gradients, no changes), like every analysis: one cached model serves many
visitors at once. The model's own ``suggest`` method is this module's ``suggest``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .dataset import EOS_ID, UNKNOWN_ID
from .inputs import PreparedText, check_k, check_position, prepare_text


@dataclass(frozen=True)
class Suggestions:
    text: str  # the normalised text the model saw
    prefix: str  # the part of the word being typed already seen ("" right after a space)
    # Tuples, not lists: one answer is shared by every visitor whose text has the same prefix (the prefix
    # cache, rnnmem.prefix_cache), so nobody may change it in place.
    words: tuple[str, ...]
    probabilities: tuple[float, ...]

    def as_dict(self) -> dict:
        return {"text": self.text, "prefix": self.prefix,
                "suggestions": [{"word": w, "probability": p} for w, p in zip(self.words, self.probabilities)]}


def mask_specials(logits: torch.Tensor) -> torch.Tensor:
    """<eos> and <unknown> are never a right answer (they are masked from the loss), so they are never
    suggested and never count as predictions."""
    logits = logits.clone()
    logits[..., EOS_ID] = float("-inf")
    logits[..., UNKNOWN_ID] = float("-inf")
    return logits


def top_words(logits: torch.Tensor, k: int):
    """(T, k) word ids and probabilities of the k most likely words, specials excluded (k is at most the
    number of real words)."""
    probs = F.softmax(mask_specials(logits), dim=-1)
    top = torch.topk(probs, min(k, probs.shape[-1] - 2), dim=-1)
    return top.indices.cpu().numpy(), top.values.cpu().numpy()


def suggest(model, text: str, k: int = 3) -> Suggestions:
    """The ``k`` most likely words for the word being typed at the end of ``text``. Text that is empty once
    normalised is the empty context: the model predicts the first word from the leading space alone."""
    k = check_k(k)
    prepared = prepare_text(model, text, allow_empty=True)
    return _suggest_after(model, prepared, k, len(prepared) - 1)[0]


def suggest_each_prefix(model, text: str, k: int = 3, *, first: int = 0) -> list[Suggestions]:
    """``suggest`` for every prefix of the normalised text that ends at character ``first`` or later, from
    one forward pass: the model reads left to right from a fresh state, so its output after character t is
    its answer for the text up to t (the prefix " " is the empty context). For the letter-by-letter view."""
    k = check_k(k)
    prepared = prepare_text(model, text, allow_empty=True)
    return _suggest_after(model, prepared, k, check_position(prepared, first))


@torch.no_grad()
def _suggest_after(model, prepared: PreparedText, k: int, first: int) -> list[Suggestions]:
    device = next(model.parameters()).device
    hidden = model.recurrent_outputs(prepared.chars_tensor(device))[0, first:]  # (n, H), n = T - first
    return suggestions_at(model, prepared.text, range(first, len(prepared)), hidden, k)


def suggestions_at(model, text: str, positions, hidden: torch.Tensor, k: int) -> list[Suggestions]:
    """The top ``k`` words after each of ``positions`` of the normalised ``text``, from the model's recurrent
    outputs there, hidden (n, H), one row per position: the dense layer runs on these n rows only."""
    ids, probabilities = top_words(model.output(hidden), k)  # (n, k) each
    results = []
    for t, row_ids, row_probabilities in zip(positions, ids.tolist(), probabilities.tolist()):
        seen = text[:t + 1]
        results.append(Suggestions(seen, seen.rsplit(" ", 1)[-1], tuple(model.words[i] for i in row_ids),
                                   tuple(round(p, 6) for p in row_probabilities)))
    return results


@torch.no_grad()
def predictions(model, prepared: PreparedText, k: int = 3):
    """Top-k words and probabilities at every position: (T, k) ids and (T, k) probabilities."""
    device = next(model.parameters()).device
    return top_words(model(prepared.chars_tensor(device))[0][0], k)  # logits (T, V)
