"""The Nested LSTM layer's time loop, with a hand-written backward (PyTorch has no fused kernel for it).

Recorded by autograd, each step is ~25 small operations forward and as many backward, and their
bookkeeping, not arithmetic, was most of the time. Here the forward runs unrecorded and keeps only
what the backward needs; the backward is one loop that also accumulates the weight gradients. The
equations are DEFINITIONS.md's "Nested LSTM cell"; the derivatives are those of rnnmem.vjp's
_NestedLSTMCell. tests/test_nested_lstm.py checks outputs and gradients against a plain step-by-step
implementation differentiated by autograd, and runs torch.autograd.gradcheck.

Choices, each measured on CPU (benchmarks/nlstm_speed.py):
- Gate rows are reordered so that each activation covers one contiguous slice: outer gates as
  (o, f, i, j) (sigmoid on the first 3H; j stays linear, as published) and inner gates as
  (o', i', f', j'). The parameters keep the published order (i, j, f, o); the weights are permuted on
  the way in and their gradients on the way out. The forget biases' +1 is added to the biases once.
- torch.tanh on CPU is ~5x slower per element than torch.sigmoid, so for large enough steps tanh(v) is
  computed as 2 sigmoid(2v) - 1 (for j' by doubling its weight rows, which is exact). It differs
  from torch.tanh by ~1e-7 in absolute terms.
- Activations are kept per step, not in whole-sequence buffers: fresh buffers of tens of MB are
  page-faulted in on every call (~20 ms per 50 MB here), while per-step blocks are reused by malloc.
  The weight gradients are accumulated per step (a (B, 4H)^T (B, K) product runs as fast per row as
  one product over all steps).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

# Published gate order: i, j, f, o (chunk k = rows k*H..(k+1)*H of each weight).
_OUTER_ORDER = (3, 2, 0, 1)  # o, f, i, j: sigmoid on [0, 3H), j linear on [3H, 4H)
_INNER_ORDER = (3, 0, 2, 1)  # o', i', f', j': sigmoid on [0, 3H), tanh on [3H, 4H)
_FORGET = 2  # index of f in the published order
# Steps of at least this many elements (batch x hidden) compute tanh from sigmoid on CPU; below it
# torch.tanh's lower fixed cost wins (measured crossover ~2000 elements).
FAST_TANH_MIN_ELEMENTS = 2048


def _permutation(order, H: int, device) -> torch.Tensor:
    """Row indices that put the published chunks in `order`: (4H,) long."""
    return torch.cat([torch.arange(k * H, (k + 1) * H, device=device) for k in order])


def _prepare(w_x, b_x, w_h, w_in, b_in, fast_tanh: bool):
    """Weights in the internal gate order, with the forget biases' +1 folded into the biases and, with
    fast_tanh, j' rows doubled for the forward (tanh(j') = 2 sigmoid(2j') - 1)."""
    H = w_h.shape[1]
    perm_o, perm_i = _permutation(_OUTER_ORDER, H, w_h.device), _permutation(_INNER_ORDER, H, w_h.device)
    w_x_p, w_h_p, w_in_p = w_x[perm_o], w_h[perm_o], w_in[perm_i]  # (4H, in), (4H, H), (4H, 2H)
    b_x_p, b_in_p = b_x[perm_o], b_in[perm_i]  # (4H,): fresh copies, safe to change in place
    f = _OUTER_ORDER.index(_FORGET)
    b_x_p[f * H:(f + 1) * H] += 1.0
    f = _INNER_ORDER.index(_FORGET)
    b_in_p[f * H:(f + 1) * H] += 1.0
    w_in_fwd = w_in_p
    if fast_tanh:
        w_in_fwd, b_in_p = w_in_p.clone(), b_in_p.clone()
        w_in_fwd[3 * H:] *= 2
        b_in_p[3 * H:] *= 2
    return w_x_p, b_x_p, w_h_p, w_in_p, w_in_fwd, b_in_p


def _tanh(v, fast: bool):
    if fast:
        return torch.mul(v, 2).sigmoid_().mul_(2).sub_(1)
    return torch.tanh(v)


def _use_fast_tanh(x, B: int, H: int) -> bool:
    return x.device.type == "cpu" and B * H >= FAST_TANH_MIN_ELEMENTS


def nested_lstm(x, h0, c_outer0, c_inner0, w_x, b_x, w_h, w_in, b_in, all_states: bool = False):
    """One Nested LSTM layer over a sequence.

    x (T, B, in); h0, c_outer0, c_inner0 (B, H); parameters as NestedLSTMLayer holds them (published
    gate order). Returns h (T + 1, B, H) with h[0] = h0, and c_outer, c_inner: the final ones (B, H), or
    with ``all_states`` every step's (T + 1, B, H), the initial state first.
    Differentiable (once) w.r.t. every tensor argument; without grad, nothing is kept for a backward.
    """
    args = (x, h0, c_outer0, c_inner0, w_x, b_x, w_h, w_in, b_in)
    if torch.is_grad_enabled() and any(a.requires_grad for a in args):
        return _NestedLSTMFunction.apply(*args, all_states)
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        return _forward(*args, all_states=all_states, save=False)[:3]


def _forward(x, h0, c_outer0, c_inner0, w_x, b_x, w_h, w_in, b_in, *, all_states: bool, save: bool):
    T, B, _ = x.shape
    H = w_h.shape[1]
    H2, H3 = 2 * H, 3 * H
    fast = _use_fast_tanh(x, B, H)
    w_x_p, b_x_p, w_h_p, w_in_p, w_in_fwd, b_in_p = _prepare(w_x, b_x, w_h, w_in, b_in, fast)
    w_h_t, w_in_t = w_h_p.t(), w_in_fwd.t()  # (H, 4H), (2H, 4H)
    x = x.contiguous()  # (T, B, in): the first layer gets a transposed view of the embeddings
    # The input half of the outer gates for all steps in one product; each step adds h_{t-1} W_h in place.
    outer = torch.addmm(b_x_p, x.view(T * B, -1), w_x_p.t()).view(T, B, 4 * H)  # (T, B, 4H)
    h = x.new_empty(T + 1, B, H)  # h[t] = h_{t-1}: the initial state, then every step's output
    h[0] = h0
    c_outer, c_inner = c_outer0, c_inner0  # (B, H)
    keep = save or all_states
    c_outers, c_inners = [c_outer0], [c_inner0]  # per step, initial state first (when kept)
    inner_ins, inners, tanh_cis, tanh_cos = [], [], [], []
    for t in range(T):
        a = outer[t]  # (B, 4H): o, f, i, j
        a.addmm_(h[t], w_h_t)
        a[:, :H3].sigmoid_()  # sigmoid(o), sigmoid(f + 1), sigmoid(i); j stays as it is
        z = x.new_empty(B, H2)  # [inner_x, inner_h]
        torch.mul(a[:, H2:H3], a[:, H3:], out=z[:, :H])  # inner_x = sigmoid(i) * j (no tanh, as published)
        torch.mul(c_outer, a[:, H:H2], out=z[:, H:])  # inner_h = c_outer * sigmoid(f + 1)
        g = torch.addmm(b_in_p, z, w_in_t)  # (B, 4H): o', i', f', j' (j' doubled with fast tanh)
        if fast:
            g.sigmoid_()
            g[:, H3:].mul_(2).sub_(1)  # tanh(j') = 2 sigmoid(2j') - 1
        else:
            g[:, :H3].sigmoid_()
            g[:, H3:].tanh_()
        c_inner = c_inner * g[:, H2:H3]  # c_inner * sigmoid(f' + 1)
        c_inner.addcmul_(g[:, H:H2], g[:, H3:])  # + sigmoid(i') * tanh(j')
        tanh_ci = _tanh(c_inner, fast)
        c_outer = tanh_ci * g[:, :H]  # the inner LSTM's output is the outer cell state
        tanh_co = _tanh(c_outer, fast)
        torch.mul(tanh_co, a[:, :H], out=h[t + 1])  # h = tanh(c_outer) * sigmoid(o)
        if keep:
            c_outers.append(c_outer)
            c_inners.append(c_inner)
        if save:
            inner_ins.append(z)
            inners.append(g)
            tanh_cis.append(tanh_ci)
            tanh_cos.append(tanh_co)
    if all_states:
        c_outer, c_inner = torch.stack(c_outers), torch.stack(c_inners)  # (T + 1, B, H)
    if not save:
        return h, c_outer, c_inner
    # The states before each step (not the final ones: those are outputs, and keeping an output here
    # would make a reference cycle through the graph).
    saved = dict(x=x, outer=outer, c_outers=c_outers[:T], c_inners=c_inners[:T], inner_ins=inner_ins,
                 inners=inners, tanh_cis=tanh_cis, tanh_cos=tanh_cos, w_x_p=w_x_p, w_h_p=w_h_p, w_in_p=w_in_p)
    return h, c_outer, c_inner, saved


class _NestedLSTMFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c_outer0, c_inner0, w_x, b_x, w_h, w_in, b_in, all_states):
        # Autocast would run the products in half precision, against the float32 buffers.
        with torch.autocast(x.device.type, enabled=False):
            h, c_outer, c_inner, saved = _forward(x, h0, c_outer0, c_inner0, w_x, b_x, w_h, w_in, b_in,
                                                  all_states=all_states, save=True)
        # The output h and the input x are saved the checked way (changing them in place before the
        # backward raises); the rest is internal to this call, kept on ctx (per call: concurrent calls
        # share nothing).
        ctx.save_for_backward(saved.pop("x"), h)
        ctx.saved = saved
        ctx.all_states = all_states
        ctx.device_type = x.device.type
        ctx.set_materialize_grads(False)  # unused outputs arrive as None: nothing to add for them
        return h, c_outer, c_inner

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h, grad_c_outer, grad_c_inner):
        x, h = ctx.saved_tensors
        with torch.autocast(ctx.device_type, enabled=False):
            return _backward(ctx.needs_input_grad, ctx.all_states, x, h, ctx.saved, grad_h, grad_c_outer,
                             grad_c_inner) + (None,)


def _backward(needs, all_states, x, h, s, grad_h, grad_c_outer, grad_c_inner):
    outer, w_x_p, w_h_p, w_in_p = s["outer"], s["w_x_p"], s["w_h_p"], s["w_in_p"]
    T, B, _ = x.shape
    H = w_h_p.shape[1]
    H2, H3 = 2 * H, 3 * H
    need_x, need_w = needs[0], any(needs[4:9])
    # Gradients of the state at the end of the current step (the step's output h, c_outer', c_inner').
    dh = x.new_zeros(B, H) if grad_h is None else grad_h[T].clone()
    g_co = grad_c_outer if grad_c_outer is None or not all_states else grad_c_outer[T]
    g_ci = grad_c_inner if grad_c_inner is None or not all_states else grad_c_inner[T]
    dco = x.new_zeros(B, H) if g_co is None else g_co.clone()
    dci = x.new_zeros(B, H) if g_ci is None else g_ci.clone()
    ones = x.new_ones(B, H)
    dx = x.new_empty(T, B, x.shape[2]) if need_x else None
    if need_w:  # accumulated in the internal gate order, permuted back at the end
        dw_x, dw_h, dw_in = torch.zeros_like(w_x_p), torch.zeros_like(w_h_p), torch.zeros_like(w_in_p)
        db_x, db_in = x.new_zeros(4 * H), x.new_zeros(4 * H)
        ones_b = x.new_ones(B)
    for t in range(T - 1, -1, -1):
        a, g = outer[t], s["inners"][t]  # (B, 4H) each: o f i j and o' i' f' j', after activation
        so, sf, si, j = a[:, :H], a[:, H:H2], a[:, H2:H3], a[:, H3:]
        so2, si2, sf2, tj2 = g[:, :H], g[:, H:H2], g[:, H2:H3], g[:, H3:]
        tci, tco = s["tanh_cis"][t], s["tanh_cos"][t]
        c_outer_prev, c_inner_prev = s["c_outers"][t], s["c_inners"][t]
        d_a = torch.addcmul(a[:, :H3], a[:, :H3], a[:, :H3], value=-1)  # sigmoid' of o, f, i: s (1 - s)
        d_g = torch.addcmul(g[:, :H3], g[:, :H3], g[:, :H3], value=-1)  # of o', i', f'
        d_outer = x.new_empty(B, 4 * H)  # gradients of the pre-activations: o f i j
        d_inner = x.new_empty(B, 4 * H)  # o' i' f' j'
        # h = tanh(c_outer') sigmoid(o)
        dco.addcmul_(dh * so, torch.addcmul(ones, tco, tco, value=-1))
        torch.mul(dh * tco, d_a[:, :H], out=d_outer[:, :H])
        # c_outer' = tanh(c_inner') sigmoid(o')
        dci.addcmul_(dco * so2, torch.addcmul(ones, tci, tci, value=-1))
        torch.mul(dco * tci, d_g[:, :H], out=d_inner[:, :H])
        # c_inner' = c_inner sigmoid(f' + 1) + sigmoid(i') tanh(j')
        torch.mul(dci * tj2, d_g[:, H:H2], out=d_inner[:, H:H2])
        torch.mul(dci * c_inner_prev, d_g[:, H2:H3], out=d_inner[:, H2:H3])
        torch.mul(dci * si2, torch.addcmul(ones, tj2, tj2, value=-1), out=d_inner[:, H3:])
        d_inner_in = d_inner @ w_in_p  # (B, 2H): gradients of inner_x and inner_h
        d_ix, d_ih = d_inner_in[:, :H], d_inner_in[:, H:]
        # inner_h = c_outer sigmoid(f + 1); inner_x = sigmoid(i) j
        torch.mul(d_ih * c_outer_prev, d_a[:, H:H2], out=d_outer[:, H:H2])
        torch.mul(d_ix * j, d_a[:, H2:H3], out=d_outer[:, H2:H3])
        torch.mul(d_ix, si, out=d_outer[:, H3:])
        # to the state before this step
        dci.mul_(sf2)
        dco = d_ih * sf
        if all_states:
            if grad_c_outer is not None:
                dco.add_(grad_c_outer[t])
            if grad_c_inner is not None:
                dci.add_(grad_c_inner[t])
        dh = d_outer @ w_h_p if grad_h is None else torch.addmm(grad_h[t], d_outer, w_h_p)
        if need_x:
            torch.mm(d_outer, w_x_p, out=dx[t])
        if need_w:
            dw_x.addmm_(d_outer.t(), x[t])
            dw_h.addmm_(d_outer.t(), h[t])
            dw_in.addmm_(d_inner.t(), s["inner_ins"][t])
            db_x.addmv_(d_outer.t(), ones_b)
            db_in.addmv_(d_inner.t(), ones_b)
    if not need_w:
        return dx, dh, dco, dci, None, None, None, None, None
    perm_o = _permutation(_OUTER_ORDER, H, x.device)
    perm_i = _permutation(_INNER_ORDER, H, x.device)

    def unpermute(grad, perm):  # back to the published gate order
        return torch.empty_like(grad).index_copy_(0, perm, grad)

    return (dx, dh, dco, dci, unpermute(dw_x, perm_o), unpermute(db_x, perm_o), unpermute(dw_h, perm_o),
            unpermute(dw_in, perm_i), unpermute(db_in, perm_i))
