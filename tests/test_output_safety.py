"""`-o` through the real CLI: never an input, FIFOs and devices written in place, links
followed, modes kept, folders checked before any work, one lock per database (writer.py)."""
from __future__ import annotations

import os
import stat
import subprocess
import threading

from conftest import EVENTS, write_trace
from test_cli import run

SQL = "SELECT count(*) AS n FROM events"
EXPECTED_CSV = "n\n2\n"  # the two events of EVENTS


def _one_error(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for w in words:
        assert w in lines[0], r.stderr


def test_report_refuses_to_overwrite_its_trace(trace):
    before = trace.read_bytes()
    r = run("report", str(trace), "-o", str(trace))
    _one_error(r, str(trace), "is an input")
    assert trace.read_bytes() == before


def test_refuses_a_trace_of_an_input_folder_and_a_link_to_it(tmp_path):
    d = tmp_path / "run"
    write_trace(d / "r0.json", EVENTS, distributedInfo={"rank": 0})
    (tmp_path / "link.json").symlink_to(d / "r0.json")
    before = (d / "r0.json").read_bytes()
    _one_error(run("report", str(d), "-f", "json", "-o", str(d / "r0.json")), "is an input")
    _one_error(run("report", str(d), "-f", "json", "-o", str(tmp_path / "link.json")), "is an input")
    assert (d / "r0.json").read_bytes() == before


def test_report_refuses_the_database_it_reads_and_the_config(trace, tmp_path):
    db = tmp_path / "q.duckdb"
    assert run("load", str(trace), "-o", str(db)).returncode == 0
    before = db.read_bytes()
    _one_error(run("report", str(db), "-f", "json", "-o", str(db)), "is an input")
    _one_error(run("query", str(db), SQL, "-o", str(db)), "is an input")
    assert db.read_bytes() == before
    cfg = tmp_path / "c.toml"
    cfg.write_text("[thresholds]\n")
    _one_error(run("report", str(trace), "--config", str(cfg), "-o", str(cfg)), "is an input")
    assert cfg.read_text() == "[thresholds]\n"
    _one_error(run("load", str(trace), "-o", str(trace), "--force"), "is an input")


def test_fifo_is_written_in_place(trace, tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    r = run("query", str(trace), SQL, "-f", "csv", "-o", str(fifo))
    reader.join(30)
    if reader.is_alive():  # nothing was written into the FIFO: release the reader
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not replaced by a file
    assert got == [EXPECTED_CSV]


def test_link_to_a_device_is_written_through(trace, tmp_path):
    link = tmp_path / "sink"
    link.symlink_to("/dev/null")
    r = run("query", str(trace), SQL, "-o", str(link))
    assert r.returncode == 0, r.stderr
    assert os.path.islink(link) and os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dash_is_stdout(trace, tmp_path):
    r = run("query", str(trace), SQL, "-f", "csv", "-o", "-", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == EXPECTED_CSV
    assert not (tmp_path / "-").exists()


def test_link_to_a_file_replaces_the_file_not_the_link(trace, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    r = run("query", str(trace), SQL, "-f", "csv", "-o", str(link))
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and real.read_text() == EXPECTED_CSV


def test_mode_of_an_existing_file_is_kept(trace, tmp_path):
    out = tmp_path / "secret.csv"
    out.write_text("old\n")
    out.chmod(0o600)
    r = run("query", str(trace), SQL, "-f", "csv", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_text() == EXPECTED_CSV
    db = tmp_path / "x.duckdb"
    db.write_bytes(b"")
    db.chmod(0o640)
    assert run("load", str(trace), "-o", str(db), "--force").returncode == 0
    assert stat.S_IMODE(db.stat().st_mode) == 0o640


def test_a_directory_is_an_error(trace, tmp_path):
    _one_error(run("report", str(trace), "-o", str(tmp_path / "newdir") + "/"), "is a directory")
    assert not (tmp_path / "newdir").exists()
    _one_error(run("report", str(trace), "-o", str(tmp_path)), "is a directory")
    _one_error(run("load", str(trace), "-o", str(tmp_path / "d") + "/"), "is a directory")
    assert not (tmp_path / "d").exists()


def test_missing_folder_fails_before_any_work(tmp_path):
    # the trace does not exist either: the output's folder is checked first
    r = run("report", str(tmp_path / "absent.json"), "-o", str(tmp_path / "no" / "r.txt"))
    _one_error(r, "r.txt", "does not exist")
    r = run("load", str(tmp_path / "absent.json"), "-o", str(tmp_path / "no" / "t.duckdb"))
    _one_error(r, "t.duckdb", "does not exist")


def test_failed_write_leaves_no_temporary(trace, tmp_path):
    r = run("query", str(trace), "SELECT nope", "-o", str(tmp_path / "r.csv"))
    assert r.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]
