"""Which files make up a trace set, and which rank each one is."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError

TRACE_SUFFIXES = (".json", ".json.gz")
# Anemoi's profiler: <host>_<pid>.None.<ns>.pt.trace.json
ANEMOI_NAME = re.compile(r"^(?P<host>.+)_(?P<pid>\d+)\.None\.(?P<ns>\d+)\.pt\.trace\.json(\.gz)?$")


def trace_files(path: str | Path) -> list[Path]:
    """One file, or the trace files of a directory (sorted by name: the 'file order')."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file or directory")
    if p.is_file():
        return [p]
    files = sorted(f for f in p.iterdir()
                   if f.is_file() and f.name.endswith(TRACE_SUFFIXES) and not f.name.startswith("."))
    if not files:
        raise InputError(p, "directory holds no trace files (*.json, *.json.gz)")
    return files


def name_info(path: Path) -> dict:
    """Host and pid from an Anemoi-style file name, where it is one."""
    m = ANEMOI_NAME.match(path.name)
    return {"host": m["host"], "pid": int(m["pid"])} if m else {}


def assign_ranks(files: list[Path], metas: list[dict]) -> tuple[list[int], str]:
    """Ranks from ``distributedInfo.rank``; file order where any file lacks it.

    Returns (ranks, source). Duplicate ranks are bad input: two files claim the same rank.
    """
    declared = []
    for meta in metas:
        info = meta.get("distributedInfo")
        rank = info.get("rank") if isinstance(info, dict) else None
        declared.append(rank if isinstance(rank, int) and not isinstance(rank, bool) else None)
    if all(r is not None for r in declared):
        seen: dict[int, Path] = {}
        for f, r in zip(files, declared):
            if r in seen:
                raise InputError(f, f"duplicate rank {r}: {seen[r]} has distributedInfo.rank {r} too")
            seen[r] = f
        return declared, "distributedInfo"
    return list(range(len(files))), "file order"
