"""The DuckDB database: connections, and running the project's SQL files."""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .resources import read_sql, resource_dir

SCHEMA_FILES = ("ingest/schema.sql", "ingest/kernel_classes.sql")


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory database, or a database file."""
    con = duckdb.connect(str(path) if path else ":memory:", read_only=read_only)
    con.execute(f"SET threads = {os.cpu_count() or 1}")
    if not read_only:
        # Statements may reorder rows (cheaper); the event inserts, whose rowid is the event's
        # position in (file, file order), turn order keeping on for themselves (keep_order).
        con.execute("SET preserve_insertion_order = false")
    return con


@contextmanager
def keep_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Within the block, INSERT ... SELECT keeps the order of its source (DuckDB's order
    preservation: a table function, WHERE, SELECT and CTEs of those keep it)."""
    before = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if before else 'false'}")


def run_sql(con: duckdb.DuckDBPyConnection, relative: str, params: dict | None = None) -> None:
    """Run one SQL file from ``queries/`` (a single statement when it takes parameters)."""
    sql = read_sql(relative)
    if params:
        con.execute(sql, params)
    else:
        con.execute(sql)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    for f in SCHEMA_FILES:
        run_sql(con, f)


def view_files() -> list[str]:
    """The public view definitions, in dependency order (events first)."""
    names = sorted(p.name for p in (resource_dir("queries") / "views").glob("*.sql"))
    names.sort(key=lambda n: n != "events.sql")
    return [f"views/{n}" for n in names]


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    for f in view_files():
        run_sql(con, f)


def is_duckdb_file(path: str | Path) -> bool:
    """DuckDB database files carry 'DUCK' at byte 8."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[8:12] == b"DUCK"


def attach_loaded(path: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database that reads a loaded database file, read-only.

    Analyses create their tables in memory; names they do not define resolve to the file's.
    """
    try:
        con = connect()
        con.execute("ATTACH ? AS loaded (READ_ONLY)", [str(path)])
    except duckdb.Error as exc:
        from .errors import InputError
        raise InputError(path, f"cannot open DuckDB file: {str(exc).splitlines()[0]}") from None
    con.execute("SET search_path = 'memory.main,loaded.main'")
    return con


def fetch_dicts(con: duckdb.DuckDBPyConnection, relation: str) -> list[dict]:
    """Every row of one of our views or tables (never user input) as a dict; NaN as None."""
    cur = con.execute(f"SELECT * FROM {relation}")
    cols = [d[0] for d in cur.description]
    return [{c: (None if isinstance(v, float) and math.isnan(v) else v) for c, v in zip(cols, row)}
            for row in cur.fetchall()]
