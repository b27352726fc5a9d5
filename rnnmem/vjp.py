"""Row-batched vector-Jacobian products through the recurrent stack, for the connectivity matrix.

Row t of the matrix needs the gradient of z_t[y_t] with respect to every earlier embedded input. All
rows share one forward pass, and row t needs no backward step after t. So we sweep time backwards once,
carrying one gradient per row: at step s the rows t ≥ s are active (T − s of them), row s enters with
the cotangent W_out[y_s] on the top layer's output, and each layer's step is two matrix products over
the active rows. That is T(T+1)/2 row-steps in all, the floor for this quantity.

Each layer's forward and backward step is its unit's cell (rnnmem.cells, named by rnnmem.units); tests
check the outputs against the model and the matrix against torch.autograd.grad.
"""

from __future__ import annotations

import numpy as np
import torch

from .cells import Cell
from .model import AutocompleteRNN
from .units import unit


@torch.no_grad()
def recorded_forward(model: AutocompleteRNN, chars: np.ndarray) -> tuple[list[Cell], torch.Tensor]:
    """The recurrent stack's forward pass on one text, keeping what the backward sweep needs: the cells
    (with their saved activations) and the top layer's output (T, H), from which the logits follow."""
    ids = torch.from_numpy(np.asarray(chars, dtype=np.int64)).to(model.embedding.weight.device)
    cells = unit(model.unit).cells(model.stack, model.config.num_layers)
    layer_input = model.embedding.weight[ids]  # (T, E)
    for cell in cells:
        layer_input = cell.forward(layer_input)
    return cells, layer_input


@torch.no_grad()
def connectivity_rows(model: AutocompleteRNN, chars: np.ndarray, desired_ids: np.ndarray,
                      recorded: tuple[list[Cell], torch.Tensor] | None = None) -> np.ndarray:
    """(T, T) matrix: entry [t, τ] = ||∂ z_t[desired_ids[t]] / ∂ one_hot(chars[τ])||², zero for τ > t.
    ``recorded`` is ``recorded_forward(model, chars)`` when the caller already ran it."""
    device = model.embedding.weight.device
    embedding = model.embedding.weight  # (28, E)
    T, H = len(chars), model.config.hidden_size
    cells, _ = recorded if recorded is not None else recorded_forward(model, chars)
    cotangents = model.output.weight[torch.from_numpy(np.asarray(desired_ids, dtype=np.int64)).to(device)]  # (T, H)
    carries = [cell.zero_carry(T, H, embedding) for cell in cells]
    result = torch.zeros(T, T, device=device)
    for s in range(T - 1, -1, -1):
        carries[-1][0][s] += cotangents[s]  # row s starts at the top layer's output at step s
        d_input = None
        for layer in range(len(cells) - 1, -1, -1):
            active = [c[s:] for c in carries[layer]]  # views: updated in place for step s-1
            if d_input is not None:
                active[0] += d_input  # the layer above reads this layer's output at step s
            d_input = cells[layer].backward_step(s, active)  # (T-s, in)
        result[s:, s] = (d_input @ embedding.T).pow(2).sum(-1)  # gradient w.r.t. the one-hot input
    return result.cpu().numpy()
