"""Inference and analysis over a trained model: suggestions, connectivity, accuracy by characters seen.

Everything here is read-only on the model: no ``.backward()``, no parameter or buffer changes, so one
cached model object can serve many users at once. Gradients come from ``torch.autograd.grad`` (one
position) or from the hand-written vector-Jacobian products in ``rnnmem.vjp`` (the whole matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import EOS_ID, UNKNOWN_ID, align
from .errors import InputError, quoted
from .model import AutocompleteRNN
from .text import normalize, word_starts

# Interactive limit on normalised text: the connectivity matrix costs O(T^2) (about 0.5 s at T=200 for
# a 2x256 GRU here, 2 s at 400); 500 characters keeps every view within a few seconds.
MAX_TEXT_CHARS = 500


@dataclass(frozen=True)
class PreparedText:
    """User text after the text8 rules, with the model's inputs and desired outputs."""

    text: str  # normalised, starts with a space
    chars: np.ndarray  # (T,) uint8 character ids
    targets: np.ndarray  # (T,) word ids: the word each character belongs to (<unknown>/<eos> possible)

    def __len__(self) -> int:
        return len(self.text)


def prepare_text(model: AutocompleteRNN, text: str, *, max_chars: int | None = MAX_TEXT_CHARS,
                 allow_empty: bool = False) -> PreparedText:
    """Normalise ``text`` and align it with ``model``'s vocabulary; InputError for unusable text.

    ``allow_empty``: text with nothing left once normalised is the empty context, the leading space
    alone (" "), from which the model predicts the first word; otherwise it is an InputError."""
    if not isinstance(text, str):
        raise InputError(f"the text must be a string, not {type(text).__name__}")
    normalised = normalize(text)
    if not normalised:
        if not allow_empty:
            raise InputError("the text is empty once normalised (only letters, digits and spaces count)")
        normalised = " "
    if max_chars is not None and len(normalised) > max_chars:
        raise InputError(f"the text is {len(normalised):,} characters once normalised; the limit is {max_chars:,}")
    chars, targets = align(normalised, word_index(model))
    return PreparedText(normalised, chars, targets)


def word_index(model: AutocompleteRNN) -> dict[str, int]:
    """word -> class id of the model's vocabulary."""
    return model.word_ids


def _chars_tensor(prepared: PreparedText, device) -> torch.Tensor:
    return torch.from_numpy(prepared.chars.astype(np.int64))[None].to(device)  # (1, T)


def _mask_specials(logits: torch.Tensor) -> torch.Tensor:
    """<eos> and <unknown> are never a right answer (they are masked from the loss), so they are never
    suggested and never count as predictions."""
    logits = logits.clone()
    logits[..., EOS_ID] = float("-inf")
    logits[..., UNKNOWN_ID] = float("-inf")
    return logits


# ---- suggestions ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestions:
    text: str  # the normalised text the model saw
    prefix: str  # the part of the word being typed already seen ("" right after a space)
    words: list[str]
    probabilities: list[float]

    def as_dict(self) -> dict:
        return {"text": self.text, "prefix": self.prefix,
                "suggestions": [{"word": w, "probability": p} for w, p in zip(self.words, self.probabilities)]}


MAX_K = 100  # suggestions per position a caller may ask for


def check_k(k) -> int:
    """``k`` as an int if it is a whole number from 1 to MAX_K (a Python or NumPy integer), else InputError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k must be a whole number from 1 to {MAX_K}, not a {type(k).__name__}")
    if not 1 <= k <= MAX_K:
        raise InputError(f"k must be a whole number from 1 to {MAX_K}, not {int(k):,}")
    return int(k)


def suggest(model: AutocompleteRNN, text: str, k: int = 3) -> Suggestions:
    """The ``k`` most likely words for the word being typed at the end of ``text``. Text that is empty once
    normalised is the empty context: the model predicts the first word from the leading space alone."""
    k = check_k(k)
    prepared = prepare_text(model, text, allow_empty=True)
    return _suggest_after(model, prepared, k, len(prepared) - 1)[0]


def suggest_each_prefix(model: AutocompleteRNN, text: str, k: int = 3, *, first: int = 0) -> list[Suggestions]:
    """``suggest`` for every prefix of the normalised text that ends at character ``first`` or later, from
    one forward pass: the model reads left to right from a fresh state, so its output after character t is
    its answer for the text up to t (the prefix " " is the empty context). For the letter-by-letter view."""
    k = check_k(k)
    prepared = prepare_text(model, text, allow_empty=True)
    return _suggest_after(model, prepared, k, _check_position(prepared, first))


@torch.no_grad()
def _suggest_after(model: AutocompleteRNN, prepared: PreparedText, k: int, first: int) -> list[Suggestions]:
    device = next(model.parameters()).device
    hidden = model.recurrent_outputs(_chars_tensor(prepared, device))[0, first:]  # (n, H), n = T - first
    ids, probabilities = _top_words(model.output(hidden), k)  # (n, k) each; the dense layer on n rows only
    results = []
    for t, (row_ids, row_probabilities) in enumerate(zip(ids.tolist(), probabilities.tolist()), start=first):
        seen = prepared.text[:t + 1]
        results.append(Suggestions(seen, seen.rsplit(" ", 1)[-1], [model.words[i] for i in row_ids],
                                   [round(p, 6) for p in row_probabilities]))
    return results


@torch.no_grad()
def predictions(model: AutocompleteRNN, prepared: PreparedText, k: int = 3):
    """Top-k words and probabilities at every position: (T, k) ids and (T, k) probabilities."""
    device = next(model.parameters()).device
    return _top_words(model(_chars_tensor(prepared, device))[0][0], k)  # logits (T, V)


def _top_words(logits: torch.Tensor, k: int):
    """(T, k) word ids and probabilities of the k most likely words, specials excluded (k is at most the
    number of real words)."""
    probs = F.softmax(_mask_specials(logits), dim=-1)
    top = torch.topk(probs, min(k, probs.shape[-1] - 2), dim=-1)
    return top.indices.cpu().numpy(), top.values.cpu().numpy()


# ---- connectivity -----------------------------------------------------------------------------------

def word_spans(text: str) -> np.ndarray:
    """(T,) index of the last character of the word each position belongs to (a word: its leading space
    and its letters; a trailing space is a word of its own, not yet typed)."""
    T = len(text)
    is_space = np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord(" ")
    # the next space after each position, scanning from the end; the word ends just before it
    next_space = np.full(T, T)
    following = T
    for t in range(T - 1, -1, -1):
        next_space[t] = following
        if is_space[t]:
            following = t
    return next_space - 1


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


def text_words(text: str) -> list[str]:
    """The word of the text at every position ("" at a trailing space: a word not typed yet)."""
    return [text[s + 1:e + 1] for s, e in zip(word_starts(text).tolist(), word_spans(text).tolist())]


def _vocabulary_id(model: AutocompleteRNN, target: str) -> int:
    if not isinstance(target, str):
        raise InputError(f"the target must be a word (a string), not a {type(target).__name__}")
    index = word_index(model)
    if target not in index or index[target] <= UNKNOWN_ID:
        raise InputError(f"{quoted(target)} is not in the model's vocabulary")
    return index[target]


def _check_position(prepared: PreparedText, position: int) -> int:
    if not isinstance(position, (int, np.integer)) or isinstance(position, bool):
        raise InputError("position must be an integer")
    if not 0 <= position < len(prepared):
        raise InputError(f"position {position} is out of range: the normalised text has {len(prepared)} "
                         f"characters (0 to {len(prepared) - 1})")
    return int(position)


def connectivity(model: AutocompleteRNN, text: str, position: int, target: str | None = None) -> np.ndarray:
    """The article's connectivity of the desired output at ``position`` to every input character:
    ||∂z_position[y] / ∂x_τ||² for τ ≤ position, zero after (DEFINITIONS.md, "Connectivity").

    ``position`` indexes the normalised text (``rnnmem.normalize(text)``). The desired word y is the word
    at ``position``; when that is not in the vocabulary (or the position is a trailing space), it is the
    model's top guess at that word's last character (``desired_ids``); ``target`` overrides it with any
    vocabulary word.
    """
    prepared = prepare_text(model, text)
    position = _check_position(prepared, position)
    if target is not None:
        y = _vocabulary_id(model, target)
    elif prepared.targets[position] > UNKNOWN_ID:
        y = int(prepared.targets[position])
    else:
        y = int(desired_ids(prepared, predictions(model, prepared, k=1)[0][:, 0])[0][position])
    device = next(model.parameters()).device
    chars = _chars_tensor(prepared, device)[:, :position + 1]  # later inputs cannot matter
    with torch.no_grad():
        embedded = model.embedding(chars)  # (1, t+1, E)
    embedded = embedded.detach().requires_grad_(True)
    with torch.enable_grad():
        hidden = model.recurrent_from_embeddings(embedded)[0, position]  # (H,)
        logits = model.output(hidden)  # (V,)
        (grad,) = torch.autograd.grad(logits[y], embedded)  # (1, t+1, E); parameters' .grad untouched
    one_hot_grad = grad[0] @ model.embedding.weight.detach().T  # (t+1, 28): the gradient w.r.t. one-hot x
    result = np.zeros(len(prepared), dtype=np.float32)
    result[:position + 1] = one_hot_grad.pow(2).sum(-1).cpu().numpy()
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
    model_source: str = ""
    extras: dict = field(default_factory=dict)

    def row(self, position: int) -> np.ndarray:
        return self.connectivity[position]

    def scaled_row(self, position: int) -> np.ndarray:
        return scale_by_max(self.connectivity[position])

    def chars_seen(self) -> np.ndarray:
        return chars_seen_of(np.frombuffer(self.text.encode("ascii"), dtype=np.uint8) == ord(" "))


def connectivity_matrix(model: AutocompleteRNN, text: str, k: int = 3) -> ConnectivityResult:
    """The whole connectivity matrix in one shared forward pass and one row-batched backward sweep
    (rnnmem.vjp): T(T+1)/2 vector-Jacobian steps through the recurrent layers, the floor for this
    quantity, instead of one backward pass per position."""
    from .vjp import connectivity_rows, recorded_forward

    k = check_k(k)
    prepared = prepare_text(model, text)
    recorded = recorded_forward(model, prepared.chars)  # one forward pass serves predictions and gradients
    with torch.no_grad():
        top_ids, top_probs = _top_words(model.output(recorded[1]), k)  # logits (T, V) from the same pass
    desired, in_text = desired_ids(prepared, top_ids[:, 0])
    matrix = connectivity_rows(model, prepared.chars, desired, recorded)
    words = model.words
    return ConnectivityResult(
        text=prepared.text,
        connectivity=matrix,
        desired=[words[i] for i in desired.tolist()],
        desired_in_text=in_text.tolist(),
        top_words=[[words[i] for i in row] for row in top_ids.tolist()],
        top_probabilities=top_probs,
        unit=model.unit,
        model_source=str(model.source or ""),
    )


def connectivity_partial(model: AutocompleteRNN, text: str, position: int, k: int = 3) -> ConnectivityResult:
    """``connectivity_matrix`` with only row ``position`` filled (the others zero; ``extras["rows"]`` says
    which), and every position's desired and top words: what a view of one selected character needs, at
    the cost of one forward and one backward pass instead of the whole sweep."""
    k = check_k(k)
    prepared = prepare_text(model, text)
    position = _check_position(prepared, position)
    top_ids, top_probs = predictions(model, prepared, k)  # (T, k) each
    desired, in_text = desired_ids(prepared, top_ids[:, 0])  # the same stand-ins as the whole matrix
    matrix = np.zeros((len(prepared), len(prepared)), dtype=np.float32)
    matrix[position] = connectivity(model, prepared.text, position, target=model.words[int(desired[position])])
    words = model.words
    return ConnectivityResult(
        text=prepared.text, connectivity=matrix, desired=[words[i] for i in desired.tolist()],
        desired_in_text=in_text.tolist(), top_words=[[words[i] for i in row] for row in top_ids.tolist()],
        top_probabilities=top_probs, unit=model.unit, model_source=str(model.source or ""),
        extras={"rows": [position]})


# ---- accuracy given characters seen -----------------------------------------------------------------

def chars_seen_of(is_space: np.ndarray) -> np.ndarray:
    """Characters of the current word seen at each position: 0 at a word's leading space, n after its
    n-th letter. ``is_space`` (T,) bool; the sequence starts with a space."""
    idx = np.arange(len(is_space))
    last_space = np.maximum.accumulate(np.where(is_space, idx, 0))
    return idx - last_space


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
    """Adds up top-1/2/3 hits per number of characters seen over batches (the article's accumulator)."""

    def __init__(self, max_seen: int = 64):
        self.counts = np.zeros(max_seen, dtype=np.int64)
        self.correct = np.zeros((3, max_seen), dtype=np.int64)
        self.loss_sum = 0.0

    def add(self, logits: torch.Tensor, chars: np.ndarray, targets: np.ndarray) -> None:
        """logits (B, T, V); chars, targets (B, T) numpy; padding has target <eos>."""
        targets_t = torch.from_numpy(targets.astype(np.int64)).to(logits.device)
        mask = targets_t > UNKNOWN_ID  # (B, T)
        if not bool(mask.any()):
            return
        scored = logits[mask]  # (N, V)
        wanted = targets_t[mask]  # (N,)
        self.loss_sum += float(F.cross_entropy(scored, wanted, reduction="sum"))
        top3 = torch.topk(_mask_specials(scored), 3, dim=-1).indices  # (N, 3)
        rank_hit = (top3 == wanted[:, None]).cpu().numpy()  # (N, 3)
        seen = np.concatenate([chars_seen_of(row == 1) for row in chars])  # (B*T,)
        seen = seen[mask.cpu().numpy().reshape(-1)]
        seen = np.minimum(seen, len(self.counts) - 1)
        self.counts += np.bincount(seen, minlength=len(self.counts))
        cumulative = np.cumsum(rank_hit, axis=1) > 0  # top-k hits are cumulative
        for k in range(3):
            self.correct[k] += np.bincount(seen, weights=cumulative[:, k], minlength=len(self.counts)).astype(np.int64)

    def result(self) -> AccuracyResult:
        return AccuracyResult.from_counts(self.counts, self.correct, self.loss_sum)


@torch.no_grad()
def accuracy_by_chars_seen(model: AutocompleteRNN, text_or_sequences, *, batch_size: int = 32,
                           progress=None) -> AccuracyResult:
    """Top-1/2/3 accuracy given 0, 1, 2, … characters of the word seen (DEFINITIONS.md).

    ``text_or_sequences``: a string (normalised, then cut into ≤ max_seq_len sequences at word
    boundaries), or an iterable of (chars, targets) array pairs. Characters whose target is <unknown>
    are not scored: no prediction can match them. ``progress`` is called with characters done.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"the batch size must be a whole number of at least 1, not {batch_size!r:.40}")
    if isinstance(text_or_sequences, str):
        sequences = text_sequences(model, text_or_sequences)
    else:
        sequences = text_or_sequences
    device = next(model.parameters()).device
    accumulator = AccuracyAccumulator()
    batch: list[tuple[np.ndarray, np.ndarray]] = []

    def flush() -> None:
        T = max(len(c) for c, _ in batch)
        chars = np.zeros((len(batch), T), dtype=np.int64)
        targets = np.zeros((len(batch), T), dtype=np.int64)
        for row, (c, t) in enumerate(batch):
            chars[row, :len(c)] = c
            targets[row, :len(t)] = t
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
    if not accumulator.counts.any():
        raise InputError("nothing to score: the text has no words from the model's vocabulary")
    return accumulator.result()


def text_sequences(model: AutocompleteRNN, text: str):
    """Normalise free text and cut it into sequences of at most the model's training length, at word
    boundaries, as the training data was."""
    from .dataset import pack_sequences

    if not isinstance(text, str):
        raise InputError(f"the text must be a string, not {type(text).__name__}")
    normalised = normalize(text, keep_trailing_space=False)
    if not normalised:
        raise InputError("the text is empty once normalised (only letters, digits and spaces count)")
    chars, targets = align(normalised, word_index(model))
    lengths = np.fromiter((len(w) + 1 for w in normalised.split(" ")[1:]), dtype=np.int64)
    starts, seq_lengths = pack_sequences(lengths, model.config.max_seq_len)
    return [(chars[s:s + n], targets[s:s + n]) for s, n in zip(starts.tolist(), seq_lengths.tolist())]


def sample_text_from_vocabulary(words: list[str], n_words: int = 300, seed: int = 0) -> str:
    """A fixed, corpus-free sample for checking that a model still reproduces its stored figures:
    ``n_words`` words drawn (Zipf-weighted by rank, like real text) from the model's own vocabulary."""
    candidates = [w for w in words[2:2002]]  # skip <eos>/<unknown>; the frequent words
    weights = 1.0 / np.arange(1, len(candidates) + 1)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(candidates), size=n_words, p=weights / weights.sum())
    return " " + " ".join(candidates[i] for i in picks)
