"""The compiled Perfetto module cache (issue 12, class 4): verified with a per-user HMAC before
it is deserialised (a changed file is recompiled, with a warning, never run), and a cache
folder that cannot be written falls back to a per-user temporary folder, said on stderr."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import write_trace


def _perfetto_query(trace, env):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "anemoi_tp",
            "query",
            "--perfetto",
            str(trace),
            "SELECT count(*) AS n FROM slice",
            "-f",
            "csv",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_cache_falls_back_and_is_verified(tmp_path):
    trace = write_trace(tmp_path / "t.json", [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 1, "dur": 2}])
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a cache path below a file: cannot be created, even by root
    env = dict(os.environ, ANEMOI_TP_CACHE=str(blocker / "cache"), TMPDIR=str(tmp))
    fallback = tmp / f"anemoi-tp-cache-{os.getuid()}"
    note = (
        f"warning: cache folder {blocker / 'cache'} is not writable; caching the compiled "
        f"Perfetto module in {fallback} (set ANEMOI_TP_CACHE to choose)"
    )

    first = _perfetto_query(trace, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "n\n1\n"
    assert note in first.stderr.splitlines()
    assert oct(fallback.stat().st_mode & 0o777) == "0o700"
    assert oct((fallback / "cache.key").stat().st_mode & 0o777) == "0o600"
    (cwasm,) = fallback.glob("*.cwasm")
    stamp = cwasm.stat().st_mtime_ns, cwasm.stat().st_ino

    second = _perfetto_query(trace, env)  # the fallback is used: not compiled, not rewritten
    assert second.returncode == 0 and second.stdout == "n\n1\n"
    assert second.stderr.splitlines() == [note]
    assert (cwasm.stat().st_mtime_ns, cwasm.stat().st_ino) == stamp

    blob = bytearray(cwasm.read_bytes())  # flip bytes in the middle of the machine code
    mid = len(blob) // 2
    blob[mid : mid + 64] = bytes(b ^ 0xFF for b in blob[mid : mid + 64])
    cwasm.write_bytes(bytes(blob))
    third = _perfetto_query(trace, env)  # used to be a segfault (exit 139)
    assert third.returncode == 0 and third.stdout == "n\n1\n", third.stderr
    assert third.stderr.splitlines() == [
        note,
        (f"warning: the cached Perfetto module {cwasm} failed its integrity check (changed on disk); recompiling it"),
    ]
    assert cwasm.read_bytes() != bytes(blob)  # recompiled and stored again

    fourth = _perfetto_query(trace, env)  # and trusted again
    assert fourth.returncode == 0 and fourth.stderr.splitlines() == [note]
