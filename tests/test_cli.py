"""The command line, run as a user runs it (a subprocess): output formats and bad input."""
from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EVENTS, write_trace


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "anemoi_tp", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_query_json_is_an_array_of_row_objects(trace):
    r = run("query", str(trace), "SELECT name, dur, args FROM gpu_activities JOIN gpu_activity_args "
            "USING (activity_id)", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        {"name": "k<1>", "dur": 10000, "args": {"correlation": 3, "device": 0, "stream": 7}}]


def test_query_csv_and_table(trace):
    r = run("query", str(trace), "SELECT ph, count(*) AS n FROM events GROUP BY ph ORDER BY ph",
            "-f", "csv")
    assert list(csv.reader(io.StringIO(r.stdout))) == [["ph", "n"], ["X", "2"]]
    r = run("query", str(trace), "SELECT 'a' AS x, NULL AS y")
    assert r.stdout.splitlines() == ["x  y", "-  ----", "a  NULL", "(1 row)"]


def test_load_then_query_the_database(trace, tmp_path):
    db = tmp_path / "t.duckdb"
    r = run("load", str(trace), "-o", str(db))
    assert r.returncode == 0, r.stderr
    assert "loaded 1 file(s), 2 events" in r.stderr
    r = run("query", str(db), "SELECT launch_name FROM gpu_activities", "-f", "json")
    assert json.loads(r.stdout) == [{"launch_name": "cudaLaunchKernel"}]
    r = run("load", str(trace), "-o", str(db))
    assert r.returncode == 2 and "exists already" in r.stderr


def test_tables_documents_every_public_view():
    r = run("tables")
    assert r.returncode == 0
    for name in ("events", "gpu_activities", "gpu_activity_args", "flows", "ranks", "devices",
                 "ingest_issues"):
        assert f"\n{name}  (" in "\n" + r.stdout
    assert "launch_name" in r.stdout and "correlation" in r.stdout


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    (tmp / "empty.json").write_bytes(b"")
    (tmp / "trunc.json").write_text('{"traceEvents": [{"ph": "X", "ts": 1, "dur": 1}, {"ph": "X", "na')
    (tmp / "fake.json.gz").write_text('{"traceEvents": []}')
    with gzip.open(tmp / "cut.json.gz", "wb") as f:
        f.write(json.dumps({"traceEvents": EVENTS * 200}).encode())
    data = (tmp / "cut.json.gz").read_bytes()
    (tmp / "cut.json.gz").write_bytes(data[: len(data) // 2])
    (tmp / "other.json").write_text('{"name": "package.json", "version": "1.0"}')
    (tmp / "nodir").mkdir()
    (tmp / "nodir" / "notes.txt").write_text("hello")
    dup = tmp / "dup"
    write_trace(dup / "a.json", EVENTS, distributedInfo={"rank": 3})
    write_trace(dup / "b.json", EVENTS, distributedInfo={"rank": 3})
    return {
        "empty file": (tmp / "empty.json", "empty file"),
        "truncated JSON": (tmp / "trunc.json", "truncated"),
        ".gz that is not gzip": (tmp / "fake.json.gz", "not gzip"),
        "truncated gzip": (tmp / "cut.json.gz", "gzip"),
        "JSON that is not a trace": (tmp / "other.json", "not a trace"),
        "directory with no traces": (tmp / "nodir", "no trace files"),
        "missing path": (tmp / "missing.json", "no such file"),
        "duplicate ranks": (dup, "duplicate rank 3"),
    }


@pytest.mark.parametrize("case", ["empty file", "truncated JSON", ".gz that is not gzip",
                                  "truncated gzip", "JSON that is not a trace",
                                  "directory with no traces", "missing path", "duplicate ranks"])
def test_bad_input_one_line_exit_2_nothing_left(tmp_path, case):
    path, words = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out" / "t.duckdb"
    out.parent.mkdir()
    r = run("load", str(path), "-o", str(out))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and words in lines[0]
    assert "Traceback" not in r.stderr
    named = str(path) if case != "duplicate ranks" else str(path / "b.json")
    assert named in lines[0]
    assert list(out.parent.iterdir()) == []  # no output, no temporary left behind


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "empty.json").write_bytes(b"")
    r = run("--debug", "query", str(tmp_path / "empty.json"), "SELECT 1")
    assert r.returncode == 2 and "Traceback" in r.stderr and "InputError" in r.stderr


def test_bad_sql_is_bad_input(trace):
    r = run("query", str(trace), "SELECT nope FROM events")
    assert r.returncode == 2 and r.stderr.startswith("error: query failed:")
    assert len(r.stderr.strip().splitlines()) == 1
