"""A tiny DSL for hand-built Kineto traces whose numbers are computed by hand in the tests."""
from __future__ import annotations


class TraceBuilder:
    """Events of one rank; times in µs (the files' unit), pid 1, GPU = pid 0."""

    def __init__(self, pid: int = 1) -> None:
        self.pid = pid
        self.events: list[dict] = []
        self.corr = 0

    def range(self, name: str, start: float, end: float, tid: int = 1, cat: str = "user_annotation",
              **args) -> TraceBuilder:
        e = {"ph": "X", "cat": cat, "name": name, "pid": self.pid, "tid": tid, "ts": start,
             "dur": end - start}
        if args:
            e["args"] = args
        self.events.append(e)
        return self

    def op(self, name: str, start: float, end: float, tid: int = 1, seq: int | None = None):
        args = {"Sequence number": seq} if seq is not None else {}
        return self.range(name, start, end, tid, cat="cpu_op", **args)

    def kernel(self, name: str, launch_at: float, start: float, end: float, tid: int = 1,
               stream: int = 7, cat: str = "kernel", device: int = 0) -> TraceBuilder:
        """A runtime launch of 1 µs at ``launch_at`` on ``tid`` and its GPU activity."""
        self.corr += 1
        self.events.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel",
                            "pid": self.pid, "tid": tid, "ts": launch_at, "dur": 1.0,
                            "args": {"correlation": self.corr}})
        self.events.append({"ph": "X", "cat": cat, "name": name, "pid": device, "tid": stream,
                            "ts": start, "dur": end - start,
                            "args": {"correlation": self.corr, "device": device, "stream": stream}})
        return self

    def window_end(self, at: float) -> TraceBuilder:
        self.events.append({"ph": "i", "s": "g", "name": "Record Window End", "pid": "", "tid": "",
                            "ts": at})
        return self


# Lightning range names as Anemoi's runs write them
BATCH = "[pl][profile]run_training_batch"
FETCH = "[pl][profile][_TrainingEpochLoop].train_dataloader_next"
OPT = "[pl][profile][LightningModule]GraphForecaster.optimizer_step"
TRAIN = "[pl][profile][Strategy]DDPStrategy.training_step"
BACKWARD = "[pl][profile][Strategy]DDPStrategy.backward"
ENC = "[pl][module]torch.nn.modules.linear.Linear: model.model.encoder.lin"
PROC = "[pl][module]torch.nn.modules.linear.Linear: model.model.processor.proc.0.lin"
DEC = "[pl][module]torch.nn.modules.linear.Linear: model.model.decoder.lin"
GEMM = "ampere_sgemm_128x64_tn"
ALLGATHER = "ncclDevKernel_AllGather_RING_LL(ncclDevKernelArgsStorage<4096ul>)"
ALLREDUCE = "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)"
