"""One recurrent layer of each unit, step by step, with its hand-written vector-Jacobian product.

The connectivity matrix (rnnmem.vjp) sweeps time backwards once, carrying one gradient per output row;
each layer's step backwards is a cell's ``backward_step``. A cell's ``forward`` recomputes what the model's
layer computes (gate order and biases as torch.nn.GRU / LSTM / RNN document them; the Nested LSTM as
rnnmem.nested_lstm), saving the activations its backward needs. ``Cell.of_layer(stack, k)`` reads layer k
of a model's recurrent stack (never copying or changing its weights). tests/test_analysis.py checks the
outputs against the model and the matrix against torch.autograd.grad.
"""

from __future__ import annotations

import torch


class Cell:
    """One recurrent layer: ``forward(x)`` (T, in) -> (T, H) outputs, saving activations, and
    ``backward_step(s, carry)`` -> gradient for the layer's input at step s (rows s..T-1), updating the
    carried state gradients in place to refer to step s-1."""

    n_carry = 1

    @classmethod
    def of_layer(cls, stack, k: int) -> "Cell":
        """Layer ``k`` of PyTorch's fused multi-layer RNN/GRU/LSTM module ``stack``."""
        return cls(*(getattr(stack, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))

    def zero_carry(self, T: int, H: int, like: torch.Tensor) -> list[torch.Tensor]:
        return [like.new_zeros(T, H) for _ in range(self.n_carry)]


class RNNCell(Cell):
    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.w_ih, self.w_hh, self.b = w_ih, w_hh, b_ih + b_hh

    def forward(self, x):
        pre_x = x @ self.w_ih.T + self.b  # (T, H)
        h = x.new_zeros(self.w_hh.shape[0])
        out = []
        for t in range(len(x)):
            h = torch.tanh(pre_x[t] + self.w_hh @ h)
            out.append(h)
        self.h = torch.stack(out)  # (T, H)
        return self.h

    def backward_step(self, s, carry):
        (dh,) = carry  # (n, H) slices for rows s..T-1
        d_pre = dh * (1 - self.h[s] ** 2)
        dh.copy_(d_pre @ self.w_hh)
        return d_pre @ self.w_ih


class GRUCell(Cell):
    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = w_ih, w_hh, b_ih, b_hh

    def forward(self, x):
        H = self.w_hh.shape[1]
        gi = x @ self.w_ih.T + self.b_ih  # (T, 3H): r, z, n input parts
        h = x.new_zeros(H)
        saved = {k: [] for k in ("r", "z", "n", "hn", "h_prev")}
        out = []
        for t in range(len(x)):
            gh = self.w_hh @ h + self.b_hh  # (3H,)
            r = torch.sigmoid(gi[t, :H] + gh[:H])
            z = torch.sigmoid(gi[t, H:2 * H] + gh[H:2 * H])
            n = torch.tanh(gi[t, 2 * H:] + r * gh[2 * H:])
            for key, value in (("r", r), ("z", z), ("n", n), ("hn", gh[2 * H:]), ("h_prev", h)):
                saved[key].append(value)
            h = (1 - z) * n + z * h
            out.append(h)
        self.saved = {k: torch.stack(v) for k, v in saved.items()}  # each (T, H)
        return torch.stack(out)

    def backward_step(self, s, carry):
        (dh,) = carry
        r, z, n, hn, h_prev = (self.saved[k][s] for k in ("r", "z", "n", "hn", "h_prev"))
        dn_pre = dh * (1 - z) * (1 - n ** 2)
        dz_pre = dh * (h_prev - n) * z * (1 - z)
        dr_pre = dn_pre * hn * r * (1 - r)
        d_input_gates = torch.cat([dr_pre, dz_pre, dn_pre], dim=1)  # (n, 3H)
        d_hidden_gates = torch.cat([dr_pre, dz_pre, dn_pre * r], dim=1)  # (n, 3H): r scales W_hn h + b_hn
        dh.copy_(dh * z + d_hidden_gates @ self.w_hh)
        return d_input_gates @ self.w_ih


class LSTMCell(Cell):
    n_carry = 2  # dh, dc

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.w_ih, self.w_hh, self.b = w_ih, w_hh, b_ih + b_hh

    def forward(self, x):
        H = self.w_hh.shape[1]
        gx = x @ self.w_ih.T + self.b  # (T, 4H): i, f, g, o
        h = c = x.new_zeros(H)
        saved = {k: [] for k in ("i", "f", "g", "o", "c_prev", "tanh_c")}
        out = []
        for t in range(len(x)):
            gates = gx[t] + self.w_hh @ h
            i, f, o = (torch.sigmoid(gates[k * H:(k + 1) * H]) for k in (0, 1, 3))
            g = torch.tanh(gates[2 * H:3 * H])
            c_prev, c = c, f * c + i * g
            tanh_c = torch.tanh(c)
            h = o * tanh_c
            for key, value in (("i", i), ("f", f), ("g", g), ("o", o), ("c_prev", c_prev), ("tanh_c", tanh_c)):
                saved[key].append(value)
            out.append(h)
        self.saved = {k: torch.stack(v) for k, v in saved.items()}
        return torch.stack(out)

    def backward_step(self, s, carry):
        dh, dc_next = carry
        i, f, g, o, c_prev, tanh_c = (self.saved[k][s] for k in ("i", "f", "g", "o", "c_prev", "tanh_c"))
        dc = dc_next + dh * o * (1 - tanh_c ** 2)
        d_gates = torch.cat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                             dh * tanh_c * o * (1 - o)], dim=1)  # (n, 4H)
        dc_next.copy_(dc * f)
        dh.copy_(d_gates @ self.w_hh)
        return d_gates @ self.w_ih


class NestedLSTMCell(Cell):
    n_carry = 3  # dh, dc_outer, dc_inner

    @classmethod
    def of_layer(cls, stack, k: int) -> "Cell":
        """Layer ``k`` of a NestedLSTMStack."""
        return cls(stack[k])

    def __init__(self, layer):
        self.w_x, self.b_x = layer.outer_x.weight, layer.outer_x.bias  # (4H, in), (4H,)
        self.w_h = layer.outer_h.weight  # (4H, H)
        self.w_in, self.b_in = layer.inner.weight, layer.inner.bias  # (4H, 2H), (4H,)

    def forward(self, x):
        H = self.w_h.shape[1]
        gx = x @ self.w_x.T + self.b_x  # (T, 4H)
        h = c_outer = c_inner = x.new_zeros(H)
        keys = ("si", "j", "sf", "so", "c_outer_prev", "si2", "tj2", "sf2", "so2", "c_inner_prev", "tci", "tco")
        saved = {k: [] for k in keys}
        out = []
        for t in range(len(x)):
            a = gx[t] + self.w_h @ h
            si, j, sf, so = torch.sigmoid(a[:H]), a[H:2 * H], torch.sigmoid(a[2 * H:3 * H] + 1), torch.sigmoid(a[3 * H:])
            b = self.w_in @ torch.cat([si * j, c_outer * sf]) + self.b_in
            si2, tj2 = torch.sigmoid(b[:H]), torch.tanh(b[H:2 * H])
            sf2, so2 = torch.sigmoid(b[2 * H:3 * H] + 1), torch.sigmoid(b[3 * H:])
            c_inner_new = c_inner * sf2 + si2 * tj2
            tci = torch.tanh(c_inner_new)
            c_outer_new = tci * so2
            tco = torch.tanh(c_outer_new)
            for key, value in zip(keys, (si, j, sf, so, c_outer, si2, tj2, sf2, so2, c_inner, tci, tco)):
                saved[key].append(value)
            h, c_outer, c_inner = tco * so, c_outer_new, c_inner_new
            out.append(h)
        self.saved = {k: torch.stack(v) for k, v in saved.items()}
        return torch.stack(out)

    def backward_step(self, s, carry):
        dh, dco_next, dci_next = carry
        v = {k: t[s] for k, t in self.saved.items()}
        dco = dco_next + dh * v["so"] * (1 - v["tco"] ** 2)
        dci = dci_next + dco * v["so2"] * (1 - v["tci"] ** 2)
        d_inner = torch.cat([dci * v["tj2"] * v["si2"] * (1 - v["si2"]),
                             dci * v["si2"] * (1 - v["tj2"] ** 2),
                             dci * v["c_inner_prev"] * v["sf2"] * (1 - v["sf2"]),
                             dco * v["tci"] * v["so2"] * (1 - v["so2"])], dim=1)  # (n, 4H)
        d_inner_in = d_inner @ self.w_in  # (n, 2H): gradients of inner_x and inner_h
        H = dh.shape[1]
        d_ix, d_ih = d_inner_in[:, :H], d_inner_in[:, H:]
        d_outer = torch.cat([d_ix * v["j"] * v["si"] * (1 - v["si"]),
                             d_ix * v["si"],
                             d_ih * v["c_outer_prev"] * v["sf"] * (1 - v["sf"]),
                             dh * v["tco"] * v["so"] * (1 - v["so"])], dim=1)  # (n, 4H)
        dci_next.copy_(dci * v["sf2"])
        dco_next.copy_(d_ih * v["sf"])
        dh.copy_(d_outer @ self.w_h)
        return d_outer @ self.w_x
