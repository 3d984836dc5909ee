"""Shared helpers: hand-built traces, the shared real traces, loading."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from anemoi_tp.database import connect
from anemoi_tp.ingest import load_traces

SHARED_TRACES = Path(os.environ.get("ANEMOI_TP_SHARED",
                                    Path(__file__).resolve().parents[2] / "shared")) / "traces"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """The per-rank cache of every run in the tests: a folder of this session, never the
    user's ~/.cache (subprocesses inherit it)."""
    if "ANEMOI_TP_CACHE" not in os.environ:
        os.environ["ANEMOI_TP_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield


def shared_trace(name: str) -> Path:
    path = SHARED_TRACES / name
    if not path.exists():
        pytest.skip(f"shared trace {name} not found under {SHARED_TRACES} (../shared is absent)")
    return path


def shared_trace_names() -> list[str]:
    if not SHARED_TRACES.is_dir():
        return []
    return sorted(p.name for p in SHARED_TRACES.glob("*.json.gz"))


def write_trace(path: Path, events: list[dict], compress: bool = False, **top) -> Path:
    """A Kineto-style document: top-level keys, then traceEvents."""
    doc = dict(schemaVersion=1, **top)
    doc["traceEvents"] = events
    data = json.dumps(doc, indent=2).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def load(path, **kw):
    con = connect()
    result = load_traces(con, path, **kw)
    return con, result


# one launch and its kernel: the small trace of the command-line tests (`trace` fixture)
EVENTS = [
    {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 1.0,
     "dur": 2.0, "args": {"correlation": 3}},
    {"ph": "X", "cat": "kernel", "name": "k<1>", "pid": 0, "tid": 7, "ts": 5.0, "dur": 10.0,
     "args": {"correlation": 3, "device": 0, "stream": 7}},
]


@pytest.fixture
def trace(tmp_path):
    return write_trace(tmp_path / "t.json", EVENTS, distributedInfo={"rank": 0, "world_size": 1})
