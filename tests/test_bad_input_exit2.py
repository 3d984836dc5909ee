"""Bad input that used to end in an internal error (exit 1, or a hang): each is now one line
naming the file, exit 2 (through the real CLI)."""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import write_trace

EVENTS = [
    {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 1.0,
     "dur": 2.0, "args": {"correlation": 3}},
    {"ph": "X", "cat": "kernel", "name": "k<1>", "pid": 0, "tid": 7, "ts": 5.0, "dur": 10.0,
     "args": {"correlation": 3, "device": 0, "stream": 7}},
]
# root reads any file: drop the capabilities that allow it, where setpriv can
_NO_DAC = (["setpriv", "--bounding-set=-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search"]
           if os.geteuid() == 0 and shutil.which("setpriv") else [])


def run(*args: str, as_user: bool = False) -> subprocess.CompletedProcess:
    pre = _NO_DAC if as_user else []
    return subprocess.run([*pre, sys.executable, "-m", "anemoi_tp", *args], capture_output=True,
                          text=True, timeout=60)


def _one_error(r: subprocess.CompletedProcess, path: Path | str, *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), r.stderr
    for w in words:
        assert w in lines[0], r.stderr


@pytest.fixture
def trace(tmp_path):
    return write_trace(tmp_path / "t.json", EVENTS, distributedInfo={"rank": 0})


def test_metadata_nested_10000_deep(tmp_path):
    p = tmp_path / "deep.json"
    p.write_text('{"x": ' + "[" * 10000 + "]" * 10000 + ', "traceEvents": []}')
    _one_error(run("report", str(p)), p, "nested too deeply")


def test_rank_beyond_int32(tmp_path):
    p = write_trace(tmp_path / "r.json", EVENTS, distributedInfo={"rank": 2**40})
    _one_error(run("report", str(p)), p, "distributedInfo.rank is out of range", "1099511627776")


@pytest.mark.skipif(os.geteuid() == 0 and not _NO_DAC, reason="root without setpriv reads anything")
def test_unreadable_file_and_folder(tmp_path):
    d = tmp_path / "run"
    write_trace(d / "a.json", EVENTS, distributedInfo={"rank": 0})
    write_trace(d / "b.json", EVENTS, distributedInfo={"rank": 1})
    (d / "b.json").chmod(0)
    _one_error(run("report", str(d), as_user=True), d / "b.json", "cannot read")
    (d / "b.json").chmod(0o644)
    d.chmod(0o311)  # can enter, cannot list
    try:
        r = run("report", str(d), as_user=True)  # click's own check of the argument says it
        assert r.returncode == 2 and f"'{d}' is not readable" in r.stderr, r.stderr
    finally:
        d.chmod(0o755)


def test_looping_link_named_like_a_trace_in_a_folder(tmp_path):
    d = tmp_path / "run"
    write_trace(d / "a.json", EVENTS, distributedInfo={"rank": 0})
    (d / "loop.json").symlink_to(d / "loop.json")  # not silently left out
    _one_error(run("report", str(d)), d / "loop.json", "not a readable regular file")


@pytest.mark.parametrize("dev", ["fifo", "/dev/null", "/dev/zero"])
def test_fifo_and_devices_as_trace(tmp_path, dev):
    if dev == "fifo":
        dev = str(tmp_path / "t.json")
        os.mkfifo(dev)
    _one_error(run("report", dev), dev, "not a regular file or directory")


def test_toml_thresholds_not_a_table(trace, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("thresholds = 5\n")
    _one_error(run("report", str(trace), "--config", str(cfg)), cfg, "must be tables")


def test_toml_not_utf8(trace, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b"# caf\xe9\n[thresholds]\n")
    _one_error(run("report", str(trace), "--config", str(cfg)), cfg, "not UTF-8")


def test_duckdb_not_written_by_load(tmp_path):
    db = tmp_path / "x.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE x (a INTEGER)").close()
    _one_error(run("report", str(db)), db, "not a database written by `anemoi-tp load`")


def test_query_json_of_a_deeply_nested_value(trace):
    sql = "SELECT (repeat('[', 5000) || repeat(']', 5000))::JSON AS args"
    _one_error(run("query", str(trace), sql, "-f", "json"), trace, "nested too deeply")


def test_snapshot_with_integers_beyond_64_bits(tmp_path):
    snap = {"segments": [{"device": 0, "address": 1 << 70, "total_size": 1 << 66, "stream": 0,
                          "segment_type": "large", "blocks": [
                              {"size": 1 << 65, "requested_size": 1 << 20,
                               "state": "active_allocated", "frames": []}]}],
            "device_traces": []}
    p = tmp_path / "s.pickle"
    p.write_bytes(pickle.dumps(snap))
    r = run("memory", str(p))
    _one_error(r, p, "an integer beyond 64 bits")
    assert "anemoi-tp-" not in r.stderr  # our temporary file is not named
