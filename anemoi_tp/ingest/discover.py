"""Which files make up a trace set, which rank each one is, and which files are left aside.

A rank is one process. The profiler of one process may export several files (Anemoi's
``anemoi-training profile`` writes a training-cycle export and a teardown export of the same
process): files of one host and pid that claim one rank are *segments* of that rank's
timeline, all on the process's clock. Two different processes claiming one rank are bad input.
"""
from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

TRACE_SUFFIXES = (".json", ".json.gz")
# Anemoi's profiler: <host>_<pid>.None.<ns>.pt.trace.json
ANEMOI_NAME = re.compile(r"^(?P<host>.+)_(?P<pid>\d+)\.None\.(?P<ns>\d+)\.pt\.trace\.json(\.gz)?$")
SNIFF_BYTES = 1 << 20
# A .json without top-level traceEvents in its first MiB is parsed whole up to this size to
# tell a non-trace JSON object (metrics.json, a report) from a broken trace
SMALL_JSON = 64 << 20


@dataclass
class Discovered:
    """The trace files of a path (sorted by name: the 'file order') and the files of a
    directory left aside, each with why."""

    files: list[Path]
    ignored: list[tuple[Path, str]]


def discover(path: str | Path) -> Discovered:
    """One file (taken as a trace whatever it holds), or the trace files of a directory.

    In a directory, files not named *.json / *.json.gz (the ``*_profiler.csv`` of Anemoi, say)
    and .json files that are JSON but no trace (an object without ``traceEvents``, an array of
    non-objects: ``metrics.json``, a report written there) are ignored, each with a reason. A
    file that looks like a trace but is broken (truncated, bad gzip) is kept: loading it fails.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file or directory")
    if p.is_file():
        _check_readable(p)
        return Discovered([p], [])
    if not p.is_dir():  # reading a FIFO would block, a device never ends
        raise InputError(p, "not a regular file or directory (a FIFO or a device?): expected a "
                            "trace file or a folder of them")
    files: list[Path] = []
    ignored: list[tuple[Path, str]] = []
    try:
        entries = sorted(p.iterdir())
    except OSError as exc:
        raise InputError(p, f"cannot read the directory: {exc.strerror}") from None
    for f in entries:
        if f.name.startswith("."):
            continue  # hidden files are not part of a trace set
        if not f.is_file():
            if f.name.endswith(TRACE_SUFFIXES) and not f.is_dir():
                # a broken or looping link, a FIFO, a device named like a trace: not silently
                raise InputError(f, "not a readable regular file (a broken link, FIFO or device?)")
            continue  # sub-directories are not part of a trace set
        if not f.name.endswith(TRACE_SUFFIXES):
            if f.suffix != ".pickle":  # memory snapshots beside the traces are read by the report
                ignored.append((f, "not a trace file (not named *.json or *.json.gz)"))
            continue
        _check_readable(f)
        why = not_a_trace(f)
        if why:
            ignored.append((f, f"not a trace file ({why})"))
        else:
            files.append(f)
    if not files:
        also = f"; ignored {len(ignored)} other file(s)" if ignored else ""
        raise InputError(p, f"directory holds no trace files (*.json, *.json.gz){also}")
    return Discovered(files, ignored)


def _check_readable(path: Path) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def trace_files(path: str | Path) -> list[Path]:
    """One file, or the trace files of a directory (sorted by name: the 'file order')."""
    return discover(path).files


def not_a_trace(path: Path) -> str | None:
    """Why a .json file is JSON but no trace, or None (a trace, or broken: let loading say)."""
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        opener = gzip.open if gz else open
        with opener(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
            from .extract import strip_head
            body = strip_head(head)
            if body[:1] == b"[":
                first = body[1:].lstrip(b" \t\r\n")[:1]
                if first in (b"{", b"]", b""):
                    return None  # an event array (or cut short: loading reports it)
                return "a JSON array of values that are not events"
            if body[:1] != b"{":
                return "not JSON" if body else None
            from .extract import _object_prefix  # the loader's own test for the key
            if _object_prefix(head):
                return None
            rest = f.read(SMALL_JSON - len(head) + 1)
    except (OSError, EOFError, zlib.error, RecursionError):
        return None  # bad gzip and the like: a broken trace, loading says what is wrong
    if len(head) + len(rest) > SMALL_JSON:
        return None
    try:
        doc = json.loads(head + rest)
    except (ValueError, RecursionError):
        return None  # broken JSON: loading reports it
    if isinstance(doc, dict) and "traceEvents" not in doc:
        return "a JSON object without traceEvents"
    return None


def name_info(path: Path) -> dict:
    """Host and pid from an Anemoi-style file name, where it is one."""
    m = ANEMOI_NAME.match(path.name)
    return {"host": m["host"], "pid": int(m["pid"])} if m else {}


def file_identity(path: Path, meta: dict) -> tuple[str | None, int | None]:
    """(host, pid) of the process that wrote a file, as far as its name and keys tell."""
    info = name_info(path)
    host = info.get("host") or (meta.get("host_name") if isinstance(meta.get("host_name"), str)
                                else None)
    return host, info.get("pid")


def assign_ranks(files: list[Path], metas: list[dict]) -> tuple[list[int], str]:
    """Ranks from ``distributedInfo.rank``; file order where any file lacks it.

    Returns (ranks, source). Files that claim one rank must be segments of one process: the
    same host and pid. Where the names give the pid this is checked here; otherwise the loader
    checks the pid with the most events once they are in (``check_segments``). In file order,
    files whose names give one host and pid share a rank too.
    """
    declared = []
    for meta in metas:
        info = meta.get("distributedInfo")
        rank = info.get("rank") if isinstance(info, dict) else None
        declared.append(rank if isinstance(rank, int) and not isinstance(rank, bool) else None)
    for f, r in zip(files, declared):
        if r is not None and not 0 <= r < 2 ** 31:  # ranks are INTEGER columns
            raise InputError(f, f"distributedInfo.rank is out of range (0 .. 2^31-1): {r}")
    if all(r is not None for r in declared):
        first: dict[int, int] = {}
        for i, (f, r) in enumerate(zip(files, declared)):
            if r not in first:
                first[r] = i
                continue
            j = first[r]
            (host_a, pid_a), (host_b, pid_b) = file_identity(files[j], metas[j]), file_identity(f, metas[i])
            if host_a is None or host_b is None:
                raise InputError(f, duplicate_message(files[j], r, "the host is unknown"))
            if host_a != host_b:
                raise InputError(f, duplicate_message(files[j], r, f"hosts {host_a} and {host_b}"))
            if pid_a is not None and pid_b is not None and pid_a != pid_b:
                raise InputError(f, duplicate_message(files[j], r, f"pids {pid_a} and {pid_b}"))
        return declared, "distributedInfo"
    ranks, by_process = [], {}
    for f in files:
        info = name_info(f)
        key = (info["host"], info["pid"]) if info else f
        ranks.append(by_process.setdefault(key, len(by_process)))
    return ranks, "file order"


def duplicate_message(other: Path | str, rank: int, why: str) -> str:
    """The one-line error for two files that claim one rank but are not one process."""
    return (f"duplicate rank {rank}: {other} has distributedInfo.rank {rank} too, and the two "
            f"are not segments of one process ({why})")
