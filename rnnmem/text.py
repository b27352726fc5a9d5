"""Text normalisation and the character alphabet.

One normalisation function serves both corpora and anything a user types, so the model only ever sees
text it was trained on: the text8 cleaning rules (docs/definitions.md, "Text").
"""

from __future__ import annotations

import re

import numpy as np

# The 28-symbol character vocabulary of the article: <eos> (padding) is 0, space 1, a-z 2..27.
EOS_CHAR_ID = 0
CHARS = "\0 abcdefghijklmnopqrstuvwxyz"
CHAR_VOCAB_SIZE = len(CHARS)

_DIGIT_WORDS = {
    "0": " zero ", "1": " one ", "2": " two ", "3": " three ", "4": " four ",
    "5": " five ", "6": " six ", "7": " seven ", "8": " eight ", "9": " nine ",
}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_DIGIT = re.compile(r"[0-9]")
_NOT_LETTER = re.compile(r"[^a-z]+")  # runs of anything else, spaces included, become one space

# Byte -> character id; anything outside the alphabet maps to 255 so a bad array is caught loudly.
_CHAR_ID_OF_BYTE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(CHARS[1:], start=1):
    _CHAR_ID_OF_BYTE[ord(_c)] = _i


def normalize(text: str, *, keep_trailing_space: bool = True) -> str:
    """Clean ``text`` with the text8 rules: lower case, digits spelled out, every other character a
    space, runs of spaces squeezed, and a single leading space (every word starts with its space).

    ``keep_trailing_space`` matters for autocomplete: "parts of " ends in a space, meaning the user is
    about to type a new word, so that space is kept. Corpora keep it too; it is harmless there.
    Returns "" when nothing of the text survives.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize() takes a string, not {type(text).__name__}")
    text = text.translate(_ASCII_LOWER)  # only A-Z, as text8 did; other letters become spaces below
    text = _DIGIT.sub(lambda m: _DIGIT_WORDS[m.group(0)], text)
    text = _NOT_LETTER.sub(" ", text)
    stripped = text.strip(" ")
    if not stripped:
        return ""
    trailing = " " if keep_trailing_space and text.endswith(" ") else ""
    return " " + stripped + trailing


def encode_chars(text: str) -> np.ndarray:
    """Character ids (uint8) of normalised text. Raises ValueError on characters outside the alphabet."""
    ids = _CHAR_ID_OF_BYTE[np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)]
    if ids.size and ids.max() == 255:
        raise ValueError("text is not normalised: call rnnmem.normalize() first")
    return ids


def word_starts_of(is_space: np.ndarray) -> np.ndarray:
    """For every position, the index of the current word's leading space (the last space at or before
    it). ``is_space`` (T,) bool; the sequence starts with a space."""
    idx = np.arange(len(is_space))
    return np.maximum.accumulate(np.where(is_space, idx, 0))


def chars_seen_of(is_space: np.ndarray) -> np.ndarray:
    """Characters of the current word seen at each position: 0 at a word's leading space, n after its
    n-th letter (the article's "characters seen"). ``is_space`` (T,) bool; the sequence starts with a space."""
    return np.arange(len(is_space)) - word_starts_of(is_space)


def is_space(text: str) -> np.ndarray:
    """(T,) bool: where normalised ``text`` has a space."""
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord(" ")


def word_starts(text: str) -> np.ndarray:
    """``word_starts_of`` for normalised text."""
    return word_starts_of(is_space(text))


def words_read_before(text: str, position: int) -> frozenset[str]:
    """The words of normalised ``text`` read in full before the word at ``position`` (the one being
    typed there, from its leading space on): what a unit that remembers could suggest again."""
    return frozenset(text[:int(word_starts(text)[position])].split())


def chars_seen(text: str) -> np.ndarray:
    """``chars_seen_of`` for normalised text."""
    return chars_seen_of(is_space(text))
