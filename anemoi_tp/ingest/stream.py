"""Feed the parts of trace files to DuckDB through FIFOs instead of temporary files.

Writing every part to disk and reading it back cost a tenth of a load (and as much disk and
page cache as the JSON). Here each part is a named pipe: a thread per part waits until DuckDB
opens it, then sends the part's byte range of the (plain) trace file into it with sendfile,
between the ``[`` and ``]`` that make it a JSON array (``extract.send_part``). Only where FIFOs exist (POSIX) and
work in the temporary directory; otherwise the loader writes files (``Extracted.write_parts``).
A pipe is read once: a second read (the loader's fallbacks) needs files.
"""
from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .extract import Extracted, send_part

PIPE_BYTES = 1 << 20  # pipes default to 64 KiB: a thousand wake-ups per MB otherwise
# mkfifo's errors where the file system has no FIFOs: the loader then writes files
FIFO_UNSUPPORTED = {errno.EPERM, errno.EACCES, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP,
                    errno.ENOTSUP, errno.EROFS}


def can_stream() -> bool:
    """FIFOs exist here, and ANEMOI_TP_STREAM is not 0 (the escape hatch: files instead)."""
    return (hasattr(os, "mkfifo") and os.name == "posix"
            and os.environ.get("ANEMOI_TP_STREAM", "1") != "0")


class PartStreams:
    """A context: the parts of ``extracted`` become FIFOs fed by threads until the block ends.

    ``progress(bytes_sent)`` is called as parts are sent. A writer's I/O error is raised at
    the end of the block, in place of what the block raised.
    """

    def __init__(self, extracted: list[Extracted], progress: Callable[[int], None] | None = None):
        self.extracted = extracted
        self.progress = progress
        self.sent = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[tuple[Path, threading.Thread]] = []

    def __enter__(self) -> PartStreams:
        try:
            for x in self.extracted:
                for p in x.parts:
                    p.unlink(missing_ok=True)
                x.parts = x.part_paths()
                for p, (a, b) in zip(x.parts, x.ranges):
                    os.mkfifo(p, 0o600)
                    t = threading.Thread(target=self._feed, args=(p, x.data, a, b), daemon=True,
                                         name=f"anemoi-tp-feed-{p.name}")
                    t.start()
                    self._threads.append((p, t))
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._release()
        if self.errors:  # the reader's complaint (truncated JSON, say) would mislead
            raise self.errors[0]

    def _feed(self, fifo: Path, data: Path, a: int, b: int) -> None:
        try:
            fd = os.open(fifo, os.O_WRONLY)  # blocks until the reader opens the pipe
        except OSError as exc:
            self.errors.append(exc)
            return
        try:
            if self._stop.is_set():
                return
            try:
                import fcntl
                fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
            except OSError:
                pass  # a smaller pipe only costs wake-ups
            send_part(data, fd, a, b)
            if self.progress:
                with self._lock:
                    self.sent += b - a
                    self.progress(self.sent)
        except BrokenPipeError:
            pass  # the reader stopped early (an error in another part): nothing to report
        except OSError as exc:
            self.errors.append(exc)
        finally:
            os.close(fd)

    def _release(self) -> None:
        """Unblock and end every writer: a pipe DuckDB never opened (it stopped on an error)
        is opened here and drained, so that its writer finishes."""
        self._stop.set()
        for fifo, t in self._threads:
            if not t.is_alive():
                continue
            try:
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                t.join()
                continue
            try:
                while t.is_alive():
                    try:
                        if not os.read(fd, 1 << 20):
                            t.join(0.01)
                    except OSError as exc:
                        if exc.errno != errno.EAGAIN:
                            break
                        time.sleep(0.001)
            finally:
                os.close(fd)
            t.join()
