"""Connectivity matrix speed against its floor, per unit.

    python -m benchmarks.connectivity_speed [--hidden 256] [--units rnn gru lstm nlstm] [--length 200]
                                            [--models gru lstm ...]  # shipped models instead of random ones
                                            [--baseline]             # also time one autograd pass per position

The floor: row t of the matrix needs a vector-Jacobian product through every recurrent step up to t, so
the whole matrix needs T(T+1)/2 row-steps; each row-step costs the matrix products of one backward step
(2 FLOP per multiply-add over the gate weights of every layer). We time this machine's matrix-product
rate at the shape the sweep uses and divide. Printed: FLOPs, floor seconds, measured seconds, ratio.
"""

import argparse
import statistics
import time

import torch

from rnnmem.analysis import connectivity, connectivity_matrix
from rnnmem.model import AutocompleteRNN, ModelConfig
from rnnmem.refs import load_model

PARAGRAPH = ("context the formal study of grammar is an important part of education from a young age through "
             "advanced learning though the rules taught in schools are not a grammar in the sense most "
             "linguists use")


def gate_weight_shapes(model: AutocompleteRNN) -> list[tuple[int, int]]:
    """(rows, cols) of every weight matrix one backward step multiplies by, over all layers."""
    c = model.config
    H, shapes = c.hidden_size, []
    for layer in range(c.num_layers):
        width = c.embedding_size if layer == 0 else H
        if c.unit == "nlstm":
            shapes += [(4 * H, width), (4 * H, H), (4 * H, 2 * H)]
        else:
            gates = {"rnn": 1, "gru": 3, "lstm": 4}[c.unit] * H
            shapes += [(gates, width), (gates, H)]
    return shapes


def matmul_rate(rows: int, shapes: list[tuple[int, int]]) -> float:
    """FLOP/s of (rows, g) @ (g, k) products of the given shapes on this machine."""
    pairs = [(torch.randn(rows, g), torch.randn(g, k)) for g, k in shapes]
    flops = sum(2 * rows * g * k for g, k in shapes)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        for a, b in pairs:
            a @ b
        times.append(time.perf_counter() - start)
    return flops / statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--units", nargs="+", default=["rnn", "gru", "lstm", "nlstm"])
    p.add_argument("--models", nargs="+", default=None, help="model references (overrides --units/--hidden)")
    p.add_argument("--length", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--baseline", action="store_true", help="also time one autograd backward per position")
    args = p.parse_args()
    text = (PARAGRAPH * 4)[: args.length - 1]
    words = ["<eos>", "<unknown>"] + [f"w{i}" for i in range(2**14)]
    if args.models:
        models = [load_model(ref) for ref in args.models]
    else:
        models = []
        for unit in args.units:
            torch.manual_seed(0)
            models.append(AutocompleteRNN(ModelConfig(unit=unit, hidden_size=args.hidden,
                                                      embedding_size=args.hidden, words=words)).eval())
    print(f"torch threads: {torch.get_num_threads()}, T = {len(text) + 1}")
    for model in models:
        T = len(text) + 1
        shapes = gate_weight_shapes(model)
        flops = sum(2 * g * k for g, k in shapes) * T * (T + 1) // 2
        rate = matmul_rate(T // 2, shapes)  # the average number of active rows is about T/2
        connectivity_matrix(model, text[:20])  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            connectivity_matrix(model, text)
            times.append(time.perf_counter() - start)
        measured = statistics.median(times)
        floor = flops / rate
        c = model.config
        line = (f"{c.unit:6s} {c.num_layers}x{c.hidden_size:<4d} floor {flops / 1e9:6.1f} GFLOP at "
                f"{rate / 1e9:5.1f} GFLOP/s = {floor:5.2f} s; matrix {measured:5.2f} s ({measured / floor:4.2f}x floor)")
        if args.baseline:
            start = time.perf_counter()
            for position in range(T):
                connectivity(model, text, position)
            line += f"; one autograd pass per position {time.perf_counter() - start:6.2f} s"
        print(line, flush=True)


if __name__ == "__main__":
    main()
