"""What a recurrent unit is, in one place: every other module reads this registry.

A unit is its id (the config field, CLI choice and model reference), its names (display, picker label,
the article's name in its published data), its colour in every chart, how its recurrent stack is built
and run, and the step-by-step cell (rnnmem.cells) whose vector-Jacobian product gives the connectivity.
Adding a unit is one entry here plus its cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn as nn

from .cells import Cell, GRUCell, LSTMCell, NestedLSTMCell, RNNCell
from .nested_lstm import NestedLSTMStack


@dataclass(frozen=True)
class Unit:
    id: str  # "gru": ModelConfig.unit, the CLI's --unit, a shipped model's name
    name: str  # shown in the app and the model cards
    label: str  # short label of the app's unit picker; a bound widget writes it into links (?units=GRU,NLSTM)
    colour: str  # one colour per unit in every chart (Tableau 10, which Altair and Streamlit also use)
    article_name: str | None  # its name in the article's published data; None: the article published none
    stack_attribute: str  # the model's attribute holding the stack: part of the weights' names on disk
    build: Callable[[int, int, int], nn.Module]  # (input size, hidden size, layers) -> stack; forward(x) -> (out, _)
    cell: type[Cell]  # rnnmem.cells: one layer step by step, with its backward step

    def cells(self, stack: nn.Module, num_layers: int) -> list[Cell]:
        """One cell per layer of ``stack``, reading (never copying or changing) its weights."""
        return [self.cell.of_layer(stack, k) for k in range(num_layers)]


def _fused(layer: type[nn.RNNBase]) -> Callable[[int, int, int], nn.Module]:
    """PyTorch's fused multi-layer module (cuDNN on a GPU)."""
    return lambda input_size, hidden_size, num_layers: layer(input_size, hidden_size, num_layers=num_layers,
                                                             batch_first=True)


REGISTRY: dict[str, Unit] = {unit.id: unit for unit in (
    Unit("rnn", "Vanilla RNN", "RNN", "#8c8c8c", None, "recurrent", _fused(nn.RNN), RNNCell),
    Unit("gru", "GRU", "GRU", "#4c78a8", "GRU", "recurrent", _fused(nn.GRU), GRUCell),
    Unit("lstm", "LSTM", "LSTM", "#f58518", "LSTM", "recurrent", _fused(nn.LSTM), LSTMCell),
    # Nested LSTM of depth 2 (Moniz & Krueger 2018): no fused kernel, its time loop is rnnmem.nested_lstm.
    # NLSTM is the Nested LSTM paper's own abbreviation.
    Unit("nlstm", "Nested LSTM", "NLSTM", "#54a24b", "Nested LSTM", "layers", NestedLSTMStack, NestedLSTMCell),
)}

UNITS = tuple(REGISTRY)  # ("rnn", "gru", "lstm", "nlstm"): the order of every page and table
UNIT_NAMES = {unit.id: unit.name for unit in REGISTRY.values()}


def unit(unit_id: str) -> Unit:
    """The registry entry of ``unit_id``; KeyError for an unknown one (callers validate user input first)."""
    return REGISTRY[unit_id]


__all__ = ["REGISTRY", "UNITS", "UNIT_NAMES", "Unit", "unit"]
