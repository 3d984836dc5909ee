"""Resource bombs (issue 12, class 5): a pickle of shared references, deep or self-referring
pickles, integers beyond 64 bits, gzip bombs and a full TMPDIR fail fast, in bounded memory,
with one line and exit 2, and leave nothing behind."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zlib

import pytest

from conftest import write_trace

# runs the CLI in a child and reports its peak RSS (VmHWM) on the last line of stderr
CHILD = r"""
import sys
from anemoi_tp.cli import main
sys.argv = ["anemoi-tp"] + sys.argv[1:]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(f"VMHWM_KB {hwm}", file=sys.stderr)
sys.exit(code)
"""


def run_measured(*args: str, env: dict | None = None) -> tuple[int, list[str], int]:
    """(exit code, stderr lines without the RSS line, peak RSS in MB)."""
    r = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=120, env=env)
    lines = r.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("VMHWM_KB "), r.stderr
    return r.returncode, lines[:-1], int(lines[-1].split()[1]) // 1024


def _segment(blocks):
    return {"device": 0, "address": 0, "total_size": 1 << 20, "stream": 0, "segment_type": "large", "blocks": blocks}


def test_a_pickle_of_repeated_references_fails_fast_in_bounded_memory(tmp_path):
    # one block referenced 1000 times by one segment referenced 1000 times: 4 KB of pickle,
    # a million block rows (it took 861 MB and loaded them all before the bound)
    block = {"size": 512, "state": "active_allocated", "frames": [{"filename": "a.py", "line": 1, "name": "f"}]}
    data = pickle.dumps({"segments": [_segment([block] * 1000)] * 1000, "device_traces": []}, protocol=4)
    assert len(data) < 5000
    path = tmp_path / "bomb.pickle"
    path.write_bytes(data)
    code, err, rss_mb = run_measured("memory", str(path))
    assert code == 2
    assert err == [
        f"error: {path}: not a memory snapshot: more than 1,033,856 values once its "
        "shared references are expanded (a pickle bomb?); refused"
    ]
    assert rss_mb < 250  # the interpreter with duckdb is ~75 MB


@pytest.mark.parametrize(
    "value, words",
    [
        ({"segments": [_segment([{"size": 1 << 64}])]}, "an integer beyond 64 bits"),
        ({"segments": [_segment([{"size": -(1 << 64)}])]}, "an integer beyond 64 bits"),
        (
            {"segments": [], "x": __import__("functools").reduce(lambda a, _: [a], range(100), [])},
            "nested deeper than 64",
        ),
    ],
)
def test_bounded_pickles(tmp_path, value, words):
    path = tmp_path / "s.pickle"
    path.write_bytes(pickle.dumps(value))
    code, err, _ = run_measured("memory", str(path))
    assert code == 2 and len(err) == 1 and words in err[0], err


def test_a_pickle_that_contains_itself_is_refused(tmp_path):
    loop: list = []
    loop.append(loop)
    path = tmp_path / "s.pickle"
    path.write_bytes(pickle.dumps({"segments": [], "device_traces": [loop]}))
    code, err, _ = run_measured("memory", str(path))
    assert (code, err) == (2, [f"error: {path}: not a memory snapshot: a value contains itself; refused"])


def _gzip_stream(path, head: bytes, filler: bytes, n: int, tail: bytes = b"") -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header
    with open(path, "wb") as f:
        f.write(comp.compress(head))
        for _ in range(n):
            f.write(comp.compress(filler))
        f.write(comp.compress(tail) + comp.flush())


def test_a_gzip_of_zeros_is_refused_at_its_head(tmp_path):
    # 256 MiB of zeros in ~256 KB: refused from the first inflated chunk, nothing left in TMPDIR
    path = tmp_path / "zeros.json.gz"
    _gzip_stream(path, b"", b"\0" * (1 << 20), 256)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code, err, rss_mb = run_measured("report", str(path), env=dict(os.environ, TMPDIR=str(tmp)))
    assert (code, err) == (2, [f"error: {path}: not a trace: the gzip data does not start like JSON"])
    assert list(tmp.iterdir()) == []


def test_a_gzip_bomb_that_starts_like_json_is_refused_by_its_ratio(tmp_path):
    # '[' + 128 MiB of blanks + ']': a valid, empty trace that inflates 1000x; refused once 64 MiB
    # are out (it used to be inflated whole, then "no usable trace events")
    path = tmp_path / "blanks.json.gz"
    _gzip_stream(path, b"[", b" " * (1 << 20), 128, b"]")
    assert path.stat().st_size < (1 << 20)
    code, err, _ = run_measured("report", str(path))
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {path}: gzip data expands more than 250x (a gzip bomb?)"), err


def test_a_full_tmpdir_says_so(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs (needs root)")
    try:
        events = [
            {"ph": "X", "cat": "cpu_op", "name": f"op{i}", "pid": 1, "tid": 1, "ts": i, "dur": 1} for i in range(40000)
        ]
        path = write_trace(tmp_path / "t.json.gz", events, compress=True)  # ~4 MB inflated
        code, err, _ = run_measured("report", str(path), env=dict(os.environ, TMPDIR=str(mnt)))
        # it used to say "corrupt or truncated gzip data ([Errno 28] No space left on device)"
        assert (code, err) == (2, [f"error: {path}: no space left in TMPDIR ({mnt})"])
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
