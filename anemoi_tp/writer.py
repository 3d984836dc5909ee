"""Every file a command writes (`-o`), through one place: checked before any work, never an
input, written whole or not at all.

``prepare_output`` runs first, before anything is read: it refuses an output that is one of
the inputs (the same file, or a file of an input folder: compared by device and inode, so
links and other spellings count), a directory (``-o newdir/`` or an existing folder: an
error, we do not guess a file name), and a folder that is missing or not writable. Then:

* ``-`` (or no ``-o``): standard output;
* a target that exists but is no regular file (a FIFO, a device, a link to one such as
  ``/dev/stdout``): written in place, as ``cat > target`` would;
* otherwise a regular file (a link to one is followed: the file it points to is replaced,
  the link stays): written to a temporary name beside it and renamed over it, keeping an
  existing file's permission bits (a new file gets 0666 less the umask).

A database (``load -o``) must be a regular file; ``database_file`` also locks it, so that two
loads into one file cannot both succeed (the second stops with exit 2; it does not wait), and
removes the temporary files of loads into it whose process is gone.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .signals import pid_alive

STDOUT = "-"


@dataclass
class Target:
    """Where a command's output goes: ``kind`` is 'stdout', 'inplace' (a FIFO or device) or
    'replace' (a regular file, written under a temporary name and renamed)."""

    given: str
    kind: str
    path: Path | None = None  # the file written (links resolved)
    mode: int = 0o644  # permission bits of the result ('replace')


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _input_identities(inputs: Iterable[str | Path | None]) -> dict[tuple[int, int], Path]:
    """(device, inode) of every input file, and of every file directly in an input folder."""
    found: dict[tuple[int, int], Path] = {}
    for given in inputs:
        if given is None:
            continue
        p = Path(given)
        ident = _identity(p)
        if ident is None:
            continue
        found[ident] = p
        if p.is_dir():
            try:
                entries = list(p.iterdir())
            except OSError:
                continue  # reading the input says what is wrong with it
            for f in entries:
                fid = _identity(f)
                if fid is not None:
                    found[fid] = f
    return found


def prepare_output(output: str | Path | None, inputs: Iterable[str | Path | None] = (),
                   database: bool = False) -> Target:
    """Check ``output`` before any work (see the module's docstring); InputError if unusable."""
    if output is None or str(output) == STDOUT:
        if database:
            raise InputError(STDOUT, "a database cannot be written to standard output: give a file name")
        return Target(STDOUT, "stdout")
    given = str(output)
    if given.endswith(("/", os.sep)) or os.path.isdir(given):
        raise InputError(given, "is a directory: -o takes a file name (e.g. DIR/report.json)")
    real = Path(os.path.realpath(given))
    ident = _identity(real)
    if ident is not None:
        same = _input_identities(inputs).get(ident)
        if same is not None:
            raise InputError(given, f"is an input ({same}): refusing to overwrite it")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(given, f"cannot write: {exc.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if database:
            raise InputError(given, "is not a regular file: a database needs one")
        if not os.access(real, os.W_OK):
            raise InputError(given, "is not writable")
        return Target(given, "inplace", real)
    folder = real.parent
    if not folder.is_dir():
        raise InputError(given, f"cannot write: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(given, f"cannot write: the folder {folder} is not writable")
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    return Target(given, "replace", real, mode)


def temp_name(path: Path) -> Path:
    """The temporary name a file is written under, beside it (the pid tells whose it is)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def write_text(target: Target, text: str) -> None:
    """Write ``text`` to the target: whole or not at all where it is a regular file."""
    if target.kind == "stdout":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    assert target.path is not None
    data = text.encode()
    try:
        if target.kind == "inplace":
            with open(target.path, "wb") as f:
                f.write(data)
            return
        tmp = temp_name(target.path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                os.fchmod(f.fileno(), target.mode)  # not subject to the umask
            os.replace(tmp, target.path)
        finally:
            _remove(tmp)
    except OSError as exc:
        raise InputError(target.given, f"cannot write: {exc.strerror or exc}") from None


def sweep_stale_temporaries(path: Path) -> None:
    """Remove the temporary files (and DuckDB's .wal) of earlier writes of ``path`` whose
    process is gone (killed with SIGKILL, a power cut)."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.tmp(\.wal)?$")
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for f in entries:
        m = pattern.match(f.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            _remove(f)


@contextmanager
def _locked(path: Path, given: str) -> Iterator[None]:
    """An exclusive lock on ``path`` (through ``.NAME.lock`` beside it), removed at the end."""
    import fcntl

    lock = path.with_name(f".{path.name}.lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(given, f"cannot lock: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(given, "is being written by another anemoi-tp load (locked)") from None
            raise InputError(given, f"cannot lock: {exc.strerror}") from None
        # the holder before us may have removed the lock file while we waited for it
        if _same_file(fd, lock):
            break
        os.close(fd)
    try:
        yield
    finally:
        _remove(lock)
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    st = os.fstat(fd)
    return _identity(path) == (st.st_dev, st.st_ino)


@contextmanager
def database_file(target: Target, force: bool) -> Iterator[Path]:
    """The temporary path to build a database at; renamed to the target when the block ends
    without an error, removed (with its .wal) otherwise. The target is locked throughout."""
    assert target.kind == "replace" and target.path is not None
    path = target.path
    with _locked(path, target.given):
        if path.exists() and not force:
            raise InputError(target.given, "exists already (use --force to replace it)")
        sweep_stale_temporaries(path)
        tmp = temp_name(path)
        wal = tmp.with_name(tmp.name + ".wal")
        _remove(tmp, wal)
        try:
            yield tmp
            os.chmod(tmp, target.mode)
            os.replace(tmp, path)
        finally:
            _remove(tmp, wal)
