"""Stopping: Ctrl-C, SIGTERM (SLURM, `timeout`) and SIGHUP (a closed terminal) all unwind the
work like an exception, so that every ``finally`` removes what it made (the temporary
database and its .wal, the temporary folders with decompressed copies and FIFOs); the CLI
then prints "aborted" and exits 128 + the signal number (130, 143, 129).

A process killed outright (SIGKILL, a power cut) cleans nothing: its temporary folders, named
``anemoi-tp-<pid>-…`` in $TMPDIR, are removed by the next run once that pid is gone
(``sweep_stale_temp_dirs``; the temporary databases beside an output: ``writer.py``).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

# the signal that stopped the run, first one only (a second Ctrl-C does not change the status)
received: list[int] = []
TEMP_PREFIX = "anemoi-tp-"
_STALE = re.compile(rf"^{re.escape(TEMP_PREFIX)}(\d+)-")


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by a stopping signal (a KeyboardInterrupt, so that DuckDB
    interrupts a running query, and ``except Exception`` blocks let it pass)."""


def _handler(signum: int, frame) -> None:
    if not received:
        received.append(signum)
    raise Stopped(signal.Signals(signum).name)


def install() -> None:
    """SIGINT, SIGTERM and SIGHUP raise ``Stopped`` in the main thread."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, _handler)


def stopped_status() -> int | None:
    """128 + the signal number, where a signal stopped the run."""
    return 128 + received[0] if received else None


def temp_prefix() -> str:
    """The prefix of this process's temporary folders and files (the pid makes them
    sweepable once the process is gone)."""
    return f"{TEMP_PREFIX}{os.getpid()}-"


def pid_alive(pid: int) -> bool:
    """Whether a process of that pid runs (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temp_dirs(tmpdir: str | None = None) -> None:
    """Remove ``anemoi-tp-<pid>-*`` folders and files in $TMPDIR whose process is gone."""
    root = Path(tmpdir or tempfile.gettempdir())
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for p in entries:
        m = _STALE.match(p.name)
        if not m or int(m.group(1)) == os.getpid() or pid_alive(int(m.group(1))):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
        except OSError:
            pass  # someone else's, or already gone
