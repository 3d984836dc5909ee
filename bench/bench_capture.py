"""Overhead of anemoi_tp.capture.module_ranges on a CPU model shaped like Anemoi's.

Encoder (a block), processor (N blocks in a ModuleList, each attention-like: key / value /
edge projections and an MLP, as Anemoi's graph-transformer blocks), decoder (a block); one
training step = forward, backward, optimizer. Steps without and with the hooks alternate in
rounds (A B, B A, …: the shared machine's drift hits both alike), warm-up steps dropped, one
thread. Per clock (wall, process CPU) it prints the median and the minimum step time of each
mode, the overhead as ratio and in ms, and the median of the per-round differences with its
90 % bootstrap interval (the machine's noise: compare with --control, the A/A run).

    python bench/bench_capture.py [--blocks 8] [--nodes 1024] [--hidden 128] [--rounds 10]
                                  [--steps 5] [--warmup 3] [--checkpoint] [--profiler]
                                  [--user-annotation] [--no-backward] [--control]
    python bench/bench_capture.py --hook-time 50 [--profiler]  # time inside each kind of hook
    python bench/bench_capture.py --range-cost 800             # a range opened inside backward, by kind

The target is < 3 % on steps of >= 50 ms. Without --profiler the ranges are not opened (no
profiler on: nobody would record them) but every hook runs: the cost of an unrecorded step in
a run with the hooks installed; --profiler measures a recorded step, with the ranges written
as cpu_op (the default) or, with --user-annotation, as user_annotation events.
"""
from __future__ import annotations

import argparse
import os
import random
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


def _interval(xs: list[float], draws: int = 2000) -> tuple[float, float]:
    """90 % bootstrap interval of the median of ``xs``: how far the figure moves with the
    machine's noise (rounds resampled with replacement, a fixed seed)."""
    rng = random.Random(0)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(draws))
    return meds[int(0.05 * draws)], meds[int(0.95 * draws) - 1]


def _hook_time(step: Callable[[], object], model: nn.Module, steps: int, profiler: bool) -> None:
    """Wall time spent inside the capture's hooks, per kind of hook, per step: what the capture
    itself costs, apart from the noise of whole steps (the hooks run between the model's kernels,
    with the interpreter's caches cold: a call costs far more than the same code in a loop)."""
    from anemoi_tp.capture import ranges as R

    spent: dict[str, list[float]] = {}

    def timed(kind: str, fn: Callable) -> Callable:
        acc = spent.setdefault(kind, [0.0, 0])

        def wrapper(*args: object) -> object:
            t = time.perf_counter()
            try:
                return fn(*args)
            finally:
                acc[0] += time.perf_counter() - t
                acc[1] += 1
        return wrapper

    saved = {k: getattr(R._Recorder, k)
             for k in ("_pre", "_post", "_opener", "_closer", "_trigger", "_backstop")}
    kinds = {"_pre": "forward pre-hook", "_post": "forward hook (+ graph walk)",
             "_opener": "backward opener", "_closer": "backward closer",
             "_trigger": "deferred walk trigger"}
    for name, kind in kinds.items():
        setattr(R._Recorder, name, (lambda f, k: lambda self, *a: timed(k, f(self, *a)))(saved[name], kind))
    R._Recorder._backstop = lambda self, task: timed("end of backward", saved["_backstop"])(self, task)
    prof = (torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            if profiler else nullcontext())
    try:
        with prof, module_ranges(model):
            for _ in range(3):
                step()
            for acc in spent.values():
                acc[:] = [0.0, 0]
            t = time.perf_counter()
            for _ in range(steps):
                step()
            total = time.perf_counter() - t
    finally:
        for k, f in saved.items():
            setattr(R._Recorder, k, f)
    inside = sum(v[0] for v in spent.values())
    print(f"{steps} hooked steps{' under the profiler' if profiler else ''}: step {total / steps * 1e3:.2f} ms, "
          f"inside the hooks {inside / steps * 1e3:.3f} ms ({100 * inside / total:.2f} % of the step)")
    for kind, (sec, calls) in sorted(spent.items(), key=lambda kv: -kv[1][0]):
        if calls:
            print(f"  {kind:28} {sec / steps * 1e3:7.3f} ms/step  {calls / steps:5.1f} calls/step  "
                  f"{sec / calls * 1e6:7.1f} µs/call")


def _range_cost(ops: int, reps: int) -> None:
    """What torch's profiler charges for a range opened inside the backward (as the "bwd" ranges
    are), of each kind the capture can write (cpu_op: torch's fast record_function, the
    default; user_annotation: record_function's), against the same hooks without a range and a
    user_annotation range opened before the backward: a chain of ``ops`` multiplications,
    paired repetitions, medians."""
    from anemoi_tp.capture import ranges as R

    a = torch.randn(64, 64, requires_grad=True)
    kinds = {"inside, cpu_op": (R._open_fast, R._close_fast),
             "inside, user_annotation": (R._open_annotation, R._close_annotation),
             "hooks, no range": (lambda name: name, lambda h: None)}

    def run(mode: str) -> float:
        b, nodes, held = a, [], {}
        for _ in range(ops):
            b = b * 1.0001
            nodes.append(b.grad_fn)
        if mode == "outside":
            held["r"] = R._open_annotation("R bwd")
        else:
            start, end = kinds[mode]
            nodes[-1].register_prehook(lambda g: held.__setitem__("r", start("R bwd")))
            nodes[0].register_hook(lambda gi, go: end(held.pop("r")))
        loss = b.sum()
        t = time.process_time()
        loss.backward()
        if mode == "outside":
            R._close_annotation(held.pop("r"))
        return time.process_time() - t

    modes = ("hooks, no range", "inside, cpu_op", "inside, user_annotation", "outside")
    got: dict[str, list[float]] = {m: [] for m in modes}
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]):
        for r in range(reps):
            for m in (modes if r % 2 == 0 else modes[::-1]):
                got[m].append(run(m))
    base = statistics.median(got["hooks, no range"])
    print(f"a backward of {ops} ops under the profiler, {reps} paired repetitions (process CPU, medians):")
    for m in modes:
        d = statistics.median(got[m]) - base
        print(f"  {m:24} {statistics.median(got[m]) * 1e6:9.0f} µs  {d * 1e6:+7.0f} µs "
              f"({d / ops * 1e9:+.0f} ns per op)")


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
    ap.add_argument("--user-annotation", action="store_true",
                    help="write the ranges as user_annotation events (module_ranges(user_annotation=True))")
    ap.add_argument("--no-backward", action="store_true",
                    help="forward ranges only, no autograd hooks (module_ranges(backward=False))")
    ap.add_argument("--control", action="store_true",
                    help="A/A: 'with' runs without hooks too (the noise floor of this machine)")
    ap.add_argument("--hook-time", type=int, default=0, metavar="STEPS",
                    help="instead: time spent inside each kind of hook over this many steps")
    ap.add_argument("--range-cost", type=int, default=0, metavar="OPS",
                    help="instead: the profiler's cost of a range opened inside a backward of OPS ops")
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

    if a.hook_time:
        _hook_time(step, model, a.hook_time, a.profiler)
        return
    if a.range_cost:
        _range_cost(a.range_cost, max(a.rounds, 50))
        return
    times: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    paired: list[tuple[float, float]] = []  # per round: median(with) - median(without)
    prof = (torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            if a.profiler else nullcontext())

    def hooks() -> object:
        return module_ranges(model, user_annotation=a.user_annotation, backward=not a.no_backward)
    load0 = os.getloadavg()
    with prof:
        for mode in ("without", "with"):  # warm-up, dropped
            with hooks() if mode == "with" else nullcontext():
                for _ in range(a.warmup):
                    step()
        for r in range(a.rounds):
            # A B, B A, A B, …: interleaved, each mode first in half the rounds
            order = ("without", "with") if r % 2 == 0 else ("with", "without")
            got = {}
            for mode in order:
                with hooks() if mode == "with" and not a.control else nullcontext():
                    got[mode] = [step() for _ in range(a.steps)]
                times[mode] += got[mode]
            paired.append(tuple(statistics.median(t[i] for t in got["with"])
                                - statistics.median(t[i] for t in got["without"]) for i in (0, 1)))
    load1 = os.getloadavg()
    print(f"model: encoder + {a.blocks} processor blocks + decoder, {a.nodes} x {a.hidden}, "
          f"checkpoint={a.checkpoint}, profiler={a.profiler}, threads={a.threads}, "
          f"ranges={'user_annotation' if a.user_annotation else 'cpu_op'}"
          f"{' fwd only (backward=False)' if a.no_backward else ''}"
          f"{', CONTROL (no hooks in either)' if a.control else ''}"
          f"{'' if a.profiler else ' (no profiler: hooks run, ranges not opened)'}; "
          f"{a.rounds} interleaved rounds x {a.steps} steps per mode, {a.warmup} warm-up dropped; "
          f"load average {load0[0]:.2f} -> {load1[0]:.2f} on {os.cpu_count()} CPUs")
    # wall time is what a run pays; process CPU time is steadier on a shared machine
    for i, clock in enumerate(("wall", "cpu")):
        b_med, b_min = _stats([t[i] for t in times["without"]])
        h_med, h_min = _stats([t[i] for t in times["with"]])
        d_med = statistics.median(p[i] for p in paired)
        lo, hi = _interval([p[i] for p in paired])
        print(f"{clock:4} per step, without / with hooks: median {b_med * 1e3:7.2f} / {h_med * 1e3:7.2f} ms "
              f"({100 * (h_med / b_med - 1):+.2f} %, {(h_med - b_med) * 1e3:+.2f} ms), "
              f"min {b_min * 1e3:7.2f} / {h_min * 1e3:7.2f} ms "
              f"({100 * (h_min / b_min - 1):+.2f} %, {(h_min - b_min) * 1e3:+.2f} ms); "
              f"median of per-round differences {d_med * 1e3:+.2f} ms ({100 * d_med / b_med:+.2f} %, "
              f"90 % interval {100 * lo / b_med:+.2f} .. {100 * hi / b_med:+.2f} %)")


if __name__ == "__main__":
    main()
