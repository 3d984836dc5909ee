"""Generate Kineto traces shaped like an Anemoi training run on PyTorch Lightning.

Each rank gets one ``<host>_<pid>.None.<ns>.pt.trace.json`` file, as Anemoi's profiler writes
them, with what real traces hold (see DESIGN.md, "What real traces look like"): Lightning
``[pl][profile]`` ranges, ``[pl][module]`` forward module ranges for the encoder, processor
blocks and decoder, autograd ops on a backward thread linked back by ``Sequence number`` and
``fwdbwd`` flows, kernels joined to their launches by ``correlation`` (plus ``ac2g`` flows),
NCCL all-gather (forward) and all-reduce (backward, overlapping compute) on their own
streams, data loading, ``[memory]`` instants, ``ProfilerStep#N`` and a last batch cut by the
end of recording. Timings are random but reproducible from the seed.
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


@dataclass
class DemoConfig:
    """Shape of a generated trace set."""

    ranks: int = 4
    batches: int = 6  # complete batches; one more is cut by the end of recording
    processor_blocks: int = 4
    seed: int = 0
    gzip: bool = False
    slow_rank: int | None = 2  # a rank whose data loading is slower (a straggler); None for none
    pretty: bool = True  # Kineto writes pretty-printed JSON


class _Rank:
    """Emits the events of one rank; times are float microseconds like Kineto's."""

    def __init__(self, cfg: DemoConfig, rank: int) -> None:
        self.cfg, self.rank = cfg, rank
        self.rng = random.Random(cfg.seed * 1000 + rank)
        self.pid = 41000 + 17 * rank
        self.tid, self.bwd_tid = self.pid, self.pid + 3
        self.device = rank % 8
        self.ev: list[dict] = []
        self.ext = 0
        self.corr = 1000
        self.seq = 0
        self.flow = 0
        self.gpu_free = {STREAM_COMPUTE: 0.0, STREAM_ALLGATHER: 0.0, STREAM_ALLREDUCE: 0.0}
        self.fwd_ops: dict[str, list[int]] = {}
        self.pending_fwdbwd: dict[int, dict] = {}

    # -- primitives -------------------------------------------------------------------
    def x(self, cat: str, name: str, ts: float, dur: float, tid: int | None = None,
          args: dict | None = None, pid: int | None = None) -> dict:
        e = {"ph": "X", "cat": cat, "name": name, "pid": self.pid if pid is None else pid,
             "tid": self.tid if tid is None else tid, "ts": round(ts, 3), "dur": round(dur, 3)}
        if args is not None:
            e["args"] = args
        self.ev.append(e)
        return e

    def annotation(self, name: str, ts: float, dur: float, tid: int | None = None) -> None:
        self.ext += 1
        self.x("user_annotation", name, ts, dur, tid, {"External id": self.ext, "Ev Idx": self.ext})

    def launch(self, t: float, tid: int, kernel: str, kdur: float, stream: int = STREAM_COMPUTE,
               cat: str = "kernel", extra: dict | None = None) -> float:
        """A cudaLaunchKernel at ``t`` on ``tid`` and its kernel; returns the host time after."""
        self.corr += 1
        ldur = self.rng.uniform(4.0, 7.0)
        self.x("cuda_runtime", "cudaLaunchKernel" if cat == "kernel" else "cudaMemcpyAsync", t, ldur,
               tid, {"External id": self.ext, "cbid": 211, "correlation": self.corr})
        start = max(t + ldur + self.rng.uniform(2.0, 5.0), self.gpu_free[stream])
        args = {"External id": self.ext, "queued": 0, "device": self.device, "context": 1,
                "stream": stream, "correlation": self.corr}
        if cat == "kernel":
            args.update({"registers per thread": 64, "shared memory": 0, "blocks per SM": 4.2,
                         "warps per SM": 16.8, "grid": [456, 1, 1], "block": [128, 1, 1],
                         "est. achieved occupancy %": 52})
        if extra:
            args.update(extra)
        self.x(cat, kernel, start, kdur, stream, args, pid=self.device)
        self.gpu_free[stream] = start + kdur
        self.flow_pair("ac2g", self.corr, t, tid, start, stream, self.device)
        return t + ldur

    def flow_pair(self, cat: str, fid: int, ts: float, tid: int, te: float, tid_e: int,
                  pid_e: int | None = None) -> None:
        self.ev.append({"ph": "s", "id": fid, "pid": self.pid, "tid": tid, "ts": round(ts, 3),
                        "cat": cat, "name": cat})
        self.ev.append({"ph": "f", "id": fid, "pid": self.pid if pid_e is None else pid_e,
                        "tid": tid_e, "ts": round(te, 3), "cat": cat, "name": cat, "bp": "e"})

    def op(self, name: str, t: float, dur: float, tid: int, seq: int | None = None,
           fwd_tid: int | None = None) -> None:
        self.ext += 1
        args = {"External id": self.ext, "Record function id": 0, "Ev Idx": self.ext}
        if seq is not None:
            args["Sequence number"] = seq
        if fwd_tid is not None:
            args["Fwd thread id"] = fwd_tid
        self.x("cpu_op", name, t, dur, tid, args)

    def memory(self, t: float, nbytes: int, total: int) -> None:
        self.ev.append({"ph": "i", "cat": "cpu_instant_event", "s": "t", "name": "[memory]",
                        "pid": self.pid, "tid": self.tid, "ts": round(t, 3),
                        "args": {"Total Reserved": 4 << 30, "Total Allocated": total,
                                 "Bytes": nbytes, "Addr": 139700000000000 + self.rng.randrange(1 << 30),
                                 "Device Id": self.device, "Device Type": 1}})

    def collective(self, t: float, tid: int, kind: str, stream: int, nbytes: int, kdur: float) -> float:
        self.ext += 1
        name = {"allgather": "ncclDevKernel_AllGather_RING_LL(ncclDevKernelArgsStorage<4096ul>)",
                "allreduce": "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)"}[kind]
        self.x("cpu_op", "record_param_comms", t, 30.0, tid,
               {"External id": self.ext, "Collective name": kind.replace("all", "all_"),
                "In msg nelems": nbytes // 4, "Out msg nelems": nbytes // 4, "dtype": "Float",
                "Process Group Name": "0", "Process Group Ranks": list(range(self.cfg.ranks)),
                "Group size": self.cfg.ranks})
        return self.launch(t + 8.0, tid, name, kdur, stream,
                           extra={"Collective name": kind, "In msg nelems": nbytes // 4})

    # -- the training loop ------------------------------------------------------------
    def module_forward(self, t: float, path: str, cls: str, scale: float) -> float:
        start = t
        t += 3.0
        inner = []
        for sub in SUBLAYERS:
            s0 = t
            t += 2.0
            self.seq += 1
            self.op("aten::linear", t, 0.0, self.tid)  # placeholder, fixed below
            lin = self.ev[-1]
            self.op("aten::addmm", t + 2.0, 0.0, self.tid, seq=self.seq, fwd_tid=1)
            mm = self.ev[-1]
            self.fwd_ops.setdefault(path, []).append(self.seq)
            end = self.launch(t + 5.0, self.tid, "ampere_sgemm_128x64_tn",
                              scale * self.rng.uniform(40.0, 60.0))
            mm["dur"] = round(end + 1.0 - mm["ts"], 3)
            lin["dur"] = round(end + 2.0 - lin["ts"], 3)
            self.flow += 1
            self.flow_pair("fwdbwd", self.flow, mm["ts"], self.tid, 0.0, self.bwd_tid)
            self.pending_fwdbwd[self.seq] = self.ev[-1]  # its time is set when backward runs
            t = end + 3.0
            inner.append((f"[pl][module]torch.nn.modules.linear.Linear: {path}.{sub}", s0, t - s0))
        for name, s0, d in inner:
            self.annotation(name, s0, d)
        self.annotation(f"[pl][module]{cls}: {path}", start, t + 2.0 - start)
        return t + 3.0

    def batch(self, n: int, t: float, cut_at: float | None = None) -> float:
        rng, cfg = self.rng, self.cfg
        # data loading, slower on the slow rank
        dl = rng.uniform(300.0, 500.0) * (6.0 if self.rank == cfg.slow_rank else 1.0)
        self.annotation("[pl][profile][_TrainingEpochLoop].train_dataloader_next", t, dl + 10.0)
        self.annotation("enumerate(DataLoader)#_MultiProcessingDataLoaderIter.__next__", t + 5.0, dl)
        t += dl + 15.0
        batch_start = t
        self.launch(t, self.tid, "Memcpy HtoD (Pinned -> Device)", rng.uniform(80.0, 120.0),
                    cat="gpu_memcpy", extra={"bytes": 64 << 20})
        t += 15.0
        ts_train = t
        t += 5.0
        # forward: encoder, processor blocks (all-gather of the sharded graph first), decoder
        modules = [("model.model.encoder", "anemoi.models.layers.mapper.GraphTransformerForwardMapper", 1.5)]
        modules += [(f"model.model.processor.proc.{i}",
                     "anemoi.models.layers.block.GraphTransformerProcessorBlock", 1.0)
                    for i in range(cfg.processor_blocks)]
        modules.append(("model.model.decoder", "anemoi.models.layers.mapper.GraphTransformerBackwardMapper", 1.5))
        for path, cls, scale in modules:
            if ".processor." in path:
                t = self.collective(t, self.tid, "allgather", STREAM_ALLGATHER, 8 << 20,
                                    rng.uniform(60.0, 90.0)) + 4.0
            t = self.module_forward(t, path, cls, scale)
        self.op("aten::mse_loss", t, 20.0, self.tid, seq=self.seq + 1)
        t += 25.0
        self.annotation("[pl][profile][Strategy]DDPStrategy.training_step", ts_train, t - ts_train)
        # ProfilerStep boundary falls where training_step ends (Lightning calls prof.step())
        self.profiler_step_marks.append(t)
        # backward on the autograd thread, modules in reverse; DDP all-reduce per bucket
        ts_bwd = t
        tb = t + 10.0
        for path, _cls, scale in reversed(modules):
            for seq in reversed(self.fwd_ops.pop(path)):
                name = "AddmmBackward0"
                ev_start = tb
                self.op(f"autograd::engine::evaluate_function: {name}", tb, 0.0, self.bwd_tid, seq, 1)
                outer = self.ev[-1]
                self.op(name, tb + 2.0, 0.0, self.bwd_tid, seq, 1)
                inner = self.ev[-1]
                self.pending_fwdbwd.pop(seq)["ts"] = inner["ts"]
                end = self.launch(tb + 4.0, self.bwd_tid, "ampere_sgemm_64x64_nn",
                                  scale * rng.uniform(70.0, 110.0))
                end = self.launch(end + 1.0, self.bwd_tid, "ampere_sgemm_128x32_tn",
                                  scale * rng.uniform(40.0, 60.0))
                inner["dur"] = round(end + 1.0 - inner["ts"], 3)
                outer["dur"] = round(end + 2.0 - ev_start, 3)
                tb = end + 4.0
            tb = self.collective(tb, self.bwd_tid, "allreduce", STREAM_ALLREDUCE, 32 << 20,
                                 rng.uniform(150.0, 250.0)) + 4.0
        # backward() returns when the GPU is done (DDP waits for the last all-reduce)
        t = max(tb, self.gpu_free[STREAM_ALLREDUCE], self.gpu_free[STREAM_COMPUTE]) + 10.0
        self.annotation("[pl][profile][Strategy]DDPStrategy.backward", ts_bwd, t - ts_bwd)
        # optimizer
        ts_opt = t
        self.annotation("[pl][profile][Strategy]DDPStrategy.optimizer_zero_grad", t, 20.0)
        t += 25.0
        for _ in range(3):
            self.op("aten::_foreach_add_", t, 12.0, self.tid)
            t = self.launch(t + 2.0, self.tid,
                            "void at::native::(anonymous namespace)::multi_tensor_apply_kernel<float>",
                            rng.uniform(30.0, 50.0)) + 6.0
        self.memory(t, 1 << 20, (2 << 30) + n * 4096)
        self.memory(t + 1.0, -(1 << 20), (2 << 30) + n * 4096 - (1 << 20))
        t = max(t, self.gpu_free[STREAM_COMPUTE]) + 10.0
        self.annotation("Optimizer.step#AdamW.step", ts_train - 3.0, t - ts_train + 3.0)
        self.annotation("[pl][profile][LightningModule]GraphForecaster.optimizer_step",
                        ts_train - 5.0, t - ts_train + 6.0)
        end = t + 2.0
        if cut_at is not None:
            end = cut_at
        self.annotation("[pl][profile]run_training_batch", batch_start - 1.0, end - batch_start + 1.0)
        self.annotation("[pl][profile][_TrainingEpochLoop].on_train_batch_end", t + 3.0, 30.0)
        return t + 40.0

    def run(self, t0: float) -> dict:
        self.profiler_step_marks = [t0]
        t = t0 + 50.0
        for n in range(self.cfg.batches):
            t = self.batch(n, t)
        # one more batch whose ranges are still open when recording stops
        window_end = t + 1500.0
        self.batch(self.cfg.batches, t, cut_at=window_end)
        self.ev = [e for e in self.ev if e["ts"] <= window_end]
        for e in self.ev:
            if e["ph"] == "X" and e["ts"] + e["dur"] > window_end and e["cat"] in ("user_annotation", "cpu_op"):
                e["dur"] = round(window_end - e["ts"], 3)
        marks = [m for m in self.profiler_step_marks if m < window_end] + [window_end]
        for i, (a, b) in enumerate(zip(marks, marks[1:])):
            self.annotation(f"ProfilerStep#{i + 3}", a, b - a)
        self.ev.append({"ph": "i", "s": "g", "name": "Record Window End", "pid": "", "tid": "",
                        "ts": round(window_end, 3)})
        meta = [
            {"ph": "M", "name": "process_name", "pid": self.pid, "tid": 0, "ts": t0, "args": {"name": "python"}},
            {"ph": "M", "name": "thread_name", "pid": self.pid, "tid": self.tid, "ts": t0,
             "args": {"name": "thread 1 (python)"}},
            {"ph": "M", "name": "thread_name", "pid": self.pid, "tid": self.bwd_tid, "ts": t0,
             "args": {"name": "thread 2 (pt_autograd_0)"}},
            {"ph": "M", "name": "process_name", "pid": self.device, "tid": 0, "ts": t0,
             "args": {"name": "python"}},
            {"ph": "M", "name": "process_labels", "pid": self.device, "tid": 0, "ts": t0,
             "args": {"labels": f"GPU {self.device}"}},
        ]
        for s in self.gpu_free:
            meta.append({"ph": "M", "name": "thread_name", "pid": self.device, "tid": s, "ts": t0,
                         "args": {"name": f"stream {s}"}})
        self.ev.append({"ph": "X", "cat": "Trace", "name": "PyTorch Profiler (0)", "pid": "Spans",
                        "tid": "PyTorch Profiler", "ts": t0, "dur": round(window_end - t0, 3),
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


def generate_rank(cfg: DemoConfig, rank: int) -> dict:
    """The whole Kineto document of one rank."""
    # ranks start within a few hundred µs of each other on the common clock
    t0 = 5_000_000_000.0 + 137.0 * rank
    return _Rank(cfg, rank).run(t0)


def encode(doc: dict, pretty: bool = True) -> bytes:
    data = msgspec.json.encode(doc)
    return msgspec.json.format(data, indent=1) if pretty else data


def generate_trace_set(out_dir: str | Path, cfg: DemoConfig | None = None) -> list[Path]:
    """Write one trace file per rank into ``out_dir``; returns their paths."""
    cfg = cfg or DemoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for rank in range(cfg.ranks):
        doc = generate_rank(cfg, rank)
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
