"""Overhead of anemoi_tp.capture.module_ranges on a CPU model shaped like Anemoi's.

Encoder (a block), processor (N blocks in a ModuleList, each attention-like: key / value /
edge projections and an MLP, as Anemoi's graph-transformer blocks), decoder (a block); one
training step = forward, backward, optimizer. Steps without and with the hooks alternate in
rounds (the shared machine's drift hits both alike); the median step time of each is compared.

    python bench/bench_capture.py [--blocks 8] [--nodes 1024] [--hidden 128] [--rounds 8]
                                  [--steps 5] [--checkpoint] [--profiler]

Prints both medians and the ratio; the target is < 3 % on steps of >= 50 ms.
"""
from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext

import torch
import torch.utils.checkpoint
from torch import nn

from anemoi_tp.capture import module_ranges


class Block(nn.Module):
    def __init__(self, h: int) -> None:
        super().__init__()
        self.lin_key, self.lin_value, self.lin_edge = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.norm = nn.LayerNorm(h)
        self.mlp = nn.Sequential(nn.Linear(h, 2 * h), nn.GELU(), nn.Linear(2 * h, h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.softmax(self.lin_key(x) * self.lin_edge(x), dim=-1) * self.lin_value(x)
        return x + self.mlp(self.norm(a))


class Processor(nn.Module):
    def __init__(self, h: int, n: int, checkpoint: bool) -> None:
        super().__init__()
        self.proc = nn.ModuleList([Block(h) for _ in range(n)])
        self.checkpoint = checkpoint

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.proc:
            x = torch.utils.checkpoint.checkpoint(blk, x, use_reentrant=False) if self.checkpoint else blk(x)
        return x


class Model(nn.Module):
    def __init__(self, h: int, n: int, checkpoint: bool) -> None:
        super().__init__()
        self.encoder, self.processor, self.decoder = Block(h), Processor(h, n, checkpoint), Block(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.processor(self.encoder(x)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--nodes", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", action="store_true", help="checkpoint the processor blocks")
    ap.add_argument("--profiler", action="store_true",
                    help="run both under torch.profiler (CPU activity), as when recording")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model(a.hidden, a.blocks, a.checkpoint)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    x, y = torch.randn(a.nodes, a.hidden), torch.randn(a.nodes, a.hidden)

    def step() -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        return time.perf_counter() - t, time.process_time() - c

    times: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    prof = (torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            if a.profiler else nullcontext())
    with prof:
        for _ in range(2):  # warm-up
            step()
        for r in range(a.rounds):
            order = ("without", "with") if r % 2 == 0 else ("with", "without")
            for mode in order:
                ctx = module_ranges(model) if mode == "with" else nullcontext()
                with ctx:
                    times[mode] += [step() for _ in range(a.steps)]
    print(f"model: encoder + {a.blocks} processor blocks + decoder, {a.nodes} x {a.hidden}, "
          f"checkpoint={a.checkpoint}, profiler={a.profiler}, threads={a.threads}")
    # wall time is what a run pays; process CPU time is steadier on a shared machine
    for i, clock in enumerate(("wall", "cpu")):
        base = statistics.median(t[i] for t in times["without"])
        hooked = statistics.median(t[i] for t in times["with"])
        print(f"{clock:4} step without hooks {base * 1e3:8.2f} ms, with hooks {hooked * 1e3:8.2f} ms "
              f"(medians of {len(times['with'])}): ratio {hooked / base:.4f} "
              f"(overhead {100 * (hooked / base - 1):+.2f} %)")


if __name__ == "__main__":
    main()
