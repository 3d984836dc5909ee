"""A .duckdb file is data, not a program: databases not written by `load` are refused (exit 2),
stored views never run for the report's numbers, and user SQL reads and writes no file."""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pytest

from anemoi_tp.database import connect, spill_dir

from conftest import EVENTS, write_trace
from test_cli import run

SECRET = "s3cr3t-host-7f2a"


def _one_error(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for w in words:
        assert w in lines[0], r.stderr


@pytest.fixture
def db(tmp_path) -> Path:
    trace = write_trace(tmp_path / "t.json", EVENTS,
                        distributedInfo={"rank": 0, "world_size": 1}, host_name="node-a")
    out = tmp_path / "t.duckdb"
    r = run("load", str(trace), "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _tamper(db: Path, *sql: str) -> None:
    con = duckdb.connect(str(db))
    for s in sql:
        con.execute(s)
    con.close()


def test_a_crafted_ranks_view_does_not_leak_a_local_file(db, tmp_path):
    secret = tmp_path / "hostname"
    secret.write_text(SECRET)
    _tamper(db, "CREATE OR REPLACE VIEW ranks AS SELECT 0 AS rank, content AS host "
                f"FROM read_text('{secret}')")
    r = run("report", str(db), "-f", "json")
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert json.loads(r.stdout)["metadata"]["ranks"][0]["host"] == "node-a"  # from the stored table
    r = run("query", str(db), "SELECT * FROM loaded.main.ranks")  # the stored view itself
    _one_error(r, "query failed", "disabled by configuration")
    assert SECRET not in r.stdout + r.stderr


def test_user_sql_cannot_attach_copy_or_install(db, tmp_path):
    before = _digest(db)
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    other_before = _digest(other)
    cases = [f"ATTACH '{db}' AS w (READ_WRITE); CREATE TABLE w.evil AS SELECT 1",
             f"ATTACH '{other}' AS w (READ_WRITE); CREATE TABLE w.evil AS SELECT 1",
             f"COPY (SELECT * FROM events) TO '{tmp_path / 'copy.csv'}'",
             "INSTALL httpfs", "LOAD httpfs",
             "SET enable_external_access = true",
             f"SELECT * FROM read_text('{db}')"]
    for sql in cases:
        _one_error(run("query", str(db), sql), "query failed")
    assert _digest(db) == before and _digest(other) == other_before
    assert not (tmp_path / "copy.csv").exists()
    # the same on a trace loaded in memory
    _one_error(run("query", str(tmp_path / "t.json"), f"COPY events TO '{tmp_path / 'c2.csv'}'"),
               "query failed")
    assert not (tmp_path / "c2.csv").exists()


def test_our_own_database_still_answers(db):
    r = run("query", str(db), "SELECT rank, host FROM ranks", "-f", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"rank": 0, "host": "node-a"}]


def _foreign_db(path: Path) -> Path:
    """A DuckDB database that `load` did not write."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE events (x INTEGER)")
    con.close()
    return path


def _refused_as_foreign(db: Path) -> None:
    for cmd in (("report", str(db)), ("query", str(db), "SELECT 1"), ("memory", str(db))):
        _one_error(run(*cmd), str(db), "not a database written by `anemoi-tp load`")


def test_a_database_not_written_by_load_is_refused(tmp_path):
    _refused_as_foreign(_foreign_db(tmp_path / "foreign.duckdb"))


def test_another_schema_version_is_refused(db):
    _tamper(db, "UPDATE anemoi_tp_meta SET schema_version = 99")
    _one_error(run("report", str(db)), str(db), "schema version 99")
    _one_error(run("query", str(db), "SELECT 1"), "schema version 99")


def test_a_meta_view_or_a_table_replaced_by_a_view_is_refused(db, tmp_path):
    _tamper(db, "DROP TABLE trace_events",
            "CREATE VIEW trace_events AS SELECT * FROM read_text('/etc/hostname')")
    _one_error(run("report", str(db)), "trace_events is a view")
    _tamper(db, "DROP TABLE anemoi_tp_meta",
            "CREATE VIEW anemoi_tp_meta AS SELECT 1 AS schema_version, 'x' AS tool_version")
    _one_error(run("report", str(db)), "no anemoi_tp_meta table")


def test_an_in_memory_database_spills_to_its_own_folder_not_the_working_directory(tmp_path, monkeypatch):
    # DuckDB's default spill folder is .tmp in the working directory: here a file of that
    # name makes it fail ("Failed to create directory"); ours lies in $TMPDIR
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").write_text("not a folder")
    con = connect()
    con.execute("SET memory_limit = '30MB'; SET threads = 1")
    n = con.execute("SELECT count(*) FROM (SELECT i, md5(i::VARCHAR) AS m FROM range(3000000) t(i) "
                    "ORDER BY m)").fetchone()[0]
    assert n == 3_000_000
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == spill_dir()
    assert spill_dir().startswith(tempfile.gettempdir())


def test_a_database_whose_checksum_starts_like_a_pickle_is_a_database(tmp_path):
    # A DuckDB file opens with an 8-byte checksum, so 1 in 256 begins with 0x80, pickle's
    # PROTO opcode: such a file is still read as a database (here a foreign one, refused as
    # such), not refused as "a pickle"
    for i in range(3000):
        foreign = _foreign_db(tmp_path / f"foreign{i}.duckdb")
        if foreign.read_bytes()[:1] == b"\x80":
            break
        foreign.unlink()
    else:  # pragma: no cover - (255/256)^3000 < 1e-5
        pytest.skip("no DuckDB file starting with 0x80 in 3000 tries")
    _refused_as_foreign(foreign)
