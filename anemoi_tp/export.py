"""Write the public views and the analysis tables to one CSV or Parquet file each."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

from .catalog import PUBLIC, relations
from .database import has_relation
from .errors import InputError
from .persist import PERSISTED_FILES, VERSIONS_TABLE

FORMATS = ("csv", "parquet")


def export_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The public views, then every documented analysis, rule and memory table or view that
    ``con`` holds (in the order their SQL files run), then `analysis_versions` where stored."""
    by_file: dict[str, list[str]] = {}
    for rel in relations().values():
        by_file.setdefault(rel.file, []).append(rel.name)
    names = list(PUBLIC)
    for f in PERSISTED_FILES:
        names += [n for n in by_file.get(f, []) if n not in names]
    names.append(VERSIONS_TABLE)
    return [n for n in names if has_relation(con, n)]


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_tables(con: duckdb.DuckDBPyConnection, out_dir: str | Path, fmt: str = "csv",
                  force: bool = False) -> list[tuple[str, Path, int]]:
    """Write each relation of `export_names` to ``out_dir/NAME.csv`` (with a header) or
    ``NAME.parquet``; returns (name, file, rows). Each file is written under a temporary name
    and renamed when complete; existing files are replaced only with ``force``."""
    if fmt not in FORMATS:
        raise InputError(None, f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a directory")
    names = export_names(con)
    targets = [(n, out / f"{n}.{fmt}") for n in names]
    clash = [str(p) for _, p in targets if p.exists()]
    if clash and not force:
        raise InputError(clash[0], f"exists already ({len(clash)} file(s); use --force to replace them)")
    out.mkdir(parents=True, exist_ok=True)
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    written = []
    for name, path in targets:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            # names come from the SQL files' documentation, never from the user
            con.execute(f'COPY (SELECT * FROM "{name}") TO {_quote(tmp)} ({options})')
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        written.append((name, path, rows))
    return written
