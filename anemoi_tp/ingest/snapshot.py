"""Memory snapshots (`torch.cuda.memory._dump_snapshot` pickles) -> DuckDB, safely.

A snapshot is untrusted input: it is never given to `pickle.load`. Its opcodes are first
scanned without executing anything (pickletools), and any that could import or call
(GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ, EXT, PERSID …) reject the file; then a restricted
Unpickler that refuses every global reads what is left: dicts, lists, tuples, strings,
numbers. The rows go to DuckDB through newline-delimited JSON (no per-row inserts).
"""
from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path
from typing import Any

import duckdb

from ..database import is_duckdb_file, run_sql
from ..errors import InputError
from .ndjson import ndjson_file

PICKLE_MAGIC = b"\x80"
# Bounds (resource bombs): a pickle can refer to one object many times (memo references), so
# a few KB can stand for billions of rows once the loader walks it. The walk's size is
# counted with references expanded, before anything is built from it.
# values once references are expanded: a real snapshot has under one per pickle byte (each
# value costs at least a byte or two); 8 per byte, plus a floor for tiny files, is generous
NODE_FLOOR = 1_000_000
NODES_PER_BYTE = 8
MAX_DEPTH = 64             # nesting (a snapshot needs about 6)
INT_RANGE = 1 << 64        # integers the tables hold (addresses are unsigned 64-bit)
# opcodes that import, call or build objects: a snapshot needs none of them
_FORBIDDEN = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX",
              "EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID"}


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # pragma: no cover - scan refuses first
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:  # pragma: no cover
        raise pickle.UnpicklingError("refusing persistent id")


def is_pickle(path: Path) -> bool:
    """Opens with PROTO and a protocol number (2-5), as torch's snapshots (pickle.dump) do, and
    is not a DuckDB file: those open with an 8-byte checksum (any value: 1 in 256 starts with
    0x80)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return (len(head) == 2 and head[:1] == PICKLE_MAGIC and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL
            and not is_duckdb_file(path))


def read_snapshot(path: str | Path) -> dict:
    """The snapshot as plain Python data; InputError for anything else."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    if not data:
        raise InputError(path, "empty file")
    try:
        for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if op.name in _FORBIDDEN:
                detail = f" {arg}" if arg is not None and op.name in ("GLOBAL", "INST") else ""
                raise InputError(path, f"not a memory snapshot: the pickle uses {op.name}{detail}, "
                                       "which could run code; refused, nothing was executed")
            if op.name in ("INT", "LONG", "LONG1", "LONG4") and isinstance(arg, int) \
                    and not -INT_RANGE // 2 <= arg < INT_RANGE:
                raise InputError(path, "not a memory snapshot: an integer beyond 64 bits; refused")
    except InputError:
        raise
    except Exception as exc:  # truncated or not a pickle at all
        raise InputError(path, f"not a readable pickle ({exc})") from None
    try:
        snap = _NoGlobals(io.BytesIO(data)).load()
    except Exception as exc:
        raise InputError(path, f"not a readable pickle ({exc})") from None
    _check_size(path, snap, NODE_FLOOR + NODES_PER_BYTE * len(data))
    if not isinstance(snap, dict) or not isinstance(snap.get("segments"), list):
        raise InputError(path, "not a memory snapshot: expected a dict with 'segments' "
                               "(torch.cuda.memory._dump_snapshot)")
    return snap


def _check_size(path: Path, root: Any, max_nodes: int) -> None:
    """Refuse a value whose walk (references expanded) exceeds max_nodes or MAX_DEPTH, or that
    refers to itself. Iterative, and each shared object is sized once: bounded time."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        obj, depth, done = stack.pop()
        if not isinstance(obj, (dict, list, tuple)):
            continue
        key = id(obj)
        children = list(obj.values()) if isinstance(obj, dict) else obj
        if done:
            on_path.discard(key)
            total = 1 + len(children) + sum(sizes.get(id(c), 0) for c in children)
            if total > max_nodes:
                raise InputError(path, f"not a memory snapshot: more than {max_nodes:,} values once "
                                       "its shared references are expanded (a pickle bomb?); refused")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise InputError(path, "not a memory snapshot: a value contains itself; refused")
        if depth > MAX_DEPTH:
            raise InputError(path, f"not a memory snapshot: nested deeper than {MAX_DEPTH}; refused")
        on_path.add(key)
        stack.append((obj, depth, True))
        stack.extend((c, depth + 1, False) for c in children)


def _frame_text(frames: Any) -> tuple[str | None, str | None]:
    """(top frame, first frame outside torch) as 'file:line name'."""
    if not isinstance(frames, list) or not frames:
        return None, None
    def fmt(f: dict) -> str:
        return f"{f.get('filename', '?')}:{f.get('line', '?')} {f.get('name', '?')}"
    top = fmt(frames[0]) if isinstance(frames[0], dict) else None
    user = next((fmt(f) for f in frames if isinstance(f, dict)
                 and "/torch/" not in str(f.get("filename", "")) and str(f.get("filename", "")) not in ("", "??")
                 and not str(f.get("filename", "")).startswith("<")), None)
    return top, user


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def load_snapshot(con: duckdb.DuckDBPyConnection, path: str | Path, snapshot_id: int = 0) -> dict:
    """Read a snapshot into the memory tables; returns counts."""
    path = Path(path)
    snap = read_snapshot(path)
    run_sql(con, "memory/schema.sql")
    segments, blocks, trace = [], [], []
    for s in snap["segments"]:
        if not isinstance(s, dict):
            continue
        pool = s.get("segment_pool_id")
        seg = {"snapshot_id": snapshot_id, "device": _int(s.get("device")), "address": _int(s.get("address")),
               "total_size": _int(s.get("total_size")), "stream": _int(s.get("stream")),
               "segment_type": s.get("segment_type"),
               "pool": (str(tuple(pool)) if isinstance(pool, (list, tuple))
                        else (str(pool) if pool is not None else None)),
               "is_expandable": bool(s.get("is_expandable", False))}
        segments.append(seg)
        addr = seg["address"]
        for b in s.get("blocks") or []:
            if not isinstance(b, dict):
                continue
            top, user = _frame_text(b.get("frames"))
            blocks.append({"snapshot_id": snapshot_id, "device": seg["device"], "segment_address": addr,
                           "segment_type": seg["segment_type"], "pool": seg["pool"],
                           "address": _int(b.get("address", addr)), "size": _int(b.get("size")),
                           "requested_size": _int(b.get("requested_size")), "state": b.get("state"),
                           "top_frame": top, "user_frame": user})
            if _int(b.get("size")) is not None and addr is not None:
                addr += b["size"]
    for device, entries in enumerate(snap.get("device_traces") or []):
        for seq, t in enumerate(entries or []):
            if not isinstance(t, dict):
                continue
            top, user = _frame_text(t.get("frames"))
            trace.append({"snapshot_id": snapshot_id, "device": device, "seq": seq, "action": t.get("action"),
                          "addr": _int(t.get("addr")), "size": _int(t.get("size")), "stream": _int(t.get("stream")),
                          "time_us": _int(t.get("time_us")), "device_free": _int(t.get("device_free")),
                          "top_frame": top, "user_frame": user})
    con.execute("INSERT INTO memory_snapshots VALUES (?, ?)", [snapshot_id, str(path)])
    for table, rows in (("mem_segments", segments), ("mem_blocks", blocks), ("mem_trace", trace)):
        if rows:
            _insert_rows(con, table, rows)
    return {"segments": len(segments), "blocks": len(blocks), "trace_entries": len(trace)}


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    types = dict(con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [table]).fetchall())
    with ndjson_file(rows) as tmp:
        con.execute(f"INSERT INTO {table} SELECT {', '.join(types)} FROM read_json(?, format = "
                    "'newline_delimited', columns = ?, hive_partitioning = false)", [str(tmp), types])
