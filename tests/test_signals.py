"""Stopping a real `load` mid-way (subprocess, ~80 MB generated trace): SIGTERM / SIGHUP /
Ctrl-C print "aborted", exit 128 + the signal, and leave nothing behind; stale temporaries
of dead processes are swept; two loads into one file cannot both succeed."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anemoi_tp.demo import DemoConfig, generate_trace_set

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_ingest import BATCHES_PER_MB  # noqa: E402

# bench/bench_ingest.py: BATCHES_PER_MB batches make a MB; 2 ranks x 40 MB
BATCHES = round(40 * BATCHES_PER_MB)
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """Two ranks, ~80 MB of JSON (bench/bench_ingest.py's sizing): a load takes ~1.5 s here."""
    out = tmp_path_factory.mktemp("big") / "run"
    generate_trace_set(out, DemoConfig(ranks=2, batches=BATCHES, slow_rank=None))
    assert sum(f.stat().st_size for f in out.iterdir()) > 50e6
    return out


def _start(trace: Path, out: Path, tmpdir: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, TMPDIR=str(tmpdir))
    return subprocess.Popen([sys.executable, "-m", "anemoi_tp", "load", str(trace), "-o", str(out),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def _wait_for(pred, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert proc.poll() is None, f"finished before the signal: {proc.communicate()}"
        assert time.monotonic() < end, "load never got there"
        time.sleep(0.005)


def _parsing(tmpdir: Path) -> bool:
    """DuckDB reads the parts now: FIFOs (or part files) exist in our temporary folder."""
    for d in tmpdir.glob("anemoi-tp-*"):
        try:
            if any(stat.S_ISFIFO(p.lstat().st_mode) or p.name.startswith("part") for p in d.iterdir()):
                return True
        except OSError:
            pass
    return False


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129),
                                        (signal.SIGINT, 130)])
def test_signal_mid_load_cleans_up(big, tmp_path, sig, status):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _start(big, out_dir / "t.duckdb", tmpdir)
    _wait_for(lambda: _parsing(tmpdir), proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert err.strip().splitlines()[-1] == "aborted", err
    assert "internal error" not in err and "Traceback" not in err
    assert list(out_dir.iterdir()) == []  # no database, no .tmp, no .wal, no .lock
    assert list(tmpdir.iterdir()) == []  # no decompressed copy, no FIFO, no part


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_dead_processes_are_swept(tmp_path):
    from conftest import write_trace
    trace = write_trace(tmp_path / "t.json", [
        {"ph": "X", "cat": "kernel", "name": "k", "pid": 0, "tid": 7, "ts": 5.0, "dur": 10.0,
         "args": {"correlation": 3, "device": 0, "stream": 7}}], distributedInfo={"rank": 0})
    tmpdir, out_dir = tmp_path / "tmp", tmp_path / "out"
    tmpdir.mkdir()
    out_dir.mkdir()
    dead = _dead_pid()
    (tmpdir / f"anemoi-tp-{dead}-abc").mkdir()
    (tmpdir / f"anemoi-tp-{dead}-abc" / "decompressed.json").write_text("{}")
    os.mkfifo(tmpdir / f"anemoi-tp-{dead}-abc" / "part00000.json")
    (tmpdir / f"anemoi-tp-{dead}-x.ndjson").write_text("")
    live = tmpdir / f"anemoi-tp-{os.getpid()}-live"  # this test's process: alive, kept
    live.mkdir()
    (tmpdir / "anemoi-tp-bench-keep").mkdir()  # not ours: no pid
    (out_dir / f".t.duckdb.{dead}.tmp").write_bytes(b"x")
    (out_dir / f".t.duckdb.{dead}.tmp.wal").write_bytes(b"x")
    (out_dir / f".other.duckdb.{dead}.tmp").write_bytes(b"x")  # another output's: not touched
    proc = _start(trace, out_dir / "t.duckdb", tmpdir)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert sorted(p.name for p in tmpdir.iterdir()) == sorted(["anemoi-tp-bench-keep", live.name])
    assert sorted(p.name for p in out_dir.iterdir()) == [f".other.duckdb.{dead}.tmp", "t.duckdb"]


def test_two_loads_into_one_file_cannot_both_succeed(big, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "t.duckdb"
    first = _start(big, out, tmpdir)
    _wait_for(lambda: (tmp_path / ".t.duckdb.lock").exists(), first)
    second = _start(big, out, tmpdir, "--force")
    _, err2 = second.communicate(timeout=120)
    _, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert second.returncode == 2, err2
    assert err2.strip().splitlines() == [f"error: {out}: is being written by another anemoi-tp "
                                         "load (locked)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.duckdb", "tmp"]
