"""The default engine: Kineto JSON -> DuckDB, exact and fast.

Each file's ``traceEvents`` array is cut into parts (``extract.py``, files of a directory in
parallel threads: decompression and sendfile release the GIL), which reach DuckDB through
FIFOs (``stream.py``) or temporary files; DuckDB's ``read_json`` parses every part of every
file in one statement on all cores, with fixed column types
(``queries/ingest/kineto_events.sql``): no Python loop touches single events.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..database import create_schema, create_views, keep_order, run_sql
from ..errors import InputError
from ..resources import read_sql
from .discover import Discovered, assign_ranks, discover, duplicate_message, name_info
from .extract import Extracted, extract
from .stream import FIFO_UNSUPPORTED, PartStreams, can_stream

# The event fields read from the JSON and their types. ts/dur as JSON text, not DOUBLE:
# DuckDB's DOUBLE reader would turn "ts": true into 1 and "ts": "5" into 5 (silently), and
# fail the whole file on "ts": [1]; as text, each bad value is one flagged event
# (kineto_events.sql). Measured: the same speed as DOUBLE (bench/bench_ingest.py).
EVENT_COLUMNS = {
    "ph": "VARCHAR", "cat": "VARCHAR", "name": "VARCHAR", "pid": "VARCHAR", "tid": "VARCHAR",
    "ts": "JSON", "dur": "JSON", "args": "JSON", "id": "VARCHAR", "bp": "VARCHAR",
    "s": "VARCHAR",
}
# baseTimeNanoseconds bound: with |ts| below 2^52 µs (kineto_events.sql) ns fit a BIGINT
MAX_BASE_NS = 1 << 62


@dataclass
class LoadResult:
    """What a load did: files, events, issues, time."""

    files: list[Path]
    ranks: list[int]
    rank_source: str
    json_bytes: int = 0
    events: int = 0
    skipped: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


Progress = Callable[[int, int, str], None]


@dataclass
class Assigned:
    """Files of a set whose ranks are known already (the pipeline's plan): load these, under
    their set-wide file ids, instead of discovering a path."""

    files: list[Path]
    file_ids: list[int]
    ranks: list[int]
    rank_source: str


def _progress_sink(total: int, callback: Progress | None):
    """Sums bytes cut out by several threads and reports (done, total, stage)."""
    done: dict[int, int] = {}

    def report(key: int, pos: int) -> None:
        done[key] = pos
        if callback:
            callback(sum(done.values()), total, "reading")
    return report


@contextmanager
def _parse_progress(con: duckdb.DuckDBPyConnection, total: int, callback: Progress | None,
                    poll: bool = True):
    """While DuckDB parses, report its own query progress as a share of the bytes (``poll``;
    streamed parts report the bytes sent instead: DuckDB sees pipes as empty files)."""
    if callback is None:
        yield
        return
    if not poll:
        callback(0, total, "parsing")
        yield
        callback(total, total, "indexing")
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            try:
                pct = con.query_progress()
            except duckdb.Error:
                continue
            if pct >= 0:
                callback(int(total * min(pct, 100.0) / 100.0), total, "parsing")

    t = threading.Thread(target=poll, daemon=True)
    callback(0, total, "parsing")
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        callback(total, total, "indexing")


def load_traces(con: duckdb.DuckDBPyConnection, path: str | Path | Assigned, jobs: int | None = None,
                progress: Progress | None = None,
                tmpdir: str | None = None, part_bytes: int | None = None) -> LoadResult:
    """Load a trace file or a directory of per-rank files into ``con``.

    ``progress(done_bytes, total_bytes, stage)`` is called as files are read and parsed;
    ``part_bytes`` overrides the size of the parts the event arrays are cut into.
    Raises InputError for bad input; the database may then hold part of the load, so callers
    that keep it write to a temporary database first (as the CLI does).
    """
    t0 = time.perf_counter()
    assigned = path if isinstance(path, Assigned) else None
    found = Discovered(list(assigned.files), []) if assigned else discover(path)
    files = found.files
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files)))
    total = sum(f.stat().st_size for f in files)
    report = _progress_sink(total, progress)
    create_schema(con)
    note_ignored(con, found, "kineto")
    extracted: list[Extracted | None] = [None] * len(files)

    # files in parallel; the cores left over (fewer files than cores) cut each file in threads
    per_file = max(1, (os.cpu_count() or 1) // jobs)

    stream = can_stream()

    def do_extract(i: int) -> None:
        extracted[i] = extract(files[i], tmpdir, part_bytes, progress=lambda pos: report(i, pos),
                               jobs=per_file, write=not stream)

    try:
        # Phase 1: find the event arrays and where to cut them (ranks are only known once every
        # file is read); without FIFOs, the parts are written out here.
        _run_parallel(do_extract, range(len(files)), jobs)
        ranks, source = register_files(con, files, [x.metadata for x in extracted],
                                       [x.json_bytes for x in extracted], assigned)
        # Phase 2: DuckDB parses every part of every file in one statement, on all cores.
        sent = None
        if progress and stream:
            body = sum(b - a for x in extracted for a, b in x.ranges) or 1
            sent = lambda n: progress(int(total * min(n, body) / body), total, "parsing")  # noqa: E731
        with _parse_progress(con, total, progress, poll=not stream):
            _parse_events(con, files, extracted, ranks, stream, sent,
                          assigned.file_ids if assigned else list(range(len(files))))
    finally:
        for x in extracted:
            if x is not None:
                x.cleanup()

    return finish_load(con, files, ranks, source, sum(x.json_bytes for x in extracted), t0, "kineto")


def note_ignored(con: duckdb.DuckDBPyConnection, found: Discovered, engine: str) -> None:
    """The files of the trace folder left aside, as ingest_notes (warned by finish_load)."""
    for f, why in found.ignored:
        con.execute("INSERT INTO ingest_notes (rank, engine, issue, events, example, file) "
                    "VALUES (NULL, ?, ?, NULL, NULL, ?)", [engine, f"ignored: {why}", str(f)])


def register_files(con: duckdb.DuckDBPyConnection, files: list[Path], metas: list[dict],
                   json_bytes: list[int], assigned: Assigned | None = None) -> tuple[list[int], str]:
    """Ranks for the files (``assigned``'s, else from their keys), and their trace_files rows
    (top-level keys kept as JSON)."""
    if assigned:
        ranks, source, ids = list(assigned.ranks), assigned.rank_source, list(assigned.file_ids)
    else:
        (ranks, source), ids = assign_ranks(files, metas), list(range(len(files)))
    for i, (f, meta) in enumerate(zip(files, metas)):
        base = meta.get("baseTimeNanoseconds") or 0
        if not isinstance(base, int) or isinstance(base, bool):
            raise InputError(f, f"baseTimeNanoseconds is not an integer: {base!r}")
        if abs(base) >= MAX_BASE_NS:
            raise InputError(f, f"baseTimeNanoseconds is out of range (|value| >= 2^62): {base}")
        info = name_info(f)
        run_sql(con, "ingest/register_file.sql", {
            "file_id": ids[i], "rank": ranks[i], "rank_source": source, "path": str(f),
            "json_bytes": json_bytes[i], "base_ns": base,
            "metadata": json.dumps({k: v for k, v in meta.items() if k != "deviceProperties"}),
            "device_properties": json.dumps(meta.get("deviceProperties")),
            "name_host": info.get("host"), "name_pid": info.get("pid")})
    return ranks, source


def finish_load(con: duckdb.DuckDBPyConnection, files: list[Path], ranks: list[int], source: str,
                json_bytes: int, t0: float, engine: str) -> LoadResult:
    """After the events are in: per-file facts, the usable-events check, GPU activities,
    views, and the warnings of what was skipped or dropped."""
    run_sql(con, "ingest/finish.sql")
    conflict = con.execute(read_sql("ingest/segment_conflicts.sql")).fetchone()
    if conflict:  # files of one rank that are not one process (the pid only known now)
        rank, first, second, why = conflict
        raise InputError(second, duplicate_message(first, rank, why))
    not_json = con.execute(
        "SELECT file_id, count(*) FROM trace_events WHERE issue LIKE '%NaN or Infinity (not JSON)' "
        "GROUP BY file_id ORDER BY file_id LIMIT 1").fetchone()
    # file_id -> the file as given (a rank's map loads files under their set-wide ids)
    file_of = {i: Path(p) for i, p in con.execute("SELECT file_id, path FROM trace_files").fetchall()}
    if not_json:  # the Perfetto engine refuses such a file too (check_trace_file)
        raise InputError(file_of[not_json[0]], nan_message(not_json[1]))
    counts = dict(con.execute(
        "SELECT file_id, count(*) FILTER (WHERE issue IS NULL) FROM trace_events GROUP BY file_id"
    ).fetchall())
    for i, f in sorted(file_of.items()):
        if not counts.get(i):
            raise InputError(f, "no usable trace events (the traceEvents array is empty or every "
                                "event has an impossible field)")
    run_sql(con, "ingest/gpu_activities.sql")
    rows, activities = con.execute(
        "SELECT count(*), count(DISTINCT activity_id) FROM gpu_activities").fetchone()
    if rows != activities:  # a correlation id with several runtime calls: keep the earliest
        run_sql(con, "ingest/gpu_launch_dedupe.sql")
    create_views(con)
    result = LoadResult(files=files, ranks=ranks, rank_source=source, json_bytes=json_bytes,
                        seconds=time.perf_counter() - t0)
    result.events, result.skipped = con.execute(
        "SELECT count(*) FILTER (WHERE issue IS NULL), count(issue) FROM trace_events").fetchone()
    for _rank, file, eng, issue, n in con.execute(
            "SELECT rank, file, engine, issue, events FROM ingest_issues").fetchall():
        if n is None:  # a note about a file, not about events (an ignored file)
            result.warnings.append(f"{file}: {issue}")
            continue
        verb = "skipped" if eng == "kineto" else "Perfetto reports"
        result.warnings.append(f"{file}: {verb} {n} event(s): {issue}")
    if source == "file order" and len(set(ranks)) > 1:
        result.warnings.append("ranks follow file order: the files carry no distributedInfo.rank")
    for w in result.warnings:
        warnings.warn(w, IngestWarning, stacklevel=3)
    return result


def _parse_events(con: duckdb.DuckDBPyConnection, files: list[Path], extracted: list[Extracted],
                  ranks: list[int], stream: bool, sent: Callable[[int], None] | None,
                  file_ids: list[int]) -> None:
    bases = [x.metadata.get("baseTimeNanoseconds") or 0 for x in extracted]

    def params(columns: dict) -> dict:
        # parts file by file, each file's in order: the order of trace_events rows
        return {"paths": [str(p) for x in extracted for p in x.parts],
                "part_file": [i for i, x in enumerate(extracted) for _ in x.parts],
                "file_ids": file_ids, "file_rank": ranks, "file_base_ns": bases, "columns": columns}

    def insert(columns: dict) -> None:
        nonlocal stream
        if stream:
            try:
                with PartStreams(extracted, sent), keep_order(con):
                    run_sql(con, "ingest/kineto_events.sql", params(columns))
                return
            except OSError as exc:
                if exc.errno not in FIFO_UNSUPPORTED:
                    raise InputError(None, f"cannot read the trace files: {exc}") from None
                stream = False  # no FIFOs in this temporary directory: write the parts out
        for x in extracted:
            x.ensure_files()
        with keep_order(con):
            run_sql(con, "ingest/kineto_events.sql", params(columns))

    try:
        try:
            insert(EVENT_COLUMNS)
        except duckdb.InvalidInputException:
            if any(len(x.ranges) > 1 for x in extracted):
                for x in extracted:  # a cut fell inside an event: parse the files unsplit
                    x.join_ranges()
                insert(EVENT_COLUMNS)
            else:
                raise
    except duckdb.Error as exc:
        raise InputError(_failing_file(exc, files, extracted), _json_error(exc)) from None
    except UnicodeDecodeError:  # DuckDB's message quoted the event cut inside a UTF-8 character
        raise InputError(files[0] if len(files) == 1 else None, UNREADABLE_ERROR) from None


def check_trace_file(path: Path) -> Extracted:
    """Everything the default engine checks about a file, without loading it: the structure
    (extract) and the JSON of every event (a DuckDB scan that keeps no column). Other engines
    call this so that bad input gets the same error whatever the engine. The caller cleans up."""
    x = extract(path)
    con = duckdb.connect()
    try:
        # the default engine's columns: DuckDB checks duplicate keys only among the columns it
        # reads, so fewer would accept a file the default engine rejects (same verdict)
        sql = ("SELECT count(ph), count(name), count(args), count(id), count(bp), count(s), "
               "count(cat), count(pid), count(tid), "
               f"count(*) FILTER (WHERE lower(CAST(ts AS VARCHAR)) IN {NAN_TEXTS} "
               f"OR lower(CAST(dur AS VARCHAR)) IN {NAN_TEXTS}) FROM read_json(?, "
               "format = 'array', columns = ?, hive_partitioning = false)")
        try:
            try:
                row = con.execute(sql, [[str(p) for p in x.parts], EVENT_COLUMNS]).fetchone()
            except duckdb.InvalidInputException:
                if len(x.parts) == 1:
                    raise
                row = con.execute(sql, [[str(x.whole())], EVENT_COLUMNS]).fetchone()  # a cut inside an event
            if row[-1]:
                x.cleanup()
                raise InputError(path, nan_message(row[-1]))
        except duckdb.Error as exc:
            x.cleanup()
            raise InputError(path, _json_error(exc)) from None
        except UnicodeDecodeError:
            x.cleanup()
            raise InputError(path, UNREADABLE_ERROR) from None
    finally:
        con.close()
    return x


# found by the fuzzer: an event with a duplicate key and non-ASCII text made DuckDB's message
# invalid UTF-8 (it quotes the event, cut at a byte count), a UnicodeDecodeError in Python
UNREADABLE_ERROR = "malformed JSON in the traceEvents array (DuckDB's message about it was not valid UTF-8)"
NAN_TEXTS = "('nan', '-nan', 'inf', '-inf', 'infinity', '-infinity')"


def nan_message(events: int) -> str:
    """The one verdict of both engines on NaN / Infinity as a time (Perfetto cannot parse it)."""
    return f"not JSON: {events} event(s) have NaN or Infinity as ts or dur"


def _failing_file(exc: duckdb.Error, files: list[Path], extracted: list[Extracted]) -> Path | None:
    """The trace file whose part DuckDB names in its error message."""
    msg = str(exc)
    for f, x in zip(files, extracted):
        if any(str(p) in msg for p in x.parts):
            return f
    return files[0] if len(files) == 1 else None


class IngestWarning(UserWarning):
    """Something in the input was skipped or guessed; see the ingest_issues view."""


def _json_error(exc: duckdb.Error) -> str:
    """DuckDB's complaint in the user's terms (its offsets refer to our temporary parts)."""
    msg = str(exc).splitlines()[0]
    if "Expected OBJECT" in msg:
        return "not a trace: traceEvents holds values that are not event objects"
    dup = re.search(r'has duplicate key "([^"]*)"', msg)
    if dup:
        return f"an event has the key {dup.group(1)!r} twice (ambiguous; refused)"
    detail = re.search(r"(unexpected [^.]*|Failed to cast[^.]*)", msg)
    if "Malformed JSON" in msg or detail:
        return ("malformed JSON in the traceEvents array"
                + (f" ({detail.group(1).strip()})" if detail else ""))
    return "cannot read the traceEvents array: " + re.sub(r'in file "[^"]*"', "", msg).strip()


def _run_parallel(fn: Callable[[int], None], items, jobs: int) -> None:
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        for i in items:
            fn(i)
        return
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for fut in [pool.submit(fn, i) for i in items]:
            fut.result()
