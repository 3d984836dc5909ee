"""Generate Kineto traces shaped like an Anemoi training run on PyTorch Lightning.

Each rank gets one ``<host>_<pid>.None.<ns>.pt.trace.json`` file, as Anemoi's profiler writes
them, with what real traces hold (see DESIGN.md, "What real traces look like"): Lightning
``[pl][profile]`` ranges, ``[pl][module]`` forward module ranges for the encoder, processor
blocks and decoder, autograd ops on a backward thread linked back by ``Sequence number`` and
``fwdbwd`` flows, kernels joined to their launches by ``correlation`` (plus ``ac2g`` flows),
NCCL all-gather (forward) and all-reduce (backward, overlapping compute) on their own
streams, data loading, ``[memory]`` instants, ``ProfilerStep#N`` and a last batch cut by the
end of recording. Timings are random but reproducible from the seed.

The ranks are generated in lockstep because NCCL synchronises them: a collective ends on every
rank at the last rank's arrival plus the transfer, so early ranks wait in the kernel. Planted:
a rank with slow data loading and a straggler rank with a slower GPU. Times are integer ns
while generating, so ranges on one thread nest and a stream runs one activity at a time
exactly as written (Perfetto drops no slice), and nested ranges can start in the same µs.
Unlike Lightning, which steps the profiler inside optimizer_step (its ``ProfilerStep#N``
ranges cross Lightning's, which Perfetto drops), the profiler steps between batches here.
"""
from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from pathlib import Path

import msgspec

BASE_NS = 1_790_000_000_000_000_000
STREAM_COMPUTE, STREAM_ALLGATHER, STREAM_ALLREDUCE = 7, 20, 24
SUBLAYERS = ("lin_key", "lin_query", "lin_value", "lin_edge", "node_dst_mlp")
A100 = {
    "name": "NVIDIA A100-SXM4-80GB", "totalGlobalMem": 85100036096, "computeMajor": 8,
    "computeMinor": 0, "maxThreadsPerBlock": 1024, "maxThreadsPerMultiprocessor": 2048,
    "regsPerBlock": 65536, "regsPerMultiprocessor": 65536, "warpSize": 32,
    "sharedMemPerBlock": 49152, "sharedMemPerMultiprocessor": 167936, "numSms": 108,
    "sharedMemPerBlockOptin": 166912,
}


US = 1000  # times are integer ns while generating: nesting and stream order hold exactly after
# they are written as µs with 3 decimals, as Kineto writes them
TRANSFER_US = {"allgather": (60.0, 90.0), "allreduce": (150.0, 250.0)}  # NCCL transfer, same on all ranks
SLOW_DATA_FACTOR = 6.0  # the slow rank's data loading takes this many times longer


@dataclass
class DemoConfig:
    """Shape of a generated trace set."""

    ranks: int = 4
    batches: int = 6  # complete batches; one more is cut by the end of recording
    processor_blocks: int = 4
    seed: int = 0
    gzip: bool = False
    slow_rank: int | None = 2  # a rank whose data loading is slow_data_factor times slower; None for none
    slow_data_factor: float = SLOW_DATA_FACTOR
    # a rank whose GPU is slower (its compute kernels take straggler_factor times longer): it
    # arrives last at the collectives that follow compute and the others wait; None for none
    straggler_rank: int | None = 1
    straggler_factor: float = 1.3
    pretty: bool = True  # Kineto writes pretty-printed JSON


class _Rank:
    """Emits the events of one rank, times in integer ns (written as float µs at the end).

    ``run`` is a generator: at each collective it yields ``(kind, arrival_ns)`` (when its
    kernel starts on this rank's GPU) and is sent back the ns at which the collective ends on
    every rank (the last arrival plus the transfer), as NCCL synchronises the ranks.
    """

    def __init__(self, cfg: DemoConfig, rank: int) -> None:
        self.cfg, self.rank = cfg, rank
        self.rng = random.Random(cfg.seed * 1000 + rank)
        self.pid = 41000 + 17 * rank
        self.tid, self.bwd_tid = self.pid, self.pid + 3
        self.device = rank % 8
        self.gpu_scale = cfg.straggler_factor if rank == cfg.straggler_rank else 1.0
        self.ev: list[dict] = []
        self.ext = 0
        self.corr = 1000
        self.seq = 0
        self.flow = 0
        self.gpu_free = {STREAM_COMPUTE: 0, STREAM_ALLGATHER: 0, STREAM_ALLREDUCE: 0}
        self.fwd_ops: dict[str, list[int]] = {}
        self.pending_fwdbwd: dict[int, dict] = {}
        self.steps: list[tuple[int, int]] = []  # (start, end) of each ProfilerStep

    # -- primitives -------------------------------------------------------------------
    def us(self, lo: float, hi: float) -> int:
        """A random duration in [lo, hi) µs, as ns."""
        return int(self.rng.uniform(lo, hi) * US)

    def x(self, cat: str, name: str, ts: int, dur: int, tid: int | None = None,
          args: dict | None = None, pid: int | None = None) -> dict:
        e = {"ph": "X", "cat": cat, "name": name, "pid": self.pid if pid is None else pid,
             "tid": self.tid if tid is None else tid, "ts": ts, "dur": dur}
        if args is not None:
            e["args"] = args
        self.ev.append(e)
        return e

    def annotation(self, name: str, ts: int, dur: int, tid: int | None = None) -> None:
        self.ext += 1
        self.x("user_annotation", name, ts, dur, tid, {"External id": self.ext, "Ev Idx": self.ext})

    def runtime_call(self, t: int, tid: int, cat: str) -> int:
        """The host side of a launch at ``t`` (its correlation is ``self.corr``); returns its length."""
        self.corr += 1
        ldur = self.us(4.0, 7.0)
        self.x("cuda_runtime", "cudaLaunchKernel" if cat == "kernel" else "cudaMemcpyAsync", t, ldur,
               tid, {"External id": self.ext, "cbid": 211, "correlation": self.corr})
        return ldur

    def gpu_event(self, t: int, tid: int, kernel: str, start: int, kdur: int, stream: int,
                  cat: str = "kernel", extra: dict | None = None) -> None:
        """The GPU side of the launch made at ``t`` on ``tid``: one activity on ``stream``."""
        args = {"External id": self.ext, "queued": 0, "device": self.device, "context": 1,
                "stream": stream, "correlation": self.corr}
        if cat == "kernel":
            args.update({"registers per thread": 64, "shared memory": 0, "blocks per SM": 4.2,
                         "warps per SM": 16.8, "grid": [456, 1, 1], "block": [128, 1, 1],
                         "est. achieved occupancy %": 52})
        if extra:
            args.update(extra)
        assert start >= self.gpu_free[stream], "activities on one stream run one after another"
        self.x(cat, kernel, start, kdur, stream, args, pid=self.device)
        self.gpu_free[stream] = start + kdur
        self.flow_pair("ac2g", self.corr, t, tid, start, stream, self.device)

    def launch(self, t: int, tid: int, kernel: str, kdur: int, stream: int = STREAM_COMPUTE,
               cat: str = "kernel", extra: dict | None = None) -> int:
        """A launch at ``t`` on ``tid`` and its activity; returns the host time after it."""
        ldur = self.runtime_call(t, tid, cat)
        # the stream runs one activity after another, with the small gap real streams show
        start = max(t + ldur + self.us(2.0, 5.0), self.gpu_free[stream] + self.us(1.0, 2.5))
        self.gpu_event(t, tid, kernel, start, kdur, stream, cat, extra)
        return t + ldur

    def compute(self, lo: float, hi: float, scale: float = 1.0) -> int:
        """A compute kernel's duration: slower on the straggler's GPU."""
        return int(self.rng.uniform(lo, hi) * scale * self.gpu_scale * US)

    def flow_pair(self, cat: str, fid: int, ts: int, tid: int, te: int, tid_e: int,
                  pid_e: int | None = None) -> None:
        self.ev.append({"ph": "s", "id": fid, "pid": self.pid, "tid": tid, "ts": ts,
                        "cat": cat, "name": cat})
        self.ev.append({"ph": "f", "id": fid, "pid": self.pid if pid_e is None else pid_e,
                        "tid": tid_e, "ts": te, "cat": cat, "name": cat, "bp": "e"})

    def op(self, name: str, t: int, dur: int, tid: int, seq: int | None = None,
           fwd_tid: int | None = None) -> dict:
        self.ext += 1
        args = {"External id": self.ext, "Record function id": 0, "Ev Idx": self.ext}
        if seq is not None:
            args["Sequence number"] = seq
        if fwd_tid is not None:
            args["Fwd thread id"] = fwd_tid
        return self.x("cpu_op", name, t, dur, tid, args)

    def memory(self, t: int, nbytes: int, total: int) -> None:
        self.ev.append({"ph": "i", "cat": "cpu_instant_event", "s": "t", "name": "[memory]",
                        "pid": self.pid, "tid": self.tid, "ts": t,
                        "args": {"Total Reserved": 4 << 30, "Total Allocated": total,
                                 "Bytes": nbytes, "Addr": 139700000000000 + self.rng.randrange(1 << 30),
                                 "Device Id": self.device, "Device Type": 1}})

    def collective(self, t: int, tid: int, kind: str, stream: int, nbytes: int):
        """record_param_comms at ``t`` and its NCCL kernel (a generator: yields the arrival,
        is sent the end); returns the host time after it."""
        name = {"allgather": "ncclDevKernel_AllGather_RING_LL(ncclDevKernelArgsStorage<4096ul>)",
                "allreduce": "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)"}[kind]
        rpc = self.op("record_param_comms", t, 0, tid)  # its External id goes to the launch too
        rpc["args"] = {"External id": self.ext, "Collective name": kind.replace("all", "all_"),
                       "In msg nelems": nbytes // 4, "Out msg nelems": nbytes // 4, "dtype": "Float",
                       "Process Group Name": "0", "Process Group Ranks": list(range(self.cfg.ranks)),
                       "Group size": self.cfg.ranks}
        tl = t + 8 * US
        ldur = self.runtime_call(tl, tid, "kernel")
        # the kernel starts once launched, its stream is free and the compute stream has
        # produced its input (NCCL streams wait on the compute stream's event)
        arrival = max(tl + ldur + self.us(2.0, 5.0), self.gpu_free[stream] + self.us(1.0, 2.5),
                      self.gpu_free[STREAM_COMPUTE] + self.us(1.0, 2.5))
        end = yield kind, arrival
        self.gpu_event(tl, tid, name, arrival, end - arrival, stream,
                       extra={"Collective name": kind, "In msg nelems": nbytes // 4})
        if kind == "allgather":  # the block computes on the gathered data
            self.gpu_free[STREAM_COMPUTE] = max(self.gpu_free[STREAM_COMPUTE], end)
        rpc["dur"] = tl + ldur + 3 * US - t
        return t + rpc["dur"]

    # -- the training loop ------------------------------------------------------------
    def module_forward(self, t: int, path: str, cls: str, scale: float, gather: bool = False):
        """The module range at ``t`` with its Linear sublayers (a generator, see ``run``: with
        ``gather`` it first all-gathers its sharded input); returns the host time after it."""
        start = t
        if gather:
            t = yield from self.collective(t + 2 * US, self.tid, "allgather", STREAM_ALLGATHER, 8 << 20)
            t += 2 * US
        inner = []
        for sub in SUBLAYERS:
            s0 = t  # without a gather the first Linear starts in the same µs as its module
            t += 2 * US
            self.seq += 1
            lin = self.op("aten::linear", t, 0, self.tid)
            mm = self.op("aten::addmm", t + 2 * US, 0, self.tid, seq=self.seq, fwd_tid=1)
            self.fwd_ops.setdefault(path, []).append(self.seq)
            end = self.launch(t + 5 * US, self.tid, "ampere_sgemm_128x64_tn", self.compute(40.0, 60.0, scale))
            mm["dur"] = end + 1 * US - mm["ts"]
            lin["dur"] = end + 2 * US - lin["ts"]
            self.flow += 1
            self.flow_pair("fwdbwd", self.flow, mm["ts"], self.tid, 0, self.bwd_tid)
            self.pending_fwdbwd[self.seq] = self.ev[-1]  # its time is set when backward runs
            t = end + 3 * US
            inner.append((f"[pl][module]torch.nn.modules.linear.Linear: {path}.{sub}", s0, t - s0))
            t += 1 * US
        for name, s0, d in inner:
            self.annotation(name, s0, d)
        self.annotation(f"[pl][module]{cls}: {path}", start, t + 2 * US - start)
        return t + 3 * US

    def batch(self, n: int, t: int):
        """One training batch from ``t`` (a generator, see ``run``); returns where the next starts."""
        cfg = self.cfg
        step_start = t
        t += 5 * US
        # data loading, slower on the slow rank
        dl = int(self.us(300.0, 500.0) * (cfg.slow_data_factor if self.rank == cfg.slow_rank else 1.0))
        self.annotation("[pl][profile][_TrainingEpochLoop].train_dataloader_next", t, dl + 10 * US)
        self.annotation("enumerate(DataLoader)#_MultiProcessingDataLoaderIter.__next__", t + 5 * US, dl)
        t += dl + 15 * US
        batch_start = t
        self.launch(t + 1 * US, self.tid, "Memcpy HtoD (Pinned -> Device)", self.us(80.0, 120.0),
                    cat="gpu_memcpy", extra={"bytes": 64 << 20})
        t += 15 * US
        # Lightning's optimizer_step wraps Optimizer.step, whose closure runs training_step,
        # zero_grad and backward. optimizer_step and Optimizer.step start in the same µs, as do
        # training_step, the encoder's range and its first Linear's
        ts_opt = t
        t += 4 * US
        ts_train = t
        # forward: encoder, processor blocks (each all-gathers the sharded graph first), decoder
        modules = [("model.model.encoder", "anemoi.models.layers.mapper.GraphTransformerForwardMapper", 1.5)]
        modules += [(f"model.model.processor.proc.{i}",
                     "anemoi.models.layers.block.GraphTransformerProcessorBlock", 1.0)
                    for i in range(cfg.processor_blocks)]
        modules.append(("model.model.decoder", "anemoi.models.layers.mapper.GraphTransformerBackwardMapper", 1.5))
        for path, cls, scale in modules:
            t = yield from self.module_forward(t, path, cls, scale, gather=".processor." in path)
        self.op("aten::mse_loss", t, 20 * US, self.tid, seq=self.seq + 1)
        t += 25 * US
        self.annotation("[pl][profile][Strategy]DDPStrategy.training_step", ts_train, t - ts_train)
        t += 3 * US
        self.annotation("[pl][profile][Strategy]DDPStrategy.optimizer_zero_grad", t, 20 * US)
        t += 25 * US
        # backward on the autograd thread, modules in reverse; DDP all-reduce per bucket
        ts_bwd = t
        tb = t + 10 * US
        for path, _cls, scale in reversed(modules):
            for seq in reversed(self.fwd_ops.pop(path)):
                name = "AddmmBackward0"
                outer = self.op(f"autograd::engine::evaluate_function: {name}", tb, 0, self.bwd_tid, seq, 1)
                inner = self.op(name, tb + 2 * US, 0, self.bwd_tid, seq, 1)
                self.pending_fwdbwd.pop(seq)["ts"] = inner["ts"]
                end = self.launch(tb + 4 * US, self.bwd_tid, "ampere_sgemm_64x64_nn",
                                  self.compute(70.0, 110.0, scale))
                end = self.launch(end + 1 * US, self.bwd_tid, "ampere_sgemm_128x32_tn",
                                  self.compute(40.0, 60.0, scale))
                inner["dur"] = end + 1 * US - inner["ts"]
                outer["dur"] = end + 2 * US - outer["ts"]
                tb = end + 4 * US
            tb = yield from self.collective(tb, self.bwd_tid, "allreduce", STREAM_ALLREDUCE, 32 << 20)
            tb += 4 * US
        # backward() returns when the GPU is done (DDP waits for the last all-reduce)
        t = max(tb, self.gpu_free[STREAM_ALLREDUCE], self.gpu_free[STREAM_COMPUTE]) + 10 * US
        self.annotation("[pl][profile][Strategy]DDPStrategy.backward", ts_bwd, t - ts_bwd)
        t += 3 * US
        # optimizer
        for _ in range(3):
            self.op("aten::_foreach_add_", t, 12 * US, self.tid)
            t = self.launch(t + 2 * US, self.tid,
                            "void at::native::(anonymous namespace)::multi_tensor_apply_kernel<float>",
                            self.compute(30.0, 50.0)) + 6 * US
        self.memory(t, 1 << 20, (2 << 30) + n * 4096)
        self.memory(t + 1 * US, -(1 << 20), (2 << 30) + n * 4096 - (1 << 20))
        t = max(t, self.gpu_free[STREAM_COMPUTE]) + 10 * US  # the step's loss is read back: a sync
        self.annotation("Optimizer.step#AdamW.step", ts_opt, t - ts_opt)
        self.annotation("[pl][profile][LightningModule]GraphForecaster.optimizer_step", ts_opt,
                        t + 1 * US - ts_opt)
        t += 3 * US
        self.annotation("[pl][profile]run_training_batch", batch_start, t - batch_start)
        t += 3 * US
        self.annotation("[pl][profile][_TrainingEpochLoop].on_train_batch_end", t, 30 * US)
        t += 32 * US
        # one ProfilerStep per batch (prof.step() between batches), so every range nests in one
        self.steps.append((step_start, t))
        return t + 3 * US

    def run(self, t0: int):
        """The whole Kineto document of this rank (a generator, see the class)."""
        t = t0 + 50 * US
        for n in range(self.cfg.batches):
            t = yield from self.batch(n, t)
        # one more batch whose ranges are still open when recording stops
        window_end = t + 1500 * US
        yield from self.batch(self.cfg.batches, t)
        return self.document(t0, window_end)

    def document(self, t0: int, window_end: int) -> dict:
        for i, (a, b) in enumerate(self.steps):
            if a <= window_end:
                self.annotation(f"ProfilerStep#{i + 3}", a, b - a)
        self.ev = [e for e in self.ev if e["ts"] <= window_end]
        for e in self.ev:
            # host ranges still open at the end are cut there (the cut keeps them nested);
            # GPU activities already started run to their end
            if e["ph"] == "X" and e["pid"] == self.pid and e["ts"] + e["dur"] > window_end:
                e["dur"] = window_end - e["ts"]
        for e in self.ev:
            e["ts"] = e["ts"] / US
            if "dur" in e:
                e["dur"] = e["dur"] / US
        self.ev.append({"ph": "i", "s": "g", "name": "Record Window End", "pid": "", "tid": "",
                        "ts": window_end / US})
        t0_us = t0 / US
        meta = [
            {"ph": "M", "name": "process_name", "pid": self.pid, "tid": 0, "ts": t0_us, "args": {"name": "python"}},
            {"ph": "M", "name": "thread_name", "pid": self.pid, "tid": self.tid, "ts": t0_us,
             "args": {"name": "thread 1 (python)"}},
            {"ph": "M", "name": "thread_name", "pid": self.pid, "tid": self.bwd_tid, "ts": t0_us,
             "args": {"name": "thread 2 (pt_autograd_0)"}},
            {"ph": "M", "name": "process_name", "pid": self.device, "tid": 0, "ts": t0_us,
             "args": {"name": "python"}},
            {"ph": "M", "name": "process_labels", "pid": self.device, "tid": 0, "ts": t0_us,
             "args": {"labels": f"GPU {self.device}"}},
        ]
        for s in self.gpu_free:
            meta.append({"ph": "M", "name": "thread_name", "pid": self.device, "tid": s, "ts": t0_us,
                         "args": {"name": f"stream {s}"}})
        self.ev.append({"ph": "X", "cat": "Trace", "name": "PyTorch Profiler (0)", "pid": "Spans",
                        "tid": "PyTorch Profiler", "ts": t0_us, "dur": (window_end - t0) / US,
                        "args": {"Op count": 0}})
        return {
            "schemaVersion": 1,
            "deviceProperties": [dict(A100, id=i) for i in range(min(self.cfg.ranks, 8))],
            "cupti_version": 24, "cuda_runtime_version": 12040, "cuda_driver_version": 12040,
            "distributedInfo": {"backend": "nccl", "rank": self.rank, "world_size": self.cfg.ranks,
                                "nccl_version": "2.21.5"},
            "record_shapes": 1, "profile_memory": 1, "with_stack": 0,
            "trace_id": f"{0xA7E0 + self.rank:032X}", "displayTimeUnit": "ms",
            "baseTimeNanoseconds": BASE_NS,
            "traceEvents": meta + self.ev,
            "traceName": f"anemoi-demo-rank{self.rank}.pt.trace.json",
        }


def generate_ranks(cfg: DemoConfig) -> list[dict]:
    """The Kineto documents of all ranks, run in lockstep so that collectives synchronise them:
    a collective ends on every rank at the last rank's arrival plus the transfer time."""
    rng = random.Random(cfg.seed * 1000 + 999)  # transfer times, shared by the ranks
    # ranks start within a few hundred µs of each other on the common clock
    runs = [_Rank(cfg, r).run(5_000_000_000 * US + 137 * US * r) for r in range(cfg.ranks)]
    docs: list[dict] = []
    asks = [next(g) for g in runs]
    while True:
        kinds = {kind for kind, _ in asks}
        assert len(kinds) == 1, f"ranks disagree on the next collective: {kinds}"
        lo, hi = TRANSFER_US[kinds.pop()]
        end = max(arrival for _, arrival in asks) + int(rng.uniform(lo, hi) * US)
        asks = []
        for g in runs:
            try:
                asks.append(g.send(end))
            except StopIteration as done:
                docs.append(done.value)
        if docs:
            assert not asks, "every rank runs the same collectives"
            return docs


def encode(doc: dict, pretty: bool = True) -> bytes:
    data = msgspec.json.encode(doc)
    return msgspec.json.format(data, indent=1) if pretty else data


def generate_trace_set(out_dir: str | Path, cfg: DemoConfig | None = None) -> list[Path]:
    """Write one trace file per rank into ``out_dir``; returns their paths."""
    cfg = cfg or DemoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for rank, doc in enumerate(generate_ranks(cfg)):
        # Anemoi's naming: the rank is only inside the file
        name = f"node{rank // 4:03d}_{41000 + 17 * rank}.None.{BASE_NS + 5_000_000_000_000 + rank}.pt.trace.json"
        data = encode(doc, cfg.pretty)
        path = out / (name + (".gz" if cfg.gzip else ""))
        if cfg.gzip:
            with gzip.open(path, "wb", compresslevel=1) as f:
                f.write(data)
        else:
            path.write_bytes(data)
        paths.append(path)
    return paths
