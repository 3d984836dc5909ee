"""Where temporary files live and how the work is split must not change a row."""
from __future__ import annotations

import tempfile

import pytest

from anemoi_tp.database import connect
from anemoi_tp.ingest import load_traces

from conftest import write_trace

N = 3000


def _events(rank: int) -> list[dict]:
    # descending ts: file order is not time order, so a sort by ts cannot fake the file order
    return [{"ph": "X", "cat": "cpu_op", "name": f"r{rank}e{i}", "pid": 1, "tid": 1,
             "ts": (N - i) * 2 + rank, "dur": 1} for i in range(N)] + [
            {"ph": "X", "cat": "cpu_op", "name": "ProfilerStep#1", "pid": 1, "tid": 1,
             "ts": 1, "dur": 10 * N}]


@pytest.fixture
def three_ranks(tmp_path):
    for r in range(3):
        write_trace(tmp_path / "set" / f"r{r}.json", _events(r),
                    distributedInfo={"rank": r, "world_size": 3}, baseTimeNanoseconds=1000 * r)
    return tmp_path / "set"


def _rows(trace, **kw):
    con = connect()
    load_traces(con, trace, **kw)
    return con.execute("SELECT rank, file_id, name, ts FROM trace_events ORDER BY rowid").fetchall()


@pytest.mark.parametrize("stream", ["1", "0"])
def test_key_value_folders_in_tmpdir_change_nothing(three_ranks, tmp_path, monkeypatch, stream):
    monkeypatch.setenv("ANEMOI_TP_STREAM", stream)
    trap = tmp_path / "rank=7" / "ts=1" / "name=x" / "file_id=9"
    trap.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(trap))
    got = _rows(three_ranks, part_bytes=16 << 10)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert got == _rows(three_ranks, part_bytes=16 << 10)
    # and independently of the loader: each rank's events, named and timed as written
    for r in range(3):
        mine = [(name, ts) for rank, _f, name, ts in got if rank == r]
        assert len(mine) == N + 1
        assert mine[0] == (f"r{r}e0", (2 * N + r) * 1000 + 1000 * r)
        assert mine[N - 1] == (f"r{r}e{N - 1}", (2 + r) * 1000 + 1000 * r)


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_rows_are_in_file_order_whatever_the_parts_and_threads(three_ranks, jobs):
    got = _rows(three_ranks, jobs=jobs, part_bytes=8 << 10)  # ~30 parts a file
    expected = [(r, r, e["name"], (e["ts"] * 1000) + 1000 * r)
                for r in range(3) for e in _events(r)]
    assert got == expected


def test_one_file_many_parts_jobs_1_and_4_give_the_same_rowids(tmp_path):
    path = write_trace(tmp_path / "a.json", _events(0))
    rows = {}
    for jobs in (1, 4):
        con = connect()
        con.execute(f"SET threads = {4 if jobs == 4 else 1}")
        load_traces(con, path, jobs=jobs, part_bytes=4 << 10)
        rows[jobs] = con.execute("SELECT rowid, name, ts FROM trace_events ORDER BY rowid").fetchall()
    assert rows[1] == rows[4]
    assert [name for _i, name, _ts in rows[1]] == [e["name"] for e in _events(0)]
    assert [i for i, _n, _t in rows[1]] == list(range(N + 1))
