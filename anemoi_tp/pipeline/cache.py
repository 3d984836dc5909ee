"""The content-keyed cache of per-rank results.

One entry per rank map (``rankmap.py``): a folder of Parquet files and ``entry.json``, named by
a key over the content of the rank's files (xxh3-128 of their bytes, and their sizes), their
paths and set-wide file ids, the rank, the engine, the settings that change per-rank tables
(patterns, module depth) and the versions of anemoi-tp and of every query file. A later run
with the same inputs reads the entry instead of loading and analysing the rank again; another
threshold or output format does not change the key (rules run in the reduce).

An entry is written under a temporary name in the cache folder and renamed into place: a
killed run leaves no half entry (its temporary folder, named for its pid, is swept by a
later run), and of two runs writing one entry the second finds it there and drops its own.

Where: ``ANEMOI_TP_CACHE``, else ``$XDG_CACHE_HOME/anemoi-tp``, else ``~/.cache/anemoi-tp``.
``--no-cache`` uses a temporary folder removed at the end of the run.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..signals import TEMP_PREFIX, pid_alive

LAYOUT = "v1"  # raise when the entry layout changes: old entries are then ignored
ENTRY_FILE = "entry.json"
# the raw events of a rank entry: an entry of their own, named for it with this suffix (rankmap.py)
EVENTS_SUFFIX = "-events"
_CHUNK = 8 << 20
# a file written this recently may still change within its mtime's tick: hashed, not remembered
_SETTLED_NS = 2_000_000_000
SMALL = ("probe", "stat")  # folders of small files written whole (``_put``)


def default_root() -> Path:
    env = os.environ.get("ANEMOI_TP_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "anemoi-tp" if xdg else Path.home() / ".cache" / "anemoi-tp"


def content_key(path: str | Path) -> str:
    """xxh3-128 of the file's bytes, and its size: the file's identity for the cache."""
    import xxhash

    h = xxhash.xxh3_128()
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
    return f"{h.hexdigest()}-{size}"


def content_size(ckey: str) -> int:
    """The file size a content key (``content_key``) records."""
    return int(ckey.rsplit("-", 1)[1])


def entry_key(parts: dict) -> str:
    """A key over JSON-able parts (sorted keys): the folder name of an entry."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass
class Cache:
    """The cache folder (``root``); ``temporary`` ones are removed by ``close``."""

    root: Path
    temporary: bool = False

    @classmethod
    def open(cls, root: str | Path | None = None, enabled: bool = True) -> Cache:
        if not enabled:
            return cls(Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-cache-")), temporary=True)
        root = Path(root) if root is not None else default_root()
        try:
            (root / LAYOUT / "ranks").mkdir(parents=True, exist_ok=True)
            (root / LAYOUT / "tmp").mkdir(parents=True, exist_ok=True)
            for name in SMALL:
                (root / LAYOUT / name).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(root, f"cannot use the cache folder ({exc.strerror}); set "
                                   "ANEMOI_TP_CACHE to a writable folder or use --no-cache") from None
        cache = cls(root)
        cache.sweep()
        return cache

    @property
    def base(self) -> Path:
        return self.root / LAYOUT

    def entry(self, key: str) -> Path:
        return self.base / "ranks" / key

    def get(self, key: str) -> Path | None:
        """The entry's folder where it is complete (its entry.json is written last)."""
        path = self.entry(key)
        return path if (path / ENTRY_FILE).is_file() else None

    def new_temp(self, key: str) -> Path:
        """A folder to write an entry into (then ``commit``); named for this pid."""
        (self.base / "tmp").mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{key[:12]}-", dir=self.base / "tmp"))

    def commit(self, tmp: Path, key: str) -> Path:
        """Rename a written entry into place; where another run was first, keep theirs."""
        target = self.entry(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if self.get(key) is None:
                raise
        return target

    def probe_get(self, ckey: str) -> dict | None:
        try:
            return json.loads((self.base / "probe" / f"{ckey}.json").read_text())
        except (OSError, ValueError):
            return None

    def probe_put(self, ckey: str, value: dict) -> None:
        self._put("probe", f"{ckey}.json", json.dumps(value))

    def content_key(self, path: str | Path) -> str:
        """``content_key(path)``, remembered by the file's identity (its real path, device,
        inode, size, mtime and ctime in ns), as git's index and ccache do: a rerun hashes only
        the files changed since. A write changes the ctime even where the mtime is set back.
        Not remembered: a file that changed while it was hashed, or written in the last 2 s."""
        before = os.stat(path)
        memo = entry_key({"path": os.path.realpath(path), "dev": before.st_dev, "ino": before.st_ino,
                          "size": before.st_size, "mtime": before.st_mtime_ns, "ctime": before.st_ctime_ns})
        if not self.temporary:
            try:
                known = (self.base / "stat" / memo).read_text()
                if content_size(known) == before.st_size:
                    return known
            except (OSError, ValueError, IndexError):
                pass
        key = content_key(path)
        after = os.stat(path)
        settled = time.time_ns() - after.st_mtime_ns > _SETTLED_NS
        same = (after.st_size, after.st_mtime_ns, after.st_ctime_ns) == \
               (before.st_size, before.st_mtime_ns, before.st_ctime_ns)
        if not self.temporary and settled and same:
            self._put("stat", memo, key)
        return key

    def _put(self, folder_name: str, name: str, text: str) -> None:
        """Write a small file whole: under a temporary name (swept if this pid dies), then renamed."""
        folder = self.base / folder_name
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, folder / name)

    def sweep(self) -> None:
        """Remove temporary entries of processes that are gone (killed runs)."""
        for folder in (self.base / "tmp", *(self.base / n for n in SMALL)):
            try:
                names = list(folder.iterdir())
            except OSError:
                continue
            for p in names:
                parts = p.name.split("-")
                if not p.name.startswith(TEMP_PREFIX) or len(parts) < 3 or not parts[2].isdigit():
                    continue
                if pid_alive(int(parts[2])):
                    continue
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)

    def info(self) -> dict:
        """Where the cache is, its entries and their size."""
        entries, events, size = 0, 0, 0
        for p in (self.base / "ranks").glob("*"):
            if (p / ENTRY_FILE).is_file():
                if p.name.endswith(EVENTS_SUFFIX):
                    events += 1
                else:
                    entries += 1
            size += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        probes = sum(1 for _ in (self.base / "probe").glob("*.json"))
        return {"path": str(self.root), "entries": entries, "events_entries": events, "bytes": size,
                "probes": probes}

    def clear(self) -> int:
        """Remove every entry (and the probes and remembered hashes); returns the rank entries
        removed (the raw events' entries go with them)."""
        n = 0
        for p in list((self.base / "ranks").glob("*")):
            shutil.rmtree(p, ignore_errors=True)
            n += not p.name.endswith(EVENTS_SUFFIX)
        for name in SMALL:
            shutil.rmtree(self.base / name, ignore_errors=True)
            (self.base / name).mkdir(parents=True, exist_ok=True)
        return n

    def close(self) -> None:
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)
