"""The model's suggestions after every prefix of a text being typed, each character read once.

At every keystroke the Autocomplete page shows each unit's suggestions for the text and its top word after
every character of the last word. Computed from scratch (``suggest_each_prefix``) that is a forward pass
over the whole text and the dense layer (to every word of the vocabulary, most of the cost) on up to 25
positions, per unit and keystroke, nearly all of it computed at the keystroke before. ``PrefixCache``
keeps, per model and prefix of the normalised text, the top words after it, and, for each text it was
asked about, the recurrent state at its end. A keystroke that adds a character then reads that character
alone, from the state the text before it left, and applies the dense layer to one position; a deleted
character reads nothing. The answers are suggest_each_prefix's up to float rounding
(tests/test_prefix_cache.py).

Keyed by the model's key (unit, reference, revision: its weights) and the whole prefix: visitors share
an answer only for the same model and the same text. Bounded: the ``capacity`` most recently used answers
and ``states`` states (a state is a few KB; an answer, its prefix and ten words).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch

from .inputs import PreparedText, check_k, check_position, prepare_text
from .suggestions import Suggestions, suggestions_at


def _copied(state):
    """A stack's state as tensors of its own: the final state can be a view of a buffer that holds the
    whole pass's outputs, which a kept view would keep alive."""
    if isinstance(state, torch.Tensor):
        return state.clone()
    return type(state)(_copied(part) for part in state)  # a tuple (LSTM) or a list of layers (Nested LSTM)


class PrefixCache:
    """``suggestions_by_prefix(key, model, text, first)``: ``suggest_each_prefix(model, text, k, first=first)``
    reading only the characters no earlier call read. Safe to share between threads; the model is only
    read (no gradients), as by every analysis."""

    def __init__(self, k: int = 10, *, capacity: int = 16_384, states: int = 4_096):
        self.k = check_k(k)
        self.capacity, self.max_states = capacity, states
        self._lock = threading.Lock()
        self._answers: OrderedDict = OrderedDict()  # (key, prefix) -> Suggestions after the prefix
        self._states: OrderedDict = OrderedDict()  # (key, prefix) -> the stack's state after the prefix
        self.characters_read = 0  # characters run through a model, all calls together
        self.rows_computed = 0  # positions the dense layer ran on

    def suggestions_by_prefix(self, key: tuple, model, text: str, first: int = 0) -> list[Suggestions]:
        """The top ``k`` words after every prefix of the normalised text that ends at character ``first``
        or later (the prefix " " is the empty context), as suggest_each_prefix gives them."""
        prepared = prepare_text(model, text, allow_empty=True)
        first = check_position(prepared, first)
        text = prepared.text
        with self._lock:
            answers = [_used(self._answers, (key, text[:t + 1])) for t in range(first, len(text))]
            missing = [t for t, answer in enumerate(answers, start=first) if answer is None]
            # Read on from the longest prefix with a state that ends before the first missing answer.
            start = next((n for n in range(missing[0], 0, -1) if (key, text[:n]) in self._states),
                         0) if missing else 0
            state = _used(self._states, (key, text[:start])) if start else None
        if not missing:
            return answers
        computed, end_state = self._read(model, prepared, start, missing, state)
        with self._lock:
            for t, answer in zip(missing, computed):
                _keep(self._answers, (key, text[:t + 1]), answer, self.capacity)
            _keep(self._states, (key, text), end_state, self.max_states)
            self.characters_read += len(text) - start
            self.rows_computed += len(missing)
        for t, answer in zip(missing, computed):
            answers[t - first] = answer
        return answers

    @torch.no_grad()
    def _read(self, model, prepared: PreparedText, start: int, positions: list[int], state):
        """Characters ``start`` to the end read from ``state`` (the state after the first ``start``), the
        answers after ``positions`` (all at ``start`` or later) and the state at the end."""
        device = next(model.parameters()).device
        hidden, state = model.read_on(prepared.chars_tensor(device)[:, start:], state)  # (1, T - start, H)
        rows = hidden[0, [t - start for t in positions]]  # (m, H): the dense layer runs on these alone
        return suggestions_at(model, prepared.text, positions, rows, self.k), _copied(state)


def _used(entries: OrderedDict, name: tuple):
    """An entry, marked as the most recently used (None when absent)."""
    value = entries.get(name)
    if value is not None:
        entries.move_to_end(name)
    return value


def _keep(entries: OrderedDict, name: tuple, value, capacity: int) -> None:
    entries[name] = value
    entries.move_to_end(name)
    while len(entries) > capacity:
        entries.popitem(last=False)


__all__ = ["PrefixCache"]
