"""Rows to DuckDB through a temporary newline-delimited JSON file (no per-row inserts)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from ..signals import temp_prefix


@contextmanager
def ndjson_file(rows: Iterable[dict]) -> Iterator[Path]:
    """A temporary file with one JSON object per row, removed afterwards.

    A value may be msgspec.Raw: JSON text embedded as it is, not quoted as a string."""
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(), suffix=".ndjson")
    try:
        enc = msgspec.json.Encoder()
        with os.fdopen(fd, "wb") as out:
            for r in rows:
                out.write(enc.encode(r))
                out.write(b"\n")
        yield Path(tmp)
    finally:
        os.unlink(tmp)
