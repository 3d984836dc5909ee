"""The DuckDB database: connections, and running the project's SQL files."""
from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .resources import read_sql, resource_dir

SCHEMA_FILES = ("ingest/schema.sql", "ingest/kernel_classes.sql")
# The layout of the tables `load` stores (queries/ingest/meta.sql): raise it when a stored
# table changes its columns or their meaning, so that older files are refused, not misread.
SCHEMA_VERSION = 1
META_TABLE = "anemoi_tp_meta"
# No extension is installed or loaded behind our back (INSTALL httpfs reaches the network).
SAFE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


_spill: list[str] = []


def spill_dir() -> str:
    """This process's folder for what in-memory databases spill beyond their memory limit, in
    $TMPDIR (node-local on most clusters); removed at exit, swept by a later run if killed.
    DuckDB's default is ``.tmp`` in the working directory: the user's folder, perhaps read-only
    or on a shared file system."""
    if not _spill:
        from .signals import temp_prefix

        _spill.append(tempfile.mkdtemp(prefix=temp_prefix() + "spill-"))
        atexit.register(shutil.rmtree, _spill[0], True)
    return _spill[0]


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory database (spilling to ``spill_dir()``), or a database file."""
    con = duckdb.connect(str(path) if path else ":memory:", read_only=read_only, config=SAFE_CONFIG)
    if not path:
        con.execute("SET temp_directory = ?", [spill_dir()])
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
    from . import __version__

    for f in SCHEMA_FILES:
        run_sql(con, f)
    run_sql(con, "ingest/meta.sql", {"schema_version": SCHEMA_VERSION, "tool_version": __version__})


def lock_down(con: duckdb.DuckDBPyConnection, readable: list[str] | None = None) -> None:
    """From here on the connection reads and writes no file but its own databases (no
    read_text, COPY TO, ATTACH of a file, INSTALL), and no setting can be changed back: for
    user SQL and for databases we did not write. Loading needs file access (read_json), so
    this comes after it. ``readable``: folders it may still read (a trace set's cache
    entries, which its views read)."""
    if readable:
        con.execute("SET allowed_directories = ?", [[str(Path(d)) + "/" for d in readable]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def view_files() -> list[str]:
    """The public view definitions, in dependency order (events first)."""
    names = sorted(p.name for p in (resource_dir("queries") / "views").glob("*.sql"))
    names.sort(key=lambda n: n != "events.sql")
    return [f"views/{n}" for n in names]


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    for f in view_files():
        run_sql(con, f)


def is_duckdb_file(path: str | Path) -> bool:
    """DuckDB database files carry 'DUCK' at byte 8 (only regular files are read: a FIFO
    would block)."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[8:12] == b"DUCK"


def attach_loaded(path: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database that reads a database file written by `load`, read-only.

    The file is data, not a program: before anything stored in it runs, it must hold our
    ``anemoi_tp_meta`` table (a table, not a view) with our schema version; our public views
    are then created anew from queries/views/ in memory (they shadow any stored view), and the
    connection is locked down (``lock_down``). Analyses create their tables in memory; names
    they do not define resolve to the file's tables.
    """
    from .errors import InputError

    try:
        con = connect()
        con.execute("ATTACH ? AS loaded (READ_ONLY)", [str(path)])
    except duckdb.Error as exc:
        raise InputError(path, f"cannot open DuckDB file: {str(exc).splitlines()[0]}") from None
    check_loaded(con, path)
    lock_down(con)
    con.execute("SET search_path = 'memory.main,loaded.main'")
    create_views(con)
    return con


def check_loaded(con: duckdb.DuckDBPyConnection, path: str | Path) -> None:
    """InputError unless the attached ``loaded`` database was written by `load` with our
    schema version, and none of our tables is replaced by a view. Reads only the catalog and
    the meta table: nothing stored in the file runs."""
    from . import __version__
    from .catalog import relations
    from .errors import InputError

    stored = dict(con.execute(
        "SELECT table_name, 'table' FROM duckdb_tables() WHERE database_name = 'loaded' "
        "UNION ALL SELECT view_name, 'view' FROM duckdb_views() "
        "WHERE database_name = 'loaded' AND NOT internal").fetchall())
    if stored.get(META_TABLE) != "table":
        raise InputError(path, "not a database written by `anemoi-tp load` (no anemoi_tp_meta "
                               "table): load the trace with `anemoi-tp load TRACE -o FILE`")
    row = con.execute(f"SELECT schema_version, tool_version FROM loaded.main.{META_TABLE}").fetchall()
    version, tool = row[0] if len(row) == 1 else (None, None)
    if version != SCHEMA_VERSION:
        raise InputError(path, f"written by anemoi-tp {tool} with schema version {version}; "
                               f"anemoi-tp {__version__} reads version {SCHEMA_VERSION}: load the "
                               "trace again")
    ours = {n for n, r in relations().items() if r.kind == "table"}
    faked = sorted(n for n, kind in stored.items() if kind == "view" and n in ours)
    if faked:
        raise InputError(path, f"not a database written by `anemoi-tp load` ({faked[0]} is a "
                               "view, not a table)")


def relation_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables and views of every attached database (not the temporary ones), read once:
    cheaper than a has_relation per name where many are asked (a catalogue read is ~1 ms)."""
    return {n for (n,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
        "UNION SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary").fetchall()}


def has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """A table or view ``name`` in any attached database (not the temporary ones)."""
    return name in relation_names(con)


def fetch_dicts(con: duckdb.DuckDBPyConnection, relation: str) -> list[dict]:
    """Every row of one of our views or tables (never user input) as a dict; NaN as None."""
    cur = con.execute(f"SELECT * FROM {relation}")
    cols = [d[0] for d in cur.description]
    return [{c: (None if isinstance(v, float) and math.isnan(v) else v) for c, v in zip(cols, row)}
            for row in cur.fetchall()]
