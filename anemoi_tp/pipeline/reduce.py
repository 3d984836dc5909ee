"""The reduce: the ranks' cache entries -> one database for the whole set.

Each relation of the entries becomes one view over the ranks' Parquet files (DuckDB reads
only the columns and row groups a query needs; small relations are copied in). Then what
needs every rank runs here: collectives matched across ranks (analysis/collectives.sql), the
rules (their thresholds are the run's, so another threshold reuses the entries), the
findings across ranks, and the report's views.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from ..database import connect, has_relation, run_sql
from .plan import Plan

# relations that are one per set, not one per rank: the same rows in every entry
SHARED = frozenset({"module_layers"})
# views over other exported relations whose rows are per file: the reduce makes them from their
# own SQL over the set's relations (flows pairs each file's flow events; the same rows as
# the union of the ranks'), so a map does not write them (flows: ~4 % of a map's CPU);
# name -> (file, the relation it reads: where the entries have none, neither is made)
DERIVED = {"flows": ("views/flows.sql", "events")}
# public views with an order of their own (their queries/views file ends with ORDER BY)
ORDERED = {"ranks": "rank", "devices": "rank, device",
           "ingest_issues": "rank NULLS FIRST, file, issue"}
# below this many rows in all, a relation is copied into memory (read often, cheap to hold);
# measured: 20 000 costs a cached 8-rank report 0.25 CPU-s less than 200 000, 64 ranks the same
COPY_ROWS = 20_000
# the files that run before the rules: macros of the interval layer, the patterns, collectives
REDUCE_FILES = ("intervals/order.sql", "intervals/clip.sql", "intervals/islands.sql",
                "intervals/innermost.sql", "analysis/settings.sql", "ingest/kernel_classes.sql",
                "analysis/collectives.sql")


def _q(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def attach_entries(con: duckdb.DuckDBPyConnection, plan: Plan, infos: list[dict]) -> list[str]:
    """Create the set's relations from the entries (``infos`` in rank order); returns the
    entry folders (the only files the connection must read once locked down)."""
    names = sorted({n for info in infos for n in info["relations"]})
    folders = [info["path"] for info in infos]
    for name in names:
        files = [str(Path(f) / f"{name}.parquet") for f, info in zip(folders, infos)
                 if name in info["relations"]]
        total = sum(info["relations"].get(name, 0) for info in infos)
        # no hive partitioning: a cache under /x/rank=7/ would otherwise overwrite every rank
        src = f"read_parquet([{', '.join(_q(f) for f in files)}], hive_partitioning = false)"
        if name == "ingest_issues":
            con.execute("CREATE OR REPLACE TABLE set_ingest_notes (rank INTEGER, file VARCHAR, engine VARCHAR, "
                        "issue VARCHAR, events BIGINT, example VARCHAR)")
            engine = plan.tasks[0].engine if plan.tasks else "kineto"
            for f, why in plan.ignored:
                con.execute("INSERT INTO set_ingest_notes VALUES (NULL, ?, ?, ?, NULL, NULL)",
                            [f, engine, f"ignored: {why}"])
            src = f"(SELECT * FROM {src} UNION ALL SELECT * FROM set_ingest_notes)"
        select = f"SELECT {'DISTINCT ' if name in SHARED else ''}* FROM {src}"
        if name in ORDERED:
            select += f" ORDER BY {ORDERED[name]}"
        kind = "TABLE" if total <= COPY_ROWS or name in ORDERED else "VIEW"
        con.execute(f"CREATE OR REPLACE {kind} {name} AS {select}")
    return folders


def reduce_set(plan: Plan, infos: list[dict], patterns: dict | None = None,
               thresholds: dict | None = None,
               before_rules: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
               memory_limit: str | None = None) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """The set's database with the cross-rank analyses and the rules done; and the entry
    folders it reads. ``before_rules(con)``: e.g. load the memory snapshots beside the traces
    (the memory_oom rule reads them)."""
    from ..config import apply_patterns
    from ..rules import run_rules

    con = connect()
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    # the rows of a relation in rank order, each rank's in its table's order (their SQL ends
    # with ORDER BY rank, …, as the whole-set tables did)
    con.execute("SET preserve_insertion_order = true")
    folders = attach_entries(con, plan, infos)
    for f, source in DERIVED.values():
        if has_relation(con, source):
            run_sql(con, f)
    for f in REDUCE_FILES:
        run_sql(con, f)
        if f == "analysis/settings.sql" and patterns:
            apply_patterns(con, patterns)
    if before_rules:
        before_rules(con)
    run_rules(con, thresholds)
    return con, folders
