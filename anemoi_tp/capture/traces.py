"""Trace metadata and memory snapshots for the analyses.

distributedInfo: Kineto writes it only where torch.distributed is initialised, so a
one-device run has no rank in its trace. ``distributed_info()`` says what the rank is (the
process group, else the launcher's environment, else rank 0 of 1); ``mark_distributed_info``
adds it to a running ``torch.profiler.profile`` (top-level trace metadata); and
``add_distributed_info`` adds it to trace files already written.

Memory: ``memory_history`` records the CUDA caching allocator's history and dumps one
``memory_snapshot.rank<R>.pickle`` per rank; without CUDA it says so and does nothing.
"""
from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

__all__ = ["distributed_info", "mark_distributed_info", "add_distributed_info",
           "memory_history", "snapshot_path"]

KEY = "distributedInfo"


def distributed_info() -> dict[str, Any]:
    """{"backend", "rank", "world_size"} of this process."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return {"backend": str(dist.get_backend()), "rank": dist.get_rank(),
                "world_size": dist.get_world_size()}
    env = os.environ
    rank = env.get("RANK", env.get("SLURM_PROCID", "0"))
    world = env.get("WORLD_SIZE", env.get("SLURM_NTASKS", "1"))
    return {"backend": None, "rank": int(rank), "world_size": int(world)}


def _recording(prof: Any) -> bool:
    from torch.profiler import ProfilerAction
    action = getattr(prof, "current_action", None)
    return action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)


def mark_distributed_info(prof: Any) -> bool:
    """Add distributedInfo to a recording ``torch.profiler.profile`` where Kineto will not
    (no process group). Call once per recording cycle (after ``prof.step()``: cheap, the
    last value wins). Returns whether it was added."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return False  # Kineto writes its own, with the process groups
    if not _recording(prof):
        return False
    prof.add_metadata_json(KEY, json.dumps(distributed_info()))
    return True


def add_distributed_info(path: str | os.PathLike, info: dict | None = None) -> bool:
    """Add distributedInfo to a written trace (.json or .json.gz) that lacks one. Returns
    whether the file changed."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        doc = json.load(f)
    if isinstance(doc.get(KEY), dict):
        return False
    doc[KEY] = info if info is not None else distributed_info()
    tmp = path.with_name(path.name + ".tmp")
    with opener(tmp, "wt", encoding="utf-8") as f:
        json.dump(doc, f)
    os.replace(tmp, path)
    return True


def snapshot_path(directory: str | os.PathLike, rank: int | None = None) -> Path:
    rank = distributed_info()["rank"] if rank is None else rank
    return Path(directory) / f"memory_snapshot.rank{rank}.pickle"


@contextmanager
def memory_history(directory: str | os.PathLike, rank: int | None = None,
                   max_entries: int = 100_000) -> Iterator[Path | None]:
    """Record CUDA memory history in the block; dump it to ``snapshot_path(directory,
    rank)`` at the end. Yields the path, or None (with a message on stderr) without CUDA."""
    if not torch.cuda.is_available():
        print("anemoi-tp capture: memory snapshot skipped: CUDA is not available "
              "(torch.cuda.memory._record_memory_history records the CUDA allocator only)",
              file=sys.stderr)
        yield None
        return
    path = snapshot_path(directory, rank)
    torch.cuda.memory._record_memory_history(max_entries=max_entries)
    try:
        yield path
    finally:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.cuda.memory._dump_snapshot(str(path))
        torch.cuda.memory._record_memory_history(enabled=None)
