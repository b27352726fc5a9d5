"""Training throughput (characters per second) per unit and size, on random batches of real shape.

    python -m benchmarks.train_throughput [--hidden 256 600] [--units rnn gru lstm nlstm]
                                          [--batch-size 64] [--softmax full sampled] [--steps 4]

Prints one line per configuration: the median seconds per step over --steps steps (after one warm-up),
and characters per second. Uses the real vocabulary size (16,386 classes) and 200-character sequences.
"""

import argparse
import statistics
import time

import torch

from rnnmem.model import AutocompleteRNN, ModelConfig
from rnnmem.train import TrainConfig, log_uniform_log_q, training_loss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 600])
    p.add_argument("--units", nargs="+", default=["rnn", "gru", "lstm", "nlstm"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--softmax", nargs="+", default=["full", "sampled"])
    p.add_argument("--bf16-output", action="store_true")
    p.add_argument("--steps", type=int, default=4)
    args = p.parse_args()
    words = ["<eos>", "<unknown>"] + [f"w{i}" for i in range(2**14)]
    B, T = args.batch_size, 200
    for hidden in args.hidden:
        for unit in args.units:
            for softmax in args.softmax:
                torch.manual_seed(0)
                config = TrainConfig(unit=unit, hidden_size=hidden, softmax=softmax, bf16_output=args.bf16_output)
                model = AutocompleteRNN(ModelConfig(unit=unit, hidden_size=hidden, embedding_size=hidden,
                                                    words=words))
                optimizer = torch.optim.Adam(model.parameters())
                log_q = log_uniform_log_q(len(words), config.num_sampled, "cpu")
                generator = torch.Generator().manual_seed(0)
                chars = torch.randint(1, 28, (B, T))
                # Zipf-like targets, as real word frequencies are
                targets = (torch.rand(B, T).pow(3) * (len(words) - 2)).long() + 2
                times = []
                for step in range(args.steps + 1):
                    start = time.perf_counter()
                    loss = training_loss(model, chars, targets, config, log_q, generator)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    if step:
                        times.append(time.perf_counter() - start)
                sec = statistics.median(times)
                print(f"{unit:6s} {2}x{hidden:<4d} batch {B:4d} softmax {softmax:8s} bf16 {args.bf16_output!s:5s} "
                      f"{sec:7.3f} s/step {B * T / sec:9,.0f} chars/s", flush=True)


if __name__ == "__main__":
    main()
