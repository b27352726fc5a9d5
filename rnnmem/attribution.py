"""Connectivity: how strongly the desired output at one position depends on every earlier input character.

The article's connectivity of output t to input τ is ‖∂z_t[y_t] / ∂x_τ‖², z_t the logits at t, y_t the
desired word, x_τ the one-hot input character (Madsen 2019, "Visualizing memorization in RNNs",
section "Connectivity"; docs/definitions.md). Read-only on the model: ``connectivity`` uses
``torch.autograd.grad`` (parameters' ``.grad`` untouched), ``connectivity_matrix`` the hand-written
vector-Jacobian products of rnnmem.vjp, so one cached model serves every visitor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .dataset import UNKNOWN_ID
from .errors import InputError, quoted
from .inputs import MAX_K, PreparedText, check_k, check_position, prepare_text, vocabulary_id, word_spans
from .model import AutocompleteRNN
from .suggestions import predictions, top_words
from .text import chars_seen
from .vjp import connectivity_rows, recorded_forward


def desired_ids(prepared: PreparedText, top_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The word whose logit is explained at each position, and whether it is the text's own word.

    Where the word in the text is not in the vocabulary (or not typed yet, at a trailing space), its
    stand-in is the model's top guess at the word's *last* character, the one position that has seen
    all of it, and the same stand-in serves every character of that word, so the explained output does
    not change from letter to letter. ``top_ids`` (T,) is the top prediction at every position."""
    ids = prepared.targets.astype(np.int64).copy()
    in_text = ids > UNKNOWN_ID
    ends = word_spans(prepared.text)
    ids[~in_text] = np.asarray(top_ids)[ends[~in_text]]
    return ids, in_text


WORD_PREFIX = "word:"  # "word:desired" names the vocabulary word, where "desired" is the keyword

TARGET_HELP = ("the explained word: 'desired' (the word in the text, or its stand-in), 'top-N' (the model's "
               "N-th suggestion at the position), or any word of the model's vocabulary ('word:WORD' for a word "
               "spelt like a keyword, e.g. 'word:desired')")


def explained_id(model: AutocompleteRNN, prepared: PreparedText, position: int, target: str | None = None) -> int:
    """The class whose logit an attribution at ``position`` explains (``TARGET_HELP``).

    ``None`` or ``"desired"``: the word at ``position``, or where that is not in the vocabulary (or the
    position is a trailing space) the model's top guess at that word's last character (``desired_ids``);
    ``"top-N"``: the model's N-th most likely word at ``position`` (1 ≤ N ≤ MAX_K); anything else must be
    a word of the model's vocabulary (InputError otherwise), "word:WORD" always so (the vocabulary may hold
    "desired"). Words are lower-case a–z, so "top-2" and "word:…" are never words."""
    if isinstance(target, str) and target.startswith(WORD_PREFIX):
        return vocabulary_id(model, target[len(WORD_PREFIX):])
    if target is None or target == "desired":
        if prepared.targets[position] > UNKNOWN_ID:
            return int(prepared.targets[position])
        return int(desired_ids(prepared, predictions(model, prepared, k=1)[0][:, 0])[0][position])
    if isinstance(target, str) and target.startswith("top-"):
        rank = target[len("top-"):]
        if not rank.isdigit() or not 1 <= int(rank) <= MAX_K:
            raise InputError(f"{quoted(target)}: a suggestion's rank is a whole number from 1 to {MAX_K}")
        return int(predictions(model, prepared, k=int(rank))[0][position, int(rank) - 1])
    return vocabulary_id(model, target)


def embedded_inputs(model: AutocompleteRNN, prepared: PreparedText, position: int) -> torch.Tensor:
    """The embedded input characters 0 … ``position`` (later inputs cannot matter), (1, t+1, E), detached."""
    chars = prepared.chars_tensor(next(model.parameters()).device)[:, :position + 1]  # (1, t+1)
    with torch.no_grad():
        return model.embedding(chars)  # (1, t+1, E)


def logit_function(model: AutocompleteRNN, position: int, y: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """f(embedded) = z_position[y]: the logit of word ``y`` at output ``position``, as a function of the
    embedded inputs (B, position+1, E) -> (B,). The one-hot characters enter only through the embedding,
    so every attribution to them is one through this function."""
    def logit(embedded: torch.Tensor) -> torch.Tensor:
        hidden = model.recurrent_from_embeddings(embedded)[:, position]  # (B, H)
        return model.output(hidden)[:, y]  # (B,)
    return logit


def input_gradient(forward: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """∂forward(inputs)[b] / ∂inputs[b] for every batch row b, shaped like ``inputs``. Uses
    ``torch.autograd.grad``: the parameters' ``.grad`` and the caller's tensors are left untouched."""
    inputs = inputs.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(forward(inputs).sum(), inputs)  # rows are independent: sum is safe
    return grad


def connectivity(model: AutocompleteRNN, text: str, position: int, target: str | None = None) -> np.ndarray:
    """The article's connectivity of the desired output at ``position`` to every input character:
    ||∂z_position[y] / ∂x_τ||² for τ ≤ position, zero after.

    ``position`` indexes the normalised text (``rnnmem.normalize(text)``). The desired word y is the word
    at ``position``; when that is not in the vocabulary (or the position is a trailing space), it is the
    model's top guess at that word's last character (``desired_ids``); ``target`` overrides it
    (``explained_id``: "top-N", or any vocabulary word).
    """
    prepared = prepare_text(model, text)
    position = check_position(prepared, position)
    return connectivity_of_id(model, prepared, position, explained_id(model, prepared, position, target))


def connectivity_of_id(model: AutocompleteRNN, prepared: PreparedText, position: int, y: int) -> np.ndarray:
    """``connectivity`` of the logit of class ``y`` (already resolved and checked) at ``position``."""
    return connectivity_of_ids(model, prepared.chars, np.array([position]), np.array([y]))[0]


def connectivity_of_ids(model: AutocompleteRNN, chars: np.ndarray, positions: np.ndarray,
                        ys: np.ndarray) -> np.ndarray:
    """(N, T) ``connectivity_of_id`` rows of one sequence ``chars`` (T,) at N ``positions``, row n the
    logit of class ``ys[n]``: one batched forward and backward pass instead of N (the rows are
    independent, so the summed logits' gradient is each row's own). Zero after each row's position, as
    the recurrence is causal."""
    positions, ys = np.asarray(positions, dtype=np.int64), np.asarray(ys, dtype=np.int64)
    if not len(positions):
        return np.zeros((0, len(chars)), dtype=np.float32)
    weight = model.embedding.weight.detach()
    chars_tensor = torch.from_numpy(np.asarray(chars, dtype=np.int64))[None].to(weight.device)
    with torch.no_grad():
        embedded = model.embedding(chars_tensor[:, :int(positions.max()) + 1])  # (1, t_max+1, E)
    rows = torch.arange(len(positions), device=weight.device)
    at, classes = torch.from_numpy(positions).to(weight.device), torch.from_numpy(ys).to(weight.device)

    def logits(inputs: torch.Tensor) -> torch.Tensor:  # (N, t_max+1, E) -> (N,)
        hidden = model.recurrent_from_embeddings(inputs)[rows, at]  # (N, H): each row's own position
        return model.output(hidden)[rows, classes]

    grad = input_gradient(logits, embedded.expand(len(positions), -1, -1))  # (N, t_max+1, E)
    result = np.zeros((len(positions), len(chars)), dtype=np.float32)
    # the gradient w.r.t. the one-hot characters: (N, t_max+1, 28)
    result[:, :grad.shape[1]] = (grad @ weight.T).pow(2).sum(-1).cpu().numpy()
    return result


def scale_by_max(row: np.ndarray) -> np.ndarray:
    """A connectivity row divided by its maximum, as the article draws it (0 when the row is all zero)."""
    peak = float(row.max())
    return row / peak if peak > 0 else row


@dataclass
class ConnectivityResult:
    """Connectivity of every output position to every input position, with what the model predicts.

    ``connectivity[t, τ]`` is the connectivity of the desired output at t to input τ (zero for τ > t).
    """

    text: str
    connectivity: np.ndarray  # (T, T) float32
    desired: list[str]  # the desired word at each position
    desired_in_text: list[bool]  # True where the desired word is the text's own word, False for a stand-in
    top_words: list[list[str]]  # (T, k)
    top_probabilities: np.ndarray  # (T, k)
    unit: str = ""
    extras: dict = field(default_factory=dict)

    @classmethod
    def of(cls, model: AutocompleteRNN, prepared: PreparedText, matrix: np.ndarray, top_ids: np.ndarray,
           top_probabilities: np.ndarray, **extras) -> "ConnectivityResult":
        """A result for ``model`` on ``prepared``, the desired words chosen from the top predictions."""
        desired, in_text = desired_ids(prepared, top_ids[:, 0])
        words = model.words
        return cls(text=prepared.text, connectivity=matrix, desired=[words[i] for i in desired.tolist()],
                   desired_in_text=in_text.tolist(), top_words=[[words[i] for i in row] for row in top_ids.tolist()],
                   top_probabilities=top_probabilities, unit=model.unit, extras=extras)

    def row(self, position: int) -> np.ndarray:
        return self.connectivity[position]

    def scaled_row(self, position: int) -> np.ndarray:
        return scale_by_max(self.connectivity[position])

    def chars_seen(self) -> np.ndarray:
        return chars_seen(self.text)


def connectivity_matrix(model: AutocompleteRNN, text: str, k: int = 3) -> ConnectivityResult:
    """The whole connectivity matrix in one shared forward pass and one row-batched backward sweep
    (rnnmem.vjp): T(T+1)/2 vector-Jacobian steps through the recurrent layers, the floor for this
    quantity, instead of one backward pass per position."""
    k = check_k(k)
    prepared = prepare_text(model, text)
    recorded = recorded_forward(model, prepared.chars)  # one forward pass serves predictions and gradients
    with torch.no_grad():
        top_ids, top_probs = top_words(model.output(recorded[1]), k)  # logits (T, V) from the same pass
    desired, _ = desired_ids(prepared, top_ids[:, 0])
    matrix = connectivity_rows(model, prepared.chars, desired, recorded)
    return ConnectivityResult.of(model, prepared, matrix, top_ids, top_probs)


def connectivity_partial(model: AutocompleteRNN, text: str, position: int, k: int = 3) -> ConnectivityResult:
    """``connectivity_matrix`` with only row ``position`` filled (the others zero; ``extras["rows"]`` says
    which), and every position's desired and top words: what a view of one selected character needs, at
    the cost of one forward and one backward pass instead of the whole sweep."""
    k = check_k(k)
    prepared = prepare_text(model, text)
    position = check_position(prepared, position)
    top_ids, top_probs = predictions(model, prepared, k)  # (T, k) each
    desired, _ = desired_ids(prepared, top_ids[:, 0])  # the same stand-ins as the whole matrix
    matrix = np.zeros((len(prepared), len(prepared)), dtype=np.float32)
    matrix[position] = connectivity_of_id(model, prepared, position, int(desired[position]))
    return ConnectivityResult.of(model, prepared, matrix, top_ids, top_probs, rows=[position])
