"""Time per character of the Nested LSTM layer stack against PyTorch's fused LSTM of the same size.

    python -m benchmarks.nlstm_speed [--hidden 256 600] [--layers 2] [--seq-len 200] [--repeats 5]
                                     [--threads 2] [--clock wall|cpu] [--nlstm rnnmem.model:NestedLSTMLayer]

Training is forward + backward (gradients for the input and every parameter) at batch 64; inference is a
no-grad forward at batch 1 and batch 64. Input width = hidden size, as in the article. Each repeat times
the LSTM and then the Nested LSTM back to back, so a busy machine slows both alike; the figures are the
median over repeats (after one warm-up) of the seconds per character (time / (batch x length)), and the
ratio is the median of the per-repeat ratios. ``--nlstm module:Class`` times another implementation of
the layer (same constructor and forward signature); ``--nlstm benchmarks.nlstm_speed:AutogradNestedLSTMLayer``
times the step-by-step, autograd-recorded layer that rnnmem.model had before rnnmem.nested_lstm.
On a busy machine, ``--threads 1 --clock cpu`` gives steadier figures.
"""

import argparse
import importlib
import statistics
import time

import torch
import torch.nn as nn


class AutogradNestedLSTMLayer(nn.Module):
    """The Nested LSTM layer as rnnmem.model wrote it before rnnmem.nested_lstm: every step recorded by
    autograd. Same parameters and outputs (x (B, T, in) -> h (B, T, H), final state); kept to time."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.outer_x = nn.Linear(input_size, 4 * hidden_size)
        self.outer_h = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.inner = nn.Linear(2 * hidden_size, 4 * hidden_size)

    def forward(self, x, state=None):
        B, T, _ = x.shape
        if state is None:
            h = c_outer = c_inner = x.new_zeros(B, self.hidden_size)
        else:
            h, c_outer, c_inner = state
        outputs = []
        for x_gates_t in self.outer_x(x).unbind(1):
            i, j, f, o = (x_gates_t + self.outer_h(h)).chunk(4, dim=-1)
            inner_x = torch.sigmoid(i) * j
            inner_h = c_outer * torch.sigmoid(f + 1.0)
            i2, j2, f2, o2 = self.inner(torch.cat([inner_x, inner_h], dim=-1)).chunk(4, dim=-1)
            c_inner = c_inner * torch.sigmoid(f2 + 1.0) + torch.sigmoid(i2) * torch.tanh(j2)
            c_outer = torch.tanh(c_inner) * torch.sigmoid(o2)
            h = torch.tanh(c_outer) * torch.sigmoid(o)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, c_outer, c_inner)


def load_class(spec: str):
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def nlstm_stack(layer_class, hidden: int, layers: int) -> nn.Module:
    stack = nn.ModuleList(layer_class(hidden, hidden) for _ in range(layers))

    def run(x):
        for layer in stack:
            x, _ = layer(x)
        return x

    stack.run = run
    return stack


def lstm_stack(hidden: int, layers: int) -> nn.Module:
    lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
    lstm.run = lambda x: lstm(x)[0]
    return lstm


def train_step(model, x, cotangent):
    out = model.run(x)  # (B, T, H)
    (out * cotangent).sum().backward()


def compare(name: str, lstm, nlstm, make_fn, chars: int, repeats: int, clock) -> None:
    """Times make_fn(lstm) and make_fn(nlstm) back to back, `repeats` times after one warm-up."""
    lstm_fn, nlstm_fn = make_fn(lstm), make_fn(nlstm)
    lstm_fn(), nlstm_fn()  # warm-up
    lstm_times, nlstm_times = [], []
    def timed(fn) -> float:
        start = clock()
        fn()
        return clock() - start

    for _ in range(repeats):
        lstm_times.append(timed(lstm_fn))
        nlstm_times.append(timed(nlstm_fn))
    ratio = statistics.median(n / l for n, l in zip(nlstm_times, lstm_times))
    lstm_us = statistics.median(lstm_times) / chars * 1e6
    nlstm_us = statistics.median(nlstm_times) / chars * 1e6
    print(f"{name:32s} LSTM {lstm_us:8.2f} us/char   NLSTM {nlstm_us:8.2f} us/char   ratio {ratio:5.2f}x",
          flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 600], help="hidden sizes to time")
    p.add_argument("--layers", type=int, default=2, help="stacked layers")
    p.add_argument("--seq-len", type=int, default=200, help="characters per sequence")
    p.add_argument("--train-batch", type=int, default=64, help="batch size for training")
    p.add_argument("--infer-batch", type=int, nargs="+", default=[1, 64], help="batch sizes for inference")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median), after one warm-up")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall: elapsed time; cpu: this process's CPU time (steadier on a busy machine, "
                        "with --threads 1)")
    p.add_argument("--nlstm", default="rnnmem.model:NestedLSTMLayer", help="Nested LSTM layer, module:Class")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    layer_class = load_class(args.nlstm)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    T = args.seq_len
    print(f"{args.nlstm}, {args.layers} layers, T={T}, {args.threads} threads, {args.clock} clock, "
          f"median of {args.repeats}")
    for hidden in args.hidden:
        torch.manual_seed(0)
        lstm, nlstm = lstm_stack(hidden, args.layers), nlstm_stack(layer_class, hidden, args.layers)
        size = f"{args.layers}x{hidden}"

        B = args.train_batch
        x = torch.randn(B, T, hidden, requires_grad=True)  # the embedding's output needs a gradient too
        cotangent = torch.randn(B, T, hidden)
        compare(f"{size} train (fwd+bwd) batch {B}", lstm, nlstm,
                lambda m: (lambda: train_step(m, x, cotangent)), B * T, args.repeats, clock)

        for B in args.infer_batch:
            x = torch.randn(B, T, hidden)

            def infer(m, x=x):
                def fn():
                    with torch.no_grad():
                        m.run(x)
                return fn

            compare(f"{size} inference batch {B}", lstm, nlstm, infer, B * T, args.repeats, clock)


if __name__ == "__main__":
    main()
