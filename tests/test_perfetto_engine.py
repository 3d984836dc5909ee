"""The Perfetto engine (embedded WebAssembly trace processor) against the default engine."""
from __future__ import annotations

import collections
import functools
import warnings

import pytest

from anemoi_tp.database import connect
from anemoi_tp.ingest.perfetto_loader import load_with_perfetto

from conftest import load, shared_trace, shared_trace_names
from test_cli import run

NAMES = shared_trace_names() or ["(shared traces absent)"]


def perfetto_load(path):
    con = connect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_with_perfetto(con, path)
    return con


@functools.cache
def both_engines(name: str):
    """(default engine's database, Perfetto engine's database) of a shared trace, loaded once."""
    path = shared_trace(name)
    return load(path)[0], perfetto_load(path)


@pytest.mark.parametrize("name", NAMES)
def test_complete_events_equal_the_default_minus_reported_drops(name):
    default, pf = both_engines(name)
    q = "SELECT cat, count(*) FROM events WHERE ph = 'X' GROUP BY cat"
    a, b = dict(default.execute(q).fetchall()), dict(pf.execute(q).fetchall())
    drops = pf.execute("SELECT coalesce(sum(events), 0) FROM ingest_issues WHERE engine = 'perfetto' "
                       "AND issue = 'slice_drop_overlapping_complete_event'").fetchone()[0]
    assert set(b) <= set(a)
    assert all(b.get(cat, 0) <= n for cat, n in a.items())
    assert sum(a.values()) - sum(b.values()) == drops
    # the default engine drops nothing
    assert default.execute("SELECT count(*) FROM ingest_issues").fetchone()[0] == 0


def _unmatched(mine: list[tuple], theirs: list[tuple], tol_ns: int = 1) -> list[tuple]:
    """Items of ``mine`` (name, class, ts, dur) with no partner in ``theirs`` within tol_ns."""
    pool: dict = collections.defaultdict(list)
    for name, cls, ts, dur in theirs:
        pool[(name, cls)].append((ts, dur))
    left = []
    for name, cls, ts, dur in mine:
        cands = pool[(name, cls)]
        hit = next((i for i, (t, d) in enumerate(cands) if abs(t - ts) <= tol_ns and abs(d - dur) <= tol_ns), None)
        if hit is None:
            left.append((name, cls, ts, dur))
        else:
            cands.pop(hit)
    return left


@pytest.mark.parametrize("name", NAMES)
def test_gpu_activity_times_agree(name):
    default, pf = both_engines(name)
    q = "SELECT name, class, ts, dur FROM gpu_activities ORDER BY ts"
    a, b = default.execute(q).fetchall(), pf.execute(q).fetchall()
    # Every activity Perfetto kept is one of the default engine's: same name and class, start
    # and duration within 1 ns (Perfetto rounds float µs to ns its own way).
    assert _unmatched(b, a) == []
    drops = pf.execute("SELECT coalesce(sum(events), 0) FROM ingest_issues WHERE engine = "
                       "'perfetto' AND issue LIKE 'slice_drop%'").fetchone()[0]
    # the ones it lost are among the slices it reports dropped
    assert len(a) - len(b) <= drops
    if drops == 0:
        assert len(a) == len(b)
        q = "SELECT count(launch_name) FROM gpu_activities"
        assert default.execute(q).fetchone() == pf.execute(q).fetchone()


def test_b200_drops_38_overlapping_kernels():
    default, pf = both_engines("tracelens_b200_rank0of8.json.gz")
    q = "SELECT count(*) FROM gpu_activities WHERE kind = 'kernel'"
    assert (default.execute(q).fetchone()[0], pf.execute(q).fetchone()[0]) == (768, 730)
    assert pf.execute("SELECT events FROM ingest_issues WHERE issue = "
                      "'slice_drop_overlapping_complete_event'").fetchone()[0] == 42


def test_perfettosql_with_a_stdlib_module():
    path = shared_trace("hta_sampled_rank-0.json.gz")
    r = run("query", "--perfetto", str(path), "INCLUDE PERFETTO MODULE slices.with_context; "
            "SELECT count(*) AS n FROM thread_slice WHERE name GLOB 'ProfilerStep#*'", "-f", "json")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("[") and ('"n": 2' in r.stdout or '"n": "2"' in r.stdout)


def test_load_with_perfetto_engine_cli(tmp_path):
    path = shared_trace("hta_sampled_rank-1.json.gz")
    db = tmp_path / "p.duckdb"
    r = run("load", "--engine", "perfetto", str(path), "-o", str(db))
    assert r.returncode == 0, r.stderr
    r = run("query", str(db), "SELECT count(*) AS n FROM gpu_activities", "-f", "csv")
    assert r.stdout.splitlines() == ["n", "1154"]  # the file's kernels + memcpy + memset: 1104+40+10


@pytest.mark.parametrize("content", [
    '{"traceEvents": [{"ph": "X", "name": "a", "ts": 1, "dur": 1}, {"ph": "X", "args": {"a": [1]}',
    '{"traceEvents": [{"ph": "X", "name": "a", "ts": 1, "dur": 1} {"ph": "X"}]}',
    '[1, 2, "x"]',
    "",
])
def test_corrupt_trace_same_error_with_both_engines(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    outs = []
    for engine in ("kineto", "perfetto"):
        r = run("load", "--engine", engine, str(bad), "-o", str(tmp_path / f"{engine}.duckdb"))
        assert r.returncode == 2 and "Traceback" not in r.stderr
        outs.append(r.stderr)
    assert outs[0] == outs[1]
    r = run("query", "--perfetto", str(bad), "SELECT 1")
    assert (r.returncode, r.stderr) == (2, outs[0])
    assert not list(tmp_path.glob("*.duckdb"))


def test_missing_native_backend_is_a_clear_error(tmp_path, monkeypatch):
    path = shared_trace("hta_sampled_rank-0.json.gz")
    r = run("query", "--perfetto", "--trace-processor", str(tmp_path / "nope"), str(path), "SELECT 1")
    assert r.returncode == 2 and "trace_processor_shell not found" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
