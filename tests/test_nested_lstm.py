"""NestedLSTMLayer (rnnmem.nested_lstm, loop and backward in rnnmem.nested_lstm) against a plain, step-by-step
implementation of the equations in docs/definitions.md ("Nested LSTM"), differentiated by autograd."""

import threading

import pytest
import torch

import rnnmem.nested_lstm
from rnnmem.nested_lstm import NestedLSTMLayer
from rnnmem.nested_lstm import nested_lstm

# (batch, length, input size, hidden size)
SIZES = [(1, 1, 3, 2), (2, 5, 3, 4), (3, 7, 5, 3), (4, 3, 6, 8), (1, 12, 2, 5)]


def reference(layer: NestedLSTMLayer, x, state=None):
    """The equations as written, one step at a time:
    gates_outer = [x, h] W0 + b0 -> i, j, f, o; inner_x = σ(i) j; inner_h = c_outer σ(f + 1);
    gates_inner = [inner_x, inner_h] W1 + b1 -> i', j', f', o';
    c_inner' = c_inner σ(f' + 1) + σ(i') tanh(j'); c_outer' = tanh(c_inner') σ(o');
    h' = tanh(c_outer') σ(o).

    Returns h, c_outer, c_inner for every step, each (B, T, H)."""
    B, T, _ = x.shape
    H = layer.hidden_size
    w0 = torch.cat([layer.outer_x.weight, layer.outer_h.weight], dim=1)  # (4H, in + H): W0 over [x, h]
    b0 = layer.outer_x.bias
    w1, b1 = layer.inner.weight, layer.inner.bias  # (4H, 2H)
    if state is None:
        h = c_outer = c_inner = torch.zeros(B, H, dtype=x.dtype)
    else:
        h, c_outer, c_inner = state
    hs, c_outers, c_inners = [], [], []
    for t in range(T):
        gates_outer = torch.cat([x[:, t], h], dim=1) @ w0.T + b0
        i, j, f, o = (gates_outer[:, k * H:(k + 1) * H] for k in range(4))
        inner_x = torch.sigmoid(i) * j
        inner_h = c_outer * torch.sigmoid(f + 1)
        gates_inner = torch.cat([inner_x, inner_h], dim=1) @ w1.T + b1
        i2, j2, f2, o2 = (gates_inner[:, k * H:(k + 1) * H] for k in range(4))
        c_inner = c_inner * torch.sigmoid(f2 + 1) + torch.sigmoid(i2) * torch.tanh(j2)
        c_outer = torch.tanh(c_inner) * torch.sigmoid(o2)
        h = torch.tanh(c_outer) * torch.sigmoid(o)
        hs.append(h)
        c_outers.append(c_outer)
        c_inners.append(c_inner)
    return torch.stack(hs, 1), torch.stack(c_outers, 1), torch.stack(c_inners, 1)


@pytest.fixture(params=["default", "chunked-fast-tanh"])
def variant(request, monkeypatch):
    """The layer as configured, and with what only large sizes would reach: several chunks (the last
    one shorter) and tanh computed from sigmoid."""
    if request.param == "chunked-fast-tanh":
        monkeypatch.setattr(rnnmem.nested_lstm, "CHUNK_ROWS", 5)
        monkeypatch.setattr(rnnmem.nested_lstm, "FAST_TANH_MIN_ELEMENTS", 0)
    return request.param


def make_layer(input_size, hidden_size, seed=0, dtype=torch.float32, scale=1.0):
    torch.manual_seed(seed)
    layer = NestedLSTMLayer(input_size, hidden_size).to(dtype)
    with torch.no_grad():  # larger than the default initialisation, so every nonlinearity is exercised
        for p in layer.parameters():
            p.mul_(scale * 3)
    return layer


def random_state(B, H, dtype=torch.float32):
    return tuple(torch.randn(B, H, dtype=dtype, requires_grad=True) for _ in range(3))


def grads(outputs, cotangents, inputs):
    loss = sum((o * c).sum() for o, c in zip(outputs, cotangents))
    return torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("B, T, E, H", SIZES)
@pytest.mark.parametrize("with_state", [False, True])
def test_matches_reference_outputs_and_gradients(B, T, E, H, with_state, variant):
    layer = make_layer(E, H, seed=B * 100 + T)
    x = torch.randn(B, T, E, requires_grad=True)
    state = random_state(B, H) if with_state else None
    out, (h_last, co_last, ci_last) = layer(x, state)
    ref_h, ref_co, ref_ci = reference(layer, x, state)
    torch.testing.assert_close(out, ref_h, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h_last, ref_h[:, -1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(co_last, ref_co[:, -1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ci_last, ref_ci[:, -1], rtol=1e-5, atol=1e-6)

    # a loss on every output and on the final state, w.r.t. the input, every parameter (and the state)
    inputs = [x, *layer.parameters(), *(state or ())]
    cotangents = [torch.randn_like(t) for t in (out, h_last, co_last, ci_last)]
    got = grads((out, h_last, co_last, ci_last), cotangents, inputs)
    want = grads((ref_h, ref_h[:, -1], ref_co[:, -1], ref_ci[:, -1]), cotangents, inputs)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("B, T, E, H", SIZES[1:3])
def test_return_states_and_their_gradients(B, T, E, H, variant):
    layer = make_layer(E, H, seed=7)
    x = torch.randn(B, T, E, requires_grad=True)
    state = random_state(B, H)
    out, (c_outers, c_inners) = layer(x, state, return_states=True)
    ref = reference(layer, x, state)
    for got, want in zip((out, c_outers, c_inners), ref):
        assert got.shape == (B, T, H)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    inputs = [x, *layer.parameters(), *state]
    cotangents = [torch.randn(B, T, H) for _ in range(3)]
    for g, w in zip(grads((out, c_outers, c_inners), cotangents, inputs), grads(ref, cotangents, inputs)):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_gradient_through_the_final_cell_states_only(variant):
    """No gradient reaches h (as when a loss reads only the carried state)."""
    B, T, E, H = 2, 6, 3, 4
    layer = make_layer(E, H, seed=11)
    x = torch.randn(B, T, E, requires_grad=True)
    _, (_, c_outer, c_inner) = layer(x)
    ref_h, ref_co, ref_ci = reference(layer, x)
    inputs = [x, *layer.parameters()]
    cotangents = [torch.randn(B, H), torch.randn(B, H)]
    got = grads((c_outer, c_inner), cotangents, inputs)
    want = grads((ref_co[:, -1], ref_ci[:, -1]), cotangents, inputs)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_parameter_names_and_shapes_are_those_of_saved_checkpoints():
    shapes = {name: tuple(p.shape) for name, p in NestedLSTMLayer(5, 3).state_dict().items()}
    assert shapes == {"outer_x.weight": (12, 5), "outer_x.bias": (12,), "outer_h.weight": (12, 3),
                      "inner.weight": (12, 6), "inner.bias": (12,)}


def test_gradient_wrt_input_only_leaves_parameters_alone(variant):
    """As attribution calls it (rnnmem.analysis.connectivity): torch.autograd.grad w.r.t. the input."""
    layers = [make_layer(4, 6, seed=1, scale=0.5), make_layer(6, 6, seed=2, scale=0.5)]
    x = torch.randn(1, 9, 4, requires_grad=True)
    hidden = x
    for layer in layers:
        hidden, _ = layer(hidden)
    (got,) = torch.autograd.grad(hidden[0, 6, 2], x)
    ref = x
    for layer in layers:
        ref = reference(layer, ref)[0]
    (want,) = torch.autograd.grad(ref[0, 6, 2], x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    assert got[0, 7:].abs().max() == 0  # later inputs cannot matter
    assert all(p.grad is None for layer in layers for p in layer.parameters())


def test_no_grad_forward_is_the_same(variant):
    layer = make_layer(5, 4, seed=3)
    x = torch.randn(3, 6, 5)
    state = tuple(s.detach() for s in random_state(3, 4))
    out, final = layer(x, state)  # parameters need grad: the recorded path
    with torch.no_grad():
        out_ng, final_ng = layer(x, state)
    assert not out_ng.requires_grad
    torch.testing.assert_close(out_ng, out.detach(), rtol=0, atol=0)
    for a, b in zip(final_ng, final):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)
    with torch.no_grad():
        _, states_ng = layer(x, state, return_states=True)
    _, states = layer(x, state, return_states=True)
    for a, b in zip(states_ng, states):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


def test_gradcheck_float64(variant):
    torch.manual_seed(4)
    B, T, E, H = 2, 4, 3, 2
    x = torch.randn(T, B, E, dtype=torch.float64, requires_grad=True)
    state = random_state(B, H, torch.float64)
    params = [torch.randn(*shape, dtype=torch.float64, requires_grad=True)
              for shape in ((4 * H, E), (4 * H,), (4 * H, H), (4 * H, 2 * H), (4 * H,))]
    assert torch.autograd.gradcheck(nested_lstm, (x, *state, *params))

    layer = make_layer(E, H, seed=5, dtype=torch.float64)  # and through the layer, with its defaults

    def through_layer(x):
        out, (c_outers, c_inners) = layer(x, return_states=True)
        return out, c_outers, c_inners

    x = torch.randn(B, T, E, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(through_layer, (x,))


def test_training_step_through_two_layers_matches_reference(variant):
    """The stack as AutocompleteRNN runs it (each layer reads the previous one's non-contiguous output)."""
    layers = [make_layer(3, 5, seed=8, scale=0.5), make_layer(5, 5, seed=9, scale=0.5)]
    params = [p for layer in layers for p in layer.parameters()]
    x = torch.randn(4, 10, 3)
    target = torch.randn(4, 10, 5)
    hidden, ref = x, x
    for layer in layers:
        hidden, _ = layer(hidden)
        ref = reference(layer, ref)[0]
    got = torch.autograd.grad(((hidden - target) ** 2).mean(), params)
    want = torch.autograd.grad(((ref - target) ** 2).mean(), params)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-6)


def test_concurrent_calls_share_no_state():
    """Several threads call one layer at once (the app shares cached models): each gets its own result."""
    layer = make_layer(4, 6, seed=6)
    inputs = [torch.randn(2, 5 + k, 4, requires_grad=True) for k in range(4)]
    expected = []
    for x in inputs:
        out, _ = layer(x)
        expected.append((out.detach(), torch.autograd.grad(out.sum(), x)[0]))
    results = [None] * len(inputs)

    def work(k):
        for _ in range(20):
            out, _ = layer(inputs[k])
            results[k] = (out.detach(), torch.autograd.grad(out.sum(), inputs[k])[0])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (out, grad), (want_out, want_grad) in zip(results, expected):
        torch.testing.assert_close(out, want_out, rtol=0, atol=0)
        torch.testing.assert_close(grad, want_grad, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    layer = make_layer(5, 4, seed=10)
    x = torch.randn(3, 6, 5, requires_grad=True)
    out, _ = layer(x)
    cotangent = torch.randn_like(out)
    want = grads((out,), (cotangent,), [x, *layer.parameters()])
    layer_gpu = layer.cuda()
    x_gpu = x.detach().cuda().requires_grad_()
    out_gpu, _ = layer_gpu(x_gpu)
    got = grads((out_gpu,), (cotangent.cuda(),), [x_gpu, *layer_gpu.parameters()])
    torch.testing.assert_close(out_gpu.cpu(), out.detach(), rtol=1e-4, atol=1e-5)
    for g, w in zip(got, want):
        torch.testing.assert_close(g.cpu(), w, rtol=1e-3, atol=1e-4)
