"""``ModuleRanges``: module ranges, distributedInfo and memory snapshots for a Lightning run.

Use it as any callback, ``Trainer(callbacks=[ModuleRanges()], profiler=PyTorchProfiler(…))``,
or with ``anemoi-training profile`` through the config (README, "Recording traces"):

    diagnostics:
      callbacks:
        - _target_: anemoi_tp.capture.ModuleRanges
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch

try:
    from pytorch_lightning import Callback
except ImportError:  # pragma: no cover - the lightning package
    from lightning.pytorch import Callback  # type: ignore[no-redef]

from .ranges import module_ranges
from .traces import mark_distributed_info, memory_history

__all__ = ["ModuleRanges"]


def torch_profilers(obj: Any, depth: int = 4) -> list[Any]:
    """The torch.profiler.profile objects under a Lightning profiler: PyTorchProfiler keeps
    one in ``.profiler``; Anemoi's BenchmarkProfiler keeps a PyTorchProfiler in
    ``.memory_profiler``."""
    if isinstance(obj, torch.profiler.profile):
        return [obj]
    if depth == 0 or obj is None:
        return []
    out = []
    for attr in ("profiler", "memory_profiler"):
        child = getattr(obj, attr, None)
        if child is not None and child is not obj and not isinstance(child, type):
            out += torch_profilers(child, depth - 1)
    return out


class ModuleRanges(Callback):
    """Forward and backward module ranges (``module_ranges``) from fit start to fit end.

    include / depth: which modules (``select_modules``; default Anemoi's encoder, processor
    and its blocks, decoder). always: open ranges also while no profiler is enabled;
    user_annotation: write them as user_annotation events, not cpu_op (``module_ranges``).
    backward: False writes forward ranges only, no autograd hooks (``module_ranges``).
    distributed_info: add distributedInfo to the traces of a run without a process group.
    memory_snapshot: dump ``memory_snapshot.rank<R>.pickle`` (CUDA only) into ``snapshot_dir``,
    else the profiler's dirpath, else the trainer's root dir.
    """

    def __init__(self, include: Any = None, depth: int | None = None,
                 distributed_info: bool = True, memory_snapshot: bool = True,
                 snapshot_dir: str | None = None, max_entries: int = 100_000,
                 always: bool = False, user_annotation: bool = False,
                 backward: bool = True) -> None:
        self.include, self.depth, self.always = include, depth, always
        self.user_annotation, self.backward = user_annotation, backward
        self.distributed_info = distributed_info
        self.memory_snapshot, self.snapshot_dir = memory_snapshot, snapshot_dir
        self.max_entries = max_entries
        self.paths: list[str] = []
        self.snapshot: Path | None = None
        self._stack: ExitStack | None = None

    def _directory(self, trainer: Any) -> Path:
        if self.snapshot_dir:
            return Path(self.snapshot_dir)
        prof = trainer.profiler
        for p in (prof, getattr(prof, "memory_profiler", None)):
            d = getattr(p, "dirpath", None)
            if d:
                return Path(d)
        return Path(trainer.default_root_dir)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._close()
        self._stack = ExitStack()
        self.paths = self._stack.enter_context(module_ranges(
            pl_module, self.include, self.depth, self.always, self.user_annotation,
            self.backward))
        if self.memory_snapshot:
            self.snapshot = self._stack.enter_context(
                memory_history(self._directory(trainer), trainer.global_rank, self.max_entries))

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any,
                             batch_idx: int) -> None:
        if self.distributed_info:
            for prof in torch_profilers(trainer.profiler):
                mark_distributed_info(prof)

    def _close(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._close()

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._close()
