"""The map: the files of one rank (or of a few small consecutive ones, plan.py) -> their
tables, as Parquet in a cache entry.

A rank-sized DuckDB database (in memory) loads the files under their set-wide file ids
and event ids (``event_base``), runs every analysis (each is per rank: a rank's tables are the
same whether it is loaded alone or with the others; tests/test_pipeline.py checks it) and the
memory tables, and writes each public view and analysis table to ``NAME.parquet`` (the raw
events, which only SQL of the user's reads, into an entry of their own, when asked). What only
the whole set can tell (collectives matched across ranks, the rules, the report) is the
reduce's (``reduce.py``). Runs in this process or in a Dask worker: it takes and returns only
small, picklable values.
"""
from __future__ import annotations

import json
import threading
import time
import warnings
from pathlib import Path

from .cache import ENTRY_FILE, EVENTS_SUFFIX, Cache
from .plan import RankTask
from .reduce import DERIVED

# Relations of a rank database that are not part of its entry: the raw events (``events``
# holds the usable ones), the cross-rank tables a single rank cannot make, the settings
# and rule tables the reduce makes for the whole set, and the views it derives itself.
NOT_EXPORTED = frozenset({
    "trace_events", "anemoi_tp_meta", "collective_matches", "collective_straggler",
    "analysis_patterns", "kernel_class_patterns", "rule_thresholds", "findings",
}) | frozenset(DERIVED)


# the databases of the maps running in this process's threads (execute.py interrupts them when
# the run stops or another map failed: their threads would otherwise finish every map first)
_running: set = set()
_running_lock = threading.Lock()


def interrupt_running() -> None:
    """Interrupt the statement each map running in this process is executing (it then fails,
    removing its temporary entry)."""
    with _running_lock:
        for con in list(_running):
            con.interrupt()


def event_base(task: RankTask) -> int:
    return task.file_ids[0] << 40


# The raw events are an entry of their own (its key: the rank entry's and EVENTS_SUFFIX): the
# report never reads them, so a map writes them only when asked (``events=True``: SQL of the
# user's), with the analyses or, where those are cached already, from a load of its own
EVENTS = "events"


def map_rank(task: RankTask, cache_root: str, cache_temporary: bool, versions: dict[str, int],
             threads: int | None = None, memory_limit: str | None = None, events: bool = False) -> dict:
    """Make (or find) the cache entry of one map; returns {"path", "cached", "ranks", "warnings",
    …}, and where ``events`` the raw events' entry as ``events_entry`` ({"path", "cached", …})."""
    cache = Cache(Path(cache_root), temporary=cache_temporary)
    key = task.key(versions)
    events_key = key + EVENTS_SUFFIX
    found = cache.get(key)
    found_events = cache.get(events_key) if events else None
    new_analyses, new_events = found is None, events and found_events is None
    if new_analyses or new_events:
        t0 = time.perf_counter()
        tmp = cache.new_temp(key) if new_analyses else None
        tmp_events = cache.new_temp(events_key) if new_events else None
        try:
            info = _build(task, tmp, tmp_events, threads, memory_limit)
            if tmp_events is not None:
                found_events = _commit(cache, tmp_events, events_key, {
                    "ranks": info["ranks"], "files": info["files"], "relations": info.pop("events_relations")})
            if tmp is not None:
                info["seconds"] = round(time.perf_counter() - t0, 3)
                found = _commit(cache, tmp, key, info)
        except BaseException:
            import shutil
            for t in (tmp, tmp_events):
                if t is not None:
                    shutil.rmtree(t, ignore_errors=True)
            raise
    out = _read(found, cached=not new_analyses)
    if found_events is not None:
        out["events_entry"] = _read(found_events, cached=not new_events)
    return out


def _commit(cache: Cache, tmp: Path, key: str, info: dict) -> Path:
    (tmp / ENTRY_FILE).write_text(json.dumps(info, sort_keys=True))  # last: it marks the entry whole
    return cache.commit(tmp, key)


def _read(path: Path, cached: bool) -> dict:
    info = json.loads((path / ENTRY_FILE).read_text())
    info.update(path=str(path), cached=cached)
    return info


def _build(task: RankTask, out: Path | None, out_events: Path | None, threads: int | None,
           memory_limit: str | None) -> dict:
    """Load the task's files; where ``out``, analyse them and write their tables there; where
    ``out_events``, write the raw events there."""
    from ..analysis import run_analyses
    from ..database import connect, run_sql
    from ..ingest.kineto import Assigned, IngestWarning
    from ..report.rank_tables import make_rank_tables
    from ..rules.run import run_rank_rules

    con = connect()
    with _running_lock:
        _running.add(con)
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
        con.execute(f"CREATE OR REPLACE MACRO event_base() AS {event_base(task)}")
        assigned = Assigned(files=[Path(f) for f in task.files], file_ids=list(task.file_ids),
                            ranks=list(task.ranks), rank_source=task.rank_source)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", IngestWarning)
            if task.engine == "perfetto":
                from ..ingest.perfetto_loader import load_with_perfetto
                result = load_with_perfetto(con, assigned, task.trace_processor)
            else:
                from ..ingest import load_traces
                result = load_traces(con, assigned, jobs=threads)
        info = {"ranks": sorted(set(task.ranks)), "files": task.files}
        if out_events is not None:
            # first: the analyses' tables then need the memory the events' export would
            info["events_relations"] = _export(con, out_events, [EVENTS])
        if out is not None:
            run_analyses(con, task.patterns or None, module_depth=task.module_depth)
            run_sql(con, "memory/memory_events.sql")
            run_rank_rules(con, task.classifying)
            make_rank_tables(con, absent_only=False)  # the report's tables of one rank's rows
            info.update(relations=_export(con, out, _exported(con)), json_bytes=result.json_bytes,
                        events=result.events, skipped=result.skipped,
                        warnings=[str(w.message) for w in caught if issubclass(w.category, IngestWarning)])
        return info
    finally:
        with _running_lock:
            _running.discard(con)
        con.close()


def _exported(con) -> list[str]:
    """Every public view and analysis table of the rank database but the raw events."""
    names = [n for (n,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary "
        "UNION SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND NOT internal AND NOT temporary ORDER BY 1").fetchall()]
    return [n for n in names if n not in NOT_EXPORTED and n != EVENTS]


def _export(con, out: Path, names: list[str]) -> dict[str, int]:
    """These relations of the rank database -> NAME.parquet; {name: rows}."""
    rows = {}
    for name in names:
        path = out / f"{name}.parquet"
        # COPY returns the rows it wrote: a view is computed once, not again for a count
        rows[name] = con.execute(f"COPY (SELECT {_columns(con, name)} FROM {name}) TO '{_quote(path)}' "
                                 "(FORMAT parquet, COMPRESSION zstd)").fetchone()[0]  # zstd: half snappy's size
    return rows


def _columns(con, name: str) -> str:
    """The select list that keeps every value: Parquet has no 128-bit integer (DuckDB would
    write a HUGEINT sum as a DOUBLE), so those become BIGINT (an overflow fails loudly)."""
    cols = con.execute(f"DESCRIBE {name}").fetchall()
    return ", ".join(f'CAST("{c}" AS BIGINT) AS "{c}"' if t in ("HUGEINT", "UHUGEINT") else f'"{c}"'
                     for c, t, *_ in cols)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")

