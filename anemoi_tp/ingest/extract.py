"""Cut the ``traceEvents`` array out of a Kineto JSON file, in parts.

DuckDB's ``read_json(format='array')`` is the fast path for events (see DESIGN.md), but a
Kineto file is one object whose other top-level keys (``deviceProperties``,
``distributedInfo``, ``baseTimeNanoseconds``…) sit before and after the array. This module
finds the array by reading only the head and the tail of the document, parses the small keys
around it itself, and cuts the array into byte ranges of whole events. Each range becomes a
valid JSON array (``send_part``: ``[`` + the bytes + ``]``) that DuckDB parses on its own core,
either fed through a FIFO (``stream.py``) or written to a temporary file. Copies go through
the kernel (``sendfile``); a ``.gz`` is first decompressed to a temporary file, streaming.
Memory stays flat whatever the file size.
"""
from __future__ import annotations

import errno
import gzip
import json
import os
import re
import shutil
import tempfile
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from ..signals import temp_prefix

try:  # ISA-L's gzip: the same format, decompressed ~3x faster than zlib (measured here)
    from isal import igzip as _gzip
    from isal.isal_zlib import error as _IsalError
    GZIP_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, _IsalError)
except ImportError:  # pragma: no cover - isal is a dependency; a platform without its wheel
    _gzip = gzip
    GZIP_ERRORS = (OSError, EOFError, zlib.error)

# Parts: small enough that every core gets several (DuckDB parses one part per thread), large
# enough that there are not thousands.
MIN_PART = 4 << 20
MAX_PART = 32 << 20
WINDOW = 1 << 20
# The keys before the array (device properties of many GPUs, distributed info with many
# process groups) and after it are small; these bound how far we look.
MAX_HEAD = 256 << 20
MAX_TAIL = 256 << 20
GZIP_MAGIC = b"\x1f\x8b"
# gzip bombs: Kineto JSON compresses 8-20x; past 64 MiB inflated, more than 250x is refused
MAX_RATIO = 250
RATIO_AFTER = 64 << 20
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
# Between two events of the array: '}' ',' '{'. The same bytes can occur deeper (a list of
# objects inside args) or inside a string; a cut there leaves the first part unbalanced, which
# DuckDB rejects, and the loader then reads the file unsplit (see kineto.py).
_BOUNDARY = re.compile(rb"\}\s*,\s*\{")
_WS = b" \t\r\n"
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark some editors and tools write first


def strip_head(head: bytes) -> bytes:
    """The document from its first token: leading blanks and a UTF-8 BOM removed."""
    body = head.lstrip(_WS)
    return body[len(BOM):].lstrip(_WS) if body.startswith(BOM) else body


@dataclass
class Extracted:
    """The events array of one file, as byte ranges of whole events (written out as temporary
    JSON array files, or streamed through FIFOs: ``stream.py``), plus the other top-level keys."""

    source: Path
    parts: list[Path]
    metadata: dict = field(default_factory=dict)
    json_bytes: int = 0  # uncompressed size of the whole document
    workdir: Path | None = None
    data: Path | None = None  # the plain JSON: the file itself or its decompressed copy
    ranges: list[tuple[int, int]] = field(default_factory=list)  # [a, b) of each part's events

    def cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def part_paths(self) -> list[Path]:
        # which file a part belongs to is told to DuckDB by the part's index in the list of
        # paths (kineto_events.sql), never by the path: it holds the user's TMPDIR
        assert self.workdir is not None
        return [self.workdir / f"part{i:05d}.json" for i in range(len(self.ranges))]

    def ensure_files(self) -> None:
        """The parts as regular files, written unless they already are (after streaming or
        ``join_ranges`` they are not)."""
        if len(self.parts) != len(self.ranges) or not all(p.is_file() for p in self.parts):
            self.write_parts()

    def write_parts(self, jobs: int = 1, progress: Callable[[int], None] | None = None) -> None:
        """Write the parts as regular files (again)."""
        for p in self.parts:
            p.unlink(missing_ok=True)
        self.parts = self.part_paths()
        _write_parts(self.data, self.ranges, self.parts, progress, jobs)

    def join_ranges(self) -> None:
        """One part for the whole array: the fallback when a cut was not between events."""
        if len(self.ranges) > 1:
            self.ranges = [(self.ranges[0][0], self.ranges[-1][1])]

    def whole(self) -> Path:
        """The array as one file."""
        self.join_ranges()
        self.write_parts()
        return self.parts[0]


def extract(path: str | Path, tmpdir: str | None = None, part_bytes: int | None = None,
            progress: Callable[[int], None] | None = None, jobs: int = 1,
            write: bool = True) -> Extracted:
    """Write the events array of ``path`` as JSON array parts; parse the other keys.

    Accepts the usual object form (``{"traceEvents": [...], ...}``) and the bare-array form of
    the Chrome trace format. ``progress`` gets the count of the file's bytes dealt with;
    ``jobs`` threads copy the parts. ``write=False`` only locates the parts (to be streamed,
    ``stream.py``, or written later with ``write_parts``).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory, expected a trace file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file")
    workdir = Path(tempfile.mkdtemp(prefix=temp_prefix(), dir=tmpdir))
    try:
        src = _plain_source(path, workdir, progress)
        with open(src, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            try:
                start, end, meta = _locate_array(f, size, path)
            except RecursionError:  # json's recursive decoder on keys nested thousands deep
                raise InputError(path, "the keys around traceEvents are nested too deeply") from None
            if part_bytes is None:
                part_bytes = min(MAX_PART, max(MIN_PART, (end - start) // (4 * (os.cpu_count() or 1))))
            ranges = _cut_points(f, start, end, part_bytes)
        x = Extracted(source=path, parts=[], metadata=meta, json_bytes=size, workdir=workdir,
                      data=src, ranges=ranges)
        if write:
            x.write_parts(jobs, progress)
        return x
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def looks_like_json(path: Path) -> bool:
    """Whether a file (gzip or not) starts like JSON; Perfetto also reads other formats."""
    if not path.is_file():
        return True  # let extract() say what is wrong
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == GZIP_MAGIC else open
        with opener(path, "rb") as f:
            start = strip_head(f.read(4096))[:1]
    except (OSError, EOFError, zlib.error):
        return True
    return start in (b"{", b"[", b"")


def _plain_source(path: Path, workdir: Path, progress) -> Path:
    """The file itself, or its gzip content decompressed to a temporary file."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic != GZIP_MAGIC:
        if path.suffix == ".gz":
            raise InputError(path, "named .gz but is not gzip data")
        return path
    out_path = workdir / "decompressed.json"
    total = 0
    try:
        with open(path, "rb") as raw, _gzip.GzipFile(fileobj=raw) as gz, open(out_path, "wb") as out:
            while True:
                try:
                    chunk = gz.read(8 << 20)
                except GZIP_ERRORS as exc:  # gzip.BadGzipFile is an OSError
                    raise InputError(path, f"corrupt or truncated gzip data ({exc})") from None
                if not chunk:
                    break
                if total == 0:
                    _check_gzip_head(path, chunk)
                total += len(chunk)
                # a gzip bomb: checked as it inflates, before the disk fills
                if total > RATIO_AFTER and total > MAX_RATIO * raw.tell():
                    raise InputError(path, f"gzip data expands more than {MAX_RATIO}x (a gzip "
                                           f"bomb?); refused after {total:,} bytes")
                out.write(chunk)
                if progress:
                    progress(raw.tell() // 2)  # decompressing is about half the work
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise InputError(path, f"no space left in TMPDIR ({workdir.parent})") from None
        raise
    if out_path.stat().st_size == 0:
        raise InputError(path, "empty file (gzip holds no data)")
    return out_path


def _check_gzip_head(path: Path, chunk: bytes) -> None:
    """The first inflated bytes must look like a JSON trace: refuse anything else before
    inflating the rest into TMPDIR (1 MB of gzip can hold 1 GB of zeros)."""
    body = strip_head(chunk)
    if body and body[:1] not in (b"{", b"["):
        raise InputError(path, "not a trace: the gzip data does not start like JSON")


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def _locate_array(f: BinaryIO, size: int, path: Path) -> tuple[int, int, dict]:
    """(offset after the opening '[', offset of the closing ']', the other top-level keys)."""
    n = min(size, WINDOW)
    while True:
        head = _read_at(f, 0, n)
        body = strip_head(head)
        if not body:
            raise InputError(path, "empty file (only whitespace)")
        if body[:1] == b"[":
            start, keys_before, bare = len(head) - len(body) + 1, {}, True
            break
        if body[:1] != b"{":
            raise InputError(path, "not a trace: expected a JSON object with traceEvents")
        found = _object_prefix(head)
        if found:
            (start, keys_before), bare = found, False
            break
        if n >= size:
            raise InputError(path, "not a trace: no top-level traceEvents array")
        if n >= MAX_HEAD:
            raise InputError(path, "not a trace: no traceEvents array in the first 256 MiB")
        n = min(size, n * 4)
    n = min(size - start, WINDOW)
    while True:
        tail = _read_at(f, size - n, n)
        if bare:
            stripped = tail.rstrip(_WS)
            if stripped.endswith(b"]"):
                return start, size - n + len(stripped) - 1, {}
            raise InputError(path, "truncated JSON: the event array is not closed")
        found = _array_end(tail)
        if found:
            end, keys_after = found
            meta = dict(keys_before)
            meta.update(keys_after)
            return start, size - n + end, meta
        if n >= size - start or n >= MAX_TAIL:
            raise InputError(path, "truncated or malformed JSON: the traceEvents array or the "
                                   "object around it is not closed")
        n = min(size - start, n * 4)


def _object_prefix(head: bytes) -> tuple[int, dict] | None:
    """Where ``"traceEvents": [`` opens at the top level of the object ``head`` starts."""
    for m in _KEY.finditer(head):
        try:
            keys = json.loads(head[: m.start()] + b'"traceEvents": null}')
        except ValueError:
            continue  # the text occurs inside a string or a nested value
        if isinstance(keys, dict):
            keys.pop("traceEvents", None)
            return m.end(), keys
    return None


_DECODER = json.JSONDecoder()
_SKIP_WS = re.compile(r"[ \t\r\n]*")


def _rest_of_object(text: str, i: int) -> bool:
    """Whether ``text[i:]`` is the rest of an object: ``(, "key": value)* }`` then blanks.

    Parses in place with raw_decode (no copies), so a wrong start fails at its first token.
    """
    i = _SKIP_WS.match(text, i).end()
    while True:
        c = text[i:i + 1]
        if c == "}":
            return _SKIP_WS.match(text, i + 1).end() == len(text)
        if c != ",":
            return False
        i = _SKIP_WS.match(text, i + 1).end()
        if text[i:i + 1] != '"':
            return False
        try:
            _key, i = _DECODER.raw_decode(text, i)
            i = _SKIP_WS.match(text, i).end()
            if text[i:i + 1] != ":":
                return False
            i = _SKIP_WS.match(text, i + 1).end()
            _value, i = _DECODER.raw_decode(text, i)
        except (ValueError, RecursionError):  # deep nesting: the events' args, not keys
            return False
        i = _SKIP_WS.match(text, i).end()


def _array_end(tail: bytes) -> tuple[int, dict] | None:
    """The ']' that closes the events array, in the last bytes of the document.

    A ']' is a candidate when the text after it is the rest of an object
    (``, "key": value ... }``). Inside the events array that can never hold (the array's own
    ']' would be left unmatched); after the array it holds for the array's end and for the
    ends of list values after it (``"INFO": [...]``). So the earliest candidate is the end.
    Returns (offset in ``tail``, the keys after it), or None.
    """
    text = tail.decode("latin-1")  # one char per byte: offsets stay byte offsets
    best = None
    pos = len(text)
    while True:
        pos = text.rfind("]", 0, pos)
        if pos < 0:
            break
        if _rest_of_object(text, pos + 1):
            best = pos
    if best is None:
        return None
    rest = tail[best + 1:].strip(_WS)
    keys = json.loads(b"{" + (rest[1:] if rest.startswith(b",") else rest))
    return best, keys


def _cut_points(f: BinaryIO, start: int, end: int, part_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges [a, b) of the array body, each a run of whole events (ideally)."""
    ranges = []
    a = start
    while end - a > part_bytes + part_bytes // 2:
        target = a + part_bytes
        m = _BOUNDARY.search(_read_at(f, target, min(WINDOW, end - target)))
        if not m:
            break  # no boundary near: leave the rest in one part
        ranges.append((a, target + m.start() + 1))  # through the '}'
        a = target + m.end() - 1  # from the '{'
    ranges.append((a, end))
    return ranges


def _write_parts(data: Path, ranges: list[tuple[int, int]], parts: list[Path], progress,
                 jobs: int) -> None:
    """Copy the ranges into part files, ``jobs`` at a time (sendfile releases the GIL, so one
    big file is cut on all cores)."""
    done = [ranges[0][0] if ranges else 0]
    lock = threading.Lock()

    def write(i: int) -> None:
        a, b = ranges[i]
        with open(parts[i], "wb", buffering=0) as out:
            send_part(data, out.fileno(), a, b)
        if progress:
            with lock:
                done[0] += b - a
                progress(done[0])

    if jobs <= 1 or len(ranges) <= 1:
        for i in range(len(ranges)):
            write(i)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for fut in [pool.submit(write, i) for i in range(len(ranges))]:
                fut.result()


def send_part(data: Path, dst: int, a: int, b: int) -> None:
    """Write bytes [a, b) of ``data`` to the descriptor ``dst`` (a part file or a FIFO) as a
    JSON array: the events between ``[`` and ``]``."""
    os.write(dst, b"[")
    src = os.open(data, os.O_RDONLY)
    try:
        copy_range(src, dst, a, b - a)
    finally:
        os.close(src)
    os.write(dst, b"]")


def copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """Copy bytes from a file to a file or pipe (descriptors), in the kernel where it can."""
    try:
        while count > 0:
            sent = os.sendfile(dst, src, offset, count)
            if sent == 0:
                raise OSError(f"unexpected end of file at byte {offset}")
            offset += sent
            count -= sent
        return
    except AttributeError:
        pass  # no sendfile on this platform
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise
    while count > 0:  # no sendfile between these two: through a buffer
        chunk = os.pread(src, min(count, 8 << 20), offset)
        if not chunk:
            raise OSError(f"unexpected end of file at byte {offset}")
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view):]
        offset += len(chunk)
        count -= len(chunk)
