"""The Nested LSTM layer's time loop, with a hand-written backward (PyTorch has no fused kernel for it).

Recorded by autograd, each step is ~25 small operations forward and as many backward. Here the forward
runs unrecorded and keeps only what the backward needs, and the backward is one loop over the steps.
The equations are in docs/definitions.md ("Nested LSTM"); the derivatives are those of
rnnmem.cells.NestedLSTMCell. tests/test_nested_lstm.py checks outputs and gradients against a plain step-by-step
implementation differentiated by autograd, and runs torch.autograd.gradcheck.

Matrix products are most of the work (a Nested LSTM step does 3x an LSTM step's recurrent products,
2x its products in all), so the rest is kept to few operations, each measured on CPU
(benchmarks/nlstm_speed.py):
- Gate rows are reordered inside so that each activation covers one contiguous slice: outer gates as
  (o, f, i, j) (sigmoid on the first 3H; j stays linear, as published), inner gates as
  (o', i', f', j'). The parameters keep the published order (i, j, f, o): the weights are permuted on
  the way in and their gradients on the way out. The forget biases' +1 is added to the biases once.
- torch.tanh on CPU is ~5x slower per element than torch.sigmoid; for steps of at least
  FAST_TANH_MIN_ELEMENTS it is computed as 2 sigmoid(2v) - 1 (for j' inside the one sigmoid over the
  inner gates, by doubling j''s weight rows, which is exact). This differs from torch.tanh by ~1e-7.
- Steps are processed in chunks of about CHUNK_ROWS rows (steps x batch). Per chunk: one product for
  the input half of the outer gates, buffers for every activation, written through per-step views
  made once (a view costs as much as a small operation); in the backward, the factors that do not
  depend on the incoming gradient for the whole chunk at once, then one product each for the input
  gradient and the weight gradients. Chunk-sized buffers are reused by malloc from call to call, where
  whole-sequence buffers (tens of MB) were page-faulted in afresh on every call (~20 ms per 50 MB).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.autograd.function import once_differentiable

# Published gate order: i, j, f, o (chunk k = rows k*H..(k+1)*H of each weight).
_OUTER_ORDER = (3, 2, 0, 1)  # o, f, i, j: sigmoid on [0, 3H), j linear on [3H, 4H)
_INNER_ORDER = (3, 0, 2, 1)  # o', i', f', j': sigmoid on [0, 3H), tanh on [3H, 4H)
# On CPU, steps of at least this many elements (batch x hidden) compute tanh of the cell states from
# sigmoid; below it torch.tanh's lower fixed cost wins (measured crossover ~2000 elements).
FAST_TANH_MIN_ELEMENTS = 2048
CHUNK_ROWS = 1024  # rows (steps x batch) per chunk of the input and weight-gradient products
_STATE_BUFFERS = ("c_outers", "c_inners", "tanh_cos", "tanh_cis")  # (n, B, H) per-chunk buffers


def _reorder(w, order, H: int):
    """w's chunks of H rows (published order) in `order`: a fresh tensor."""
    return torch.cat([w[k * H:(k + 1) * H] for k in order])


def _restore(w, order, H: int):
    """The inverse of _reorder."""
    return torch.cat([w[order.index(k) * H:(order.index(k) + 1) * H] for k in range(4)])


def _use_fast_tanh(x, B: int, H: int) -> bool:
    return x.device.type == "cpu" and B * H >= FAST_TANH_MIN_ELEMENTS


def _tanh(v, fast: bool, out):
    if fast:
        return torch.mul(v, 2, out=out).sigmoid_().mul_(2).sub_(1)  # tanh(v) = 2 sigmoid(2v) - 1
    return torch.tanh(v, out=out)


def _chunks(T: int, B: int):
    """(start, end) step ranges of about CHUNK_ROWS rows each, in order."""
    n = max(1, CHUNK_ROWS // B)
    return [(t0, min(t0 + n, T)) for t0 in range(0, T, n)]


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
        return _forward(*args, all_states=all_states, save=False)


def _steps(t, *slices):
    """Per-step views of chunk tensor t (n, B, ...): t.unbind(0), or for each slice of the last dim."""
    if not slices:
        return t.unbind(0)
    return [t[..., a:b].unbind(0) for a, b in slices]


def _forward(x, h0, c_outer0, c_inner0, w_x, b_x, w_h, w_in, b_in, *, all_states: bool, save: bool):
    T, B, _ = x.shape
    H = w_h.shape[1]
    H2, H3 = 2 * H, 3 * H
    fast = _use_fast_tanh(x, B, H)
    x = x.contiguous()  # (T, B, in): the first layer gets a transposed view of the embeddings
    # Weights in the internal gate order (fresh tensors), forget biases +1; with fast tanh, j' doubled.
    w_x_p, w_h_p, w_in_p = (_reorder(w, order, H) for w, order in
                            ((w_x, _OUTER_ORDER), (w_h, _OUTER_ORDER), (w_in, _INNER_ORDER)))
    b_x_p, b_in_p = _reorder(b_x, _OUTER_ORDER, H), _reorder(b_in, _INNER_ORDER, H)
    b_x_p[H:H2] += 1.0  # f
    b_in_p[H2:H3] += 1.0  # f'
    w_x_t, w_h_t = w_x_p.t().contiguous(), w_h_p.t().contiguous()  # (in, 4H), (H, 4H)
    w_in_t = w_in_p.t().contiguous()  # (2H, 4H)
    if fast:  # tanh(j') = 2 sigmoid(2j') - 1
        b_in_p[H3:] *= 2
        w_in_t[:, H3:] *= 2

    h = x.new_empty(T + 1, B, H)  # h[t] = h_{t-1}: the initial state, then every step's output
    h[0] = h0
    hs = h.unbind(0)
    c_outer, c_inner = c_outer0, c_inner0  # (B, H): the state before the current step
    # Every step's activations are written into (n, B, .) buffers, one set per chunk of n steps when
    # they are kept (for the backward, or all_states), else one set reused, through per-step views
    # made once per buffer set (a view costs as much as a small operation).
    reuse = not (save or all_states)
    gate = [(k * H, (k + 1) * H) for k in range(4)]  # column ranges of the four gates
    chunks = []  # the buffer sets, when kept
    for t0, t1 in _chunks(T, B):
        n = t1 - t0
        if not (reuse and chunks):
            buf = dict(outer=x.new_empty(n, B, 4 * H),  # o, f, i, j after activation (j linear)
                       inner_in=x.new_empty(n, B, H2),  # [inner_x, inner_h]
                       inner=x.new_empty(n, B, 4 * H),  # o', i', f', j' after activation (tanh for j')
                       **{name: x.new_empty(n, B, H) for name in _STATE_BUFFERS})
            chunks.append(buf)
            outer, inner_in, inner = buf["outer"], buf["inner_in"], buf["inner"]
            A, Z, G = _steps(outer), _steps(inner_in), _steps(inner)
            A3, G3 = _steps(outer, (0, H3))[0], _steps(inner, (0, H3))[0]
            SO, SF, SI, J = _steps(outer, *gate)
            SO2, SI2, SF2, TJ2 = _steps(inner, *gate)
            ZX, ZH = _steps(inner_in, (0, H), (H, H2))
            CO, CI, TCO, TCI = (_steps(buf[name]) for name in _STATE_BUFFERS)
        # The input half of the outer gates for the chunk in one product; each step adds h W_h in place.
        torch.addmm(b_x_p, x[t0:t1].view(n * B, -1), w_x_t, out=outer[:n].view(n * B, 4 * H))
        for k in range(n):
            t = t0 + k
            A[k].addmm_(hs[t], w_h_t)
            A3[k].sigmoid_()  # sigmoid(o), sigmoid(f + 1), sigmoid(i); j stays as it is
            torch.mul(SI[k], J[k], out=ZX[k])  # inner_x = sigmoid(i) * j (no tanh, as published)
            torch.mul(c_outer, SF[k], out=ZH[k])  # inner_h = c_outer * sigmoid(f + 1)
            torch.addmm(b_in_p, Z[k], w_in_t, out=G[k])
            if fast:
                G[k].sigmoid_()
                TJ2[k].mul_(2).sub_(1)  # tanh(j') = 2 sigmoid(2j') - 1
            else:
                G3[k].sigmoid_()
                TJ2[k].tanh_()
            torch.mul(c_inner, SF2[k], out=CI[k])  # c_inner * sigmoid(f' + 1)
            c_inner = CI[k].addcmul_(SI2[k], TJ2[k])  # + sigmoid(i') * tanh(j')
            _tanh(c_inner, fast, out=TCI[k])
            c_outer = torch.mul(TCI[k], SO2[k], out=CO[k])  # the inner LSTM's output is the outer cell
            _tanh(c_outer, fast, out=TCO[k])
            torch.mul(TCO[k], SO[k], out=hs[t + 1])  # h = tanh(c_outer) * sigmoid(o)
    if all_states:
        c_outer = torch.cat([c_outer0[None]] + [c["c_outers"] for c in chunks])  # (T + 1, B, H)
        c_inner = torch.cat([c_inner0[None]] + [c["c_inners"] for c in chunks])
    else:
        c_outer, c_inner = c_outer.clone(), c_inner.clone()  # not views of the buffers kept below
    if not save:
        return h, c_outer, c_inner
    saved = dict(x=x, chunks=chunks, c_outer0=c_outer0, c_inner0=c_inner0,
                 w_x_p=w_x_p, w_h_p=w_h_p, w_in_p=w_in_p)  # w_in_p: j' rows not doubled
    return h, c_outer, c_inner, saved


class _NestedLSTMFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c_outer0, c_inner0, w_x, b_x, w_h, w_in, b_in, all_states):
        # Autocast would run the products in half precision, against the float32 buffers.
        with torch.autocast(x.device.type, enabled=False):
            h, c_outer, c_inner, saved = _forward(x, h0, c_outer0, c_inner0, w_x, b_x, w_h, w_in, b_in,
                                                  all_states=all_states, save=True)
        # The inputs and the output h are saved the checked way (changing them in place before the
        # backward raises); the rest is internal to this call, kept on ctx (per call: concurrent calls
        # share nothing).
        ctx.save_for_backward(saved.pop("x"), h, saved.pop("c_outer0"), saved.pop("c_inner0"))
        ctx.saved = saved
        ctx.all_states = all_states
        ctx.device_type = x.device.type
        ctx.set_materialize_grads(False)  # unused outputs arrive as None: nothing to add for them
        return h, c_outer, c_inner

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h, grad_c_outer, grad_c_inner):
        x, h, c_outer0, c_inner0 = ctx.saved_tensors
        with torch.autocast(ctx.device_type, enabled=False):
            grads = _backward(ctx.needs_input_grad, ctx.all_states, x, h, c_outer0, c_inner0, ctx.saved,
                              grad_h, grad_c_outer, grad_c_inner)
        return *grads, None


def _backward(needs, all_states, x, h, c_outer0, c_inner0, saved, grad_h, grad_c_outer, grad_c_inner):
    w_x_p, w_h_p, w_in_p = saved["w_x_p"], saved["w_h_p"], saved["w_in_p"]
    T, B, E = x.shape
    H = w_h_p.shape[1]
    H2, H3 = 2 * H, 3 * H
    need_x, need_w = needs[0], any(needs[4:9])
    # Gradients w.r.t. the state after the current step (h, c_outer', c_inner'), updated in place.
    dh = x.new_zeros(B, H) if grad_h is None else grad_h[T].clone()
    dco, dci = x.new_zeros(B, H), x.new_zeros(B, H)
    for d, grad in ((dco, grad_c_outer), (dci, grad_c_inner)):
        if grad is not None:
            d.copy_(grad[T] if all_states else grad)
    dci_3 = dci.unsqueeze(1)  # (B, 1, H), to scale three gates at once
    grad_hs = None if grad_h is None else grad_h.unbind(0)
    grad_cos = grad_c_outer.unbind(0) if all_states and grad_c_outer is not None else None
    grad_cis = grad_c_inner.unbind(0) if all_states and grad_c_inner is not None else None
    dx = x.new_empty(T, B, E) if need_x else None
    if need_w:  # in the internal gate order, restored at the end
        dw_x, dw_h, dw_in = torch.zeros_like(w_x_p), torch.zeros_like(w_h_p), torch.zeros_like(w_in_p)
        db_x, db_in = x.new_zeros(4 * H), x.new_zeros(4 * H)
    chunks = _chunks(T, B)
    for c in range(len(chunks) - 1, -1, -1):
        t0, t1 = chunks[c]
        n = t1 - t0
        s = saved["chunks"][c]
        outer, inner, tanh_co, tanh_ci = s["outer"], s["inner"], s["tanh_cos"], s["tanh_cis"]  # (n, B, .)
        so, sf, si, j = outer.split(H, -1)
        so2, si2, sf2, tj2 = inner.split(H, -1)
        prev = saved["chunks"][c - 1] if c else None  # for the states before the chunk's first step
        c_outer_first = prev["c_outers"][-1] if prev else c_outer0  # (B, H)
        c_inner_first = prev["c_inners"][-1] if prev else c_inner0

        # Every factor that does not depend on the incoming gradients, for the whole chunk at once
        # (vjp.py's backward_step, split into these and the per-step products below).
        dtanh_co = torch.addcmul(so, so * tanh_co, tanh_co, value=-1)  # ∂h/∂c_outer' = so (1 - tanh^2)
        dtanh_ci = torch.addcmul(so2, so2 * tanh_ci, tanh_ci, value=-1)  # ∂c_outer'/∂c_inner'
        m_outer = x.new_empty(n, B, 4 * H)  # what the incoming gradient multiplies, per gate:
        s3 = outer[..., :H3]  # sigmoid of o, f, i
        torch.addcmul(s3, s3, s3, value=-1, out=m_outer[..., :H3])  # their derivatives s (1 - s)
        m_outer[..., :H].mul_(tanh_co)  # o, times dh
        m_outer[0, :, H:H2].mul_(c_outer_first)  # f, times d inner_h
        m_outer[1:, :, H:H2].mul_(s["c_outers"][:-1])
        m_outer[..., H2:H3].mul_(j)  # i, times d inner_x
        m_outer[..., H3:] = si  # j, times d inner_x
        m_inner = x.new_empty(n, B, 4 * H)
        s3 = inner[..., :H3]  # sigmoid of o', i', f'
        torch.addcmul(s3, s3, s3, value=-1, out=m_inner[..., :H3])
        m_inner[..., :H].mul_(tanh_ci)  # o', times dc_outer'
        m_inner[..., H:H2].mul_(tj2)  # i', times dc_inner', as are f' and j'
        m_inner[0, :, H2:H3].mul_(c_inner_first)  # f'
        m_inner[1:, :, H2:H3].mul_(s["c_inners"][:-1])
        torch.addcmul(si2, si2 * tj2, tj2, value=-1, out=m_inner[..., H3:])  # j': si2 (1 - tanh(j')^2)
        d_outer = x.new_empty(n, B, 4 * H)  # gradients of the pre-activations: o f i j
        d_inner = x.new_empty(n, B, 4 * H)  # o' i' f' j'
        d_inner_in = x.new_empty(n, B, H2)  # gradients of [inner_x, inner_h]
        # per-step views, made once
        DTCO, DTCI, SF, SF2 = map(_steps, (dtanh_co, dtanh_ci, sf, sf2))
        DO, DI, DII = map(_steps, (d_outer, d_inner, d_inner_in))
        MO, MF = _steps(m_outer, (0, H), (H, H2))
        MIJ = _steps(m_outer[..., H2:].view(n, B, 2, H))  # (B, 2, H) each
        MO2 = _steps(m_inner, (0, H))[0]
        MIFJ2 = _steps(m_inner[..., H:].view(n, B, 3, H))
        DO_O, DO_F = _steps(d_outer, (0, H), (H, H2))
        DO_IJ = _steps(d_outer[..., H2:].view(n, B, 2, H))
        DI_O2 = _steps(d_inner, (0, H))[0]
        DI_IFJ2 = _steps(d_inner[..., H:].view(n, B, 3, H))
        D_IX = _steps(d_inner_in[..., :H].unsqueeze(2))  # (B, 1, H)
        D_IH = _steps(d_inner_in, (H, H2))[0]
        for k in range(n - 1, -1, -1):
            t = t0 + k
            dco.addcmul_(dh, DTCO[k])  # h = tanh(c_outer') sigmoid(o)
            torch.mul(dh, MO[k], out=DO_O[k])
            dci.addcmul_(dco, DTCI[k])  # c_outer' = tanh(c_inner') sigmoid(o')
            torch.mul(dco, MO2[k], out=DI_O2[k])
            # c_inner' = c_inner sigmoid(f' + 1) + sigmoid(i') tanh(j')
            torch.mul(dci_3, MIFJ2[k], out=DI_IFJ2[k])
            torch.mm(DI[k], w_in_p, out=DII[k])
            torch.mul(D_IH[k], MF[k], out=DO_F[k])  # inner_h = c_outer sigmoid(f + 1)
            torch.mul(D_IX[k], MIJ[k], out=DO_IJ[k])  # inner_x = sigmoid(i) j
            # to the state before this step
            dci.mul_(SF2[k])
            torch.mul(D_IH[k], SF[k], out=dco)
            if grad_cos is not None:
                dco.add_(grad_cos[t])
            if grad_cis is not None:
                dci.add_(grad_cis[t])
            if grad_hs is None:
                torch.mm(DO[k], w_h_p, out=dh)
            else:
                torch.addmm(grad_hs[t], DO[k], w_h_p, out=dh)
        # The chunk's input gradient and weight gradients: one product each.
        rows = n * B
        d_outer, d_inner = d_outer.view(rows, 4 * H), d_inner.view(rows, 4 * H)
        if need_x:
            torch.mm(d_outer, w_x_p, out=dx[t0:t1].view(rows, E))
        if need_w:
            dw_x.addmm_(d_outer.t(), x[t0:t1].view(rows, E))
            dw_h.addmm_(d_outer.t(), h[t0:t1].view(rows, H))  # h[t] = h_{t-1}
            dw_in.addmm_(d_inner.t(), s["inner_in"].view(rows, H2))
            db_x += d_outer.sum(0)
            db_in += d_inner.sum(0)
    if not need_w:
        return dx, dh, dco, dci, None, None, None, None, None
    return (dx, dh, dco, dci, *(_restore(g, _OUTER_ORDER, H) for g in (dw_x, db_x, dw_h)),
            *(_restore(g, _INNER_ORDER, H) for g in (dw_in, db_in)))


# ---- the layer and the stack the model uses ------------------------------------------------------------

class NestedLSTMLayer(nn.Module):
    """One Nested LSTM layer of depth 2, as the article's published code computes it
    (docs/definitions.md, "Nested LSTM").

    In: x (B, T, input_size), state (h, c_outer, c_inner) each (B, H) or None (zeros).
    Out: h for every step (B, T, H), and the final state (h, c_outer, c_inner), each (B, H); with
    ``return_states``, instead of the final state, c_outer and c_inner for every step, each (B, T, H).
    The time loop and its hand-written backward are in rnnmem.nested_lstm (there is no fused kernel);
    tests/test_nested_lstm.py checks them against a step-by-step implementation of the equations.
    The outputs are views of (T, B, H) buffers (not contiguous); the next layer reads them as they are.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.outer_x = nn.Linear(input_size, 4 * hidden_size)  # W0 rows for x, with b0; gates i, j, f, o
        self.outer_h = nn.Linear(hidden_size, 4 * hidden_size, bias=False)  # W0 rows for h
        self.inner = nn.Linear(2 * hidden_size, 4 * hidden_size)  # W1 over [inner_x, inner_h], with b1

    def forward(self, x, state=None, return_states: bool = False):
        B, T, _ = x.shape
        if state is None:
            h0 = c_outer0 = c_inner0 = x.new_zeros(B, self.hidden_size)
        else:
            h0, c_outer0, c_inner0 = state
        h, c_outer, c_inner = nested_lstm(  # h (T + 1, B, H), the initial state first
            x.transpose(0, 1), h0, c_outer0, c_inner0, self.outer_x.weight, self.outer_x.bias,
            self.outer_h.weight, self.inner.weight, self.inner.bias, all_states=return_states)
        out = h[1:].transpose(0, 1)  # (B, T, H)
        if return_states:  # c_outer, c_inner (T + 1, B, H)
            return out, (c_outer[1:].transpose(0, 1), c_inner[1:].transpose(0, 1))
        return out, (h[T], c_outer, c_inner)  # c_outer, c_inner (B, H)


class NestedLSTMStack(nn.ModuleList):
    """``num_layers`` Nested LSTM layers, run like PyTorch's fused stacks: ``forward(x, state=None) ->
    (out, state)``, x (B, T, E) -> out (B, T, H); ``state`` is every layer's final (h, c_outer, c_inner), to
    continue from (None: zeros). A ModuleList, so the weights keep their names on disk (``layers.<k>.…``)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int):
        super().__init__(NestedLSTMLayer(input_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers))

    def forward(self, x, state=None):
        finals = []
        for k, layer in enumerate(self):
            x, final = layer(x, None if state is None else state[k])
            finals.append(final)
        return x, finals
