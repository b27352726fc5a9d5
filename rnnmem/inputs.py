"""What a model reads: user text normalised, aligned with the model's vocabulary and checked.

Every analysis (suggestions, connectivity, accuracy, memory) takes text through here, so every one of
them answers or raises ``InputError`` with a one-line message for the same inputs. The functions need only
a model's vocabulary (``model.word_ids``, ``model.words``) and training length (``model.config``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .dataset import UNKNOWN_ID, align, pack_sequences
from .errors import InputError, quoted
from .text import is_space, normalize, word_starts

# Interactive limit on normalised text: the connectivity matrix costs O(T^2) (about 0.5 s at T=200 for
# a 2x256 GRU here, 2 s at 400); 500 characters keeps every view within a few seconds.
MAX_TEXT_CHARS = 500
MAX_K = 100  # suggestions per position a caller may ask for


@dataclass(frozen=True)
class PreparedText:
    """User text after the text8 rules, with the model's inputs and desired outputs."""

    text: str  # normalised, starts with a space
    chars: np.ndarray  # (T,) uint8 character ids
    targets: np.ndarray  # (T,) word ids: the word each character belongs to (<unknown>/<eos> possible)

    def __len__(self) -> int:
        return len(self.text)

    def chars_tensor(self, device) -> torch.Tensor:
        return torch.from_numpy(self.chars.astype(np.int64))[None].to(device)  # (1, T)


def _check_str(text) -> None:
    if not isinstance(text, str):
        raise InputError(f"the text must be a string, not {type(text).__name__}")


def prepare_text(model, text: str, *, max_chars: int | None = MAX_TEXT_CHARS,
                 allow_empty: bool = False) -> PreparedText:
    """Normalise ``text`` and align it with ``model``'s vocabulary; InputError for unusable text.

    ``allow_empty``: text with nothing left once normalised is the empty context, the leading space
    alone (" "), from which the model predicts the first word; otherwise it is an InputError."""
    _check_str(text)
    normalised = normalize(text)
    if not normalised:
        if not allow_empty:
            raise InputError("the text is empty once normalised (only letters, digits and spaces count)")
        normalised = " "
    if max_chars is not None and len(normalised) > max_chars:
        raise InputError(f"the text is {len(normalised):,} characters once normalised; the limit is {max_chars:,}")
    chars, targets = align(normalised, model.word_ids)
    return PreparedText(normalised, chars, targets)


def text_sequences(model, text: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Normalise free text and cut it into (chars, targets) sequences of at most the model's training
    length, at word boundaries, as the training data was."""
    _check_str(text)
    normalised = normalize(text, keep_trailing_space=False)
    if not normalised:
        raise InputError("the text is empty once normalised (only letters, digits and spaces count)")
    chars, targets = align(normalised, model.word_ids)
    lengths = np.fromiter((len(w) + 1 for w in normalised.split(" ")[1:]), dtype=np.int64)
    starts, seq_lengths = pack_sequences(lengths, model.config.max_seq_len)
    return [(chars[s:s + n], targets[s:s + n]) for s, n in zip(starts.tolist(), seq_lengths.tolist())]


def check_k(k) -> int:
    """``k`` as an int if it is a whole number from 1 to MAX_K (a Python or NumPy integer), else InputError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k must be a whole number from 1 to {MAX_K}, not a {type(k).__name__}")
    if not 1 <= k <= MAX_K:
        raise InputError(f"k must be a whole number from 1 to {MAX_K}, not {int(k):,}")
    return int(k)


def check_position(prepared: PreparedText, position) -> int:
    if not isinstance(position, (int, np.integer)) or isinstance(position, bool):
        raise InputError("position must be an integer")
    if not 0 <= position < len(prepared):
        raise InputError(f"position {position} is out of range: the normalised text has {len(prepared)} "
                         f"characters (0 to {len(prepared) - 1})")
    return int(position)


def vocabulary_id(model, target) -> int:
    """The class id of a real word of the model's vocabulary; InputError for anything else."""
    if not isinstance(target, str):
        raise InputError(f"the target must be a word (a string), not a {type(target).__name__}")
    index = model.word_ids
    if target not in index or index[target] <= UNKNOWN_ID:
        raise InputError(f"{quoted(target)} is not in the model's vocabulary")
    return index[target]


def word_spans(text: str) -> np.ndarray:
    """(T,) index of the last character of the word each position belongs to (a word: its leading space
    and its letters; a trailing space is a word of its own, not yet typed)."""
    T = len(text)
    space = is_space(text)
    # the next space after each position, scanning from the end; the word ends just before it
    next_space = np.full(T, T)
    following = T
    for t in range(T - 1, -1, -1):
        next_space[t] = following
        if space[t]:
            following = t
    return next_space - 1


def text_words(text: str) -> list[str]:
    """The word of the text at every position ("" at a trailing space: a word not typed yet)."""
    return [text[s + 1:e + 1] for s, e in zip(word_starts(text).tolist(), word_spans(text).tolist())]
