"""Overhead of anemoi_tp.capture.module_ranges on a CPU model shaped like Anemoi's.

Encoder (a block), processor (N blocks in a ModuleList, each attention-like: key / value /
edge projections and an MLP, as Anemoi's graph-transformer blocks), decoder (a block); one
training step = forward, backward, optimizer. Steps without and with the hooks alternate in
rounds (A B, B A, …: the shared machine's drift hits both alike), warm-up steps dropped, one
thread. Per clock (wall, process CPU) it prints the median and the minimum step time of each
mode, the overhead as ratio and in ms, and the median of the per-round differences.

    python bench/bench_capture.py [--blocks 8] [--nodes 1024] [--hidden 128] [--rounds 10]
                                  [--steps 5] [--warmup 3] [--checkpoint] [--profiler]
    python bench/bench_capture.py --profile-hooks 20   # where the hooks' time goes (cProfile)

The target is < 3 % on steps of >= 50 ms. Without --profiler the ranges are not opened (no
profiler on: nobody would record them) but every hook runs: the cost of an unrecorded step in
a run with the hooks installed; --profiler measures a recorded step.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
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


def _stats(xs: list[float]) -> tuple[float, float]:
    return statistics.median(xs), min(xs)


def _profile_hooks(step: Callable[[], object], model: nn.Module, steps: int) -> None:
    """cProfile of hooked steps: where the capture's own Python time goes (the profiler's
    overhead inflates every figure alike; read the shares, not the absolute times)."""
    import cProfile
    import pstats
    with module_ranges(model):
        step()
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(steps):
            step()
        pr.disable()
    st = pstats.Stats(pr)
    st.sort_stats("tottime")
    print(f"cProfile of {steps} hooked steps, functions of anemoi_tp.capture and torch hooks "
          "(tottime / cumtime per step, ms):")
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _) in st.stats.items():
        if "capture" in file or "hooks" in file or "profiler" in file or "graph" in file:
            rows.append((tt, ct, nc, f"{file.rsplit('/', 1)[-1]}:{line} {fn}"))
    for tt, ct, nc, name in sorted(rows, reverse=True)[:25]:
        print(f"  {tt / steps * 1e3:7.3f} {ct / steps * 1e3:7.3f}  {nc // steps:6d} calls  {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--nodes", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3, help="steps run (and dropped) per mode first")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", action="store_true", help="checkpoint the processor blocks")
    ap.add_argument("--profiler", action="store_true",
                    help="run both under torch.profiler (CPU activity), as when recording")
    ap.add_argument("--control", action="store_true",
                    help="A/A: 'with' runs without hooks too (the noise floor of this machine)")
    ap.add_argument("--profile-hooks", type=int, default=0, metavar="STEPS",
                    help="instead: cProfile this many hooked steps, print the hooks' share")
    a = ap.parse_args()
    # one intra-op thread: the machine is shared, more threads measure the neighbours
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

    if a.profile_hooks:
        _profile_hooks(step, model, a.profile_hooks)
        return
    times: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    paired: list[tuple[float, float]] = []  # per round: median(with) - median(without)
    prof = (torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            if a.profiler else nullcontext())
    load0 = os.getloadavg()
    with prof:
        for mode in ("without", "with"):  # warm-up, dropped
            with module_ranges(model) if mode == "with" else nullcontext():
                for _ in range(a.warmup):
                    step()
        for r in range(a.rounds):
            # A B, B A, A B, …: interleaved, each mode first in half the rounds
            order = ("without", "with") if r % 2 == 0 else ("with", "without")
            got = {}
            for mode in order:
                with module_ranges(model) if mode == "with" and not a.control else nullcontext():
                    got[mode] = [step() for _ in range(a.steps)]
                times[mode] += got[mode]
            paired.append(tuple(statistics.median(t[i] for t in got["with"])
                                - statistics.median(t[i] for t in got["without"]) for i in (0, 1)))
    load1 = os.getloadavg()
    print(f"model: encoder + {a.blocks} processor blocks + decoder, {a.nodes} x {a.hidden}, "
          f"checkpoint={a.checkpoint}, profiler={a.profiler}, threads={a.threads}"
          f"{', CONTROL (no hooks in either)' if a.control else ''}"
          f"{'' if a.profiler else ' (no profiler: hooks run, ranges not opened)'}; "
          f"{a.rounds} interleaved rounds x {a.steps} steps per mode, {a.warmup} warm-up dropped; "
          f"load average {load0[0]:.2f} -> {load1[0]:.2f} on {os.cpu_count()} CPUs")
    # wall time is what a run pays; process CPU time is steadier on a shared machine
    for i, clock in enumerate(("wall", "cpu")):
        b_med, b_min = _stats([t[i] for t in times["without"]])
        h_med, h_min = _stats([t[i] for t in times["with"]])
        d_med = statistics.median(p[i] for p in paired)
        print(f"{clock:4} per step, without / with hooks: median {b_med * 1e3:7.2f} / {h_med * 1e3:7.2f} ms "
              f"({100 * (h_med / b_med - 1):+.2f} %, {(h_med - b_med) * 1e3:+.2f} ms), "
              f"min {b_min * 1e3:7.2f} / {h_min * 1e3:7.2f} ms "
              f"({100 * (h_min / b_min - 1):+.2f} %, {(h_min - b_min) * 1e3:+.2f} ms); "
              f"median of per-round differences {d_med * 1e3:+.2f} ms ({100 * d_med / b_med:+.2f} %)")


if __name__ == "__main__":
    main()
