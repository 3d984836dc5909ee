"""`--engine perfetto`: the canonical tables filled from Perfetto's trace processor.

A cross-check of the default engine and a way to use Perfetto's importer. Each file is first
checked by the same code as the default engine (so bad input gets the same error) and its
top-level keys, which Perfetto ignores, are kept; then the trace processor loads the file and
its tables (slices, threads, processes, args, flows, counters) become trace_events rows
(queries/perfetto/events.sql). What it dropped or flagged (its stats) goes to ingest_notes.
"""
from __future__ import annotations

import time
from pathlib import Path

import duckdb
import msgspec

from ..database import create_schema, keep_order, run_sql
from ..engines.perfetto import open_trace_processor, query_rows
from ..resources import read_sql
from .discover import Discovered, discover
from .kineto import Assigned, LoadResult, check_trace_file, finish_load, note_ignored, register_files
from .ndjson import ndjson_file


def load_with_perfetto(con: duckdb.DuckDBPyConnection, path: str | Path | Assigned,
                       binary: str | None = None) -> LoadResult:
    t0 = time.perf_counter()
    assigned = path if isinstance(path, Assigned) else None
    found = Discovered(list(assigned.files), []) if assigned else discover(path)
    files = found.files
    create_schema(con)
    note_ignored(con, found, "perfetto")
    metas, sizes = [], []
    for f in files:
        x = check_trace_file(f)  # the default engine's checks, and the keys Perfetto ignores
        x.cleanup()
        metas.append(x.metadata)
        sizes.append(x.json_bytes)
    ranks, source = register_files(con, files, metas, sizes, assigned)
    ids = assigned.file_ids if assigned else list(range(len(files)))
    for i, f in enumerate(files):
        tp = open_trace_processor(f, binary)
        try:
            cols, rows = query_rows(tp, read_sql("perfetto/events.sql"))
            _, stats = query_rows(tp, read_sql("perfetto/stats.sql"))
        finally:
            tp.close()
        _insert(con, cols, rows, ids[i], ranks[i], metas[i].get("baseTimeNanoseconds") or 0)
        for name, severity, value, description in stats:
            con.execute("INSERT INTO ingest_notes VALUES (?, 'perfetto', ?, ?, ?, ?)",
                        [ranks[i], name, value, f"{severity}: {description}", str(f)])
    return finish_load(con, files, ranks, source, sum(sizes), t0, "perfetto")


def _insert(con, cols: list[str], rows: list[tuple], file_id: int, rank: int, base_ns: int) -> None:
    ia = cols.index("args")

    def as_dicts():
        for r in rows:
            row = dict(zip(cols, r))
            if r[ia] is not None:  # already JSON text: embed it, do not quote it
                row["args"] = msgspec.Raw(r[ia].encode())
            yield row

    with ndjson_file(as_dicts()) as tmp, keep_order(con):
        run_sql(con, "ingest/perfetto_events.sql",
                {"path": str(tmp), "file_id": file_id, "rank": rank, "base_ns": base_ns})
