"""The largest GPU idle gap a report links to (report/report_idle_gaps.sql, made per rank by the
ranks' maps), computed by hand: one rank, µs, batch [0,170).

GPU activity: [10,20) [15,25) (one stretch: [10,25)), [30,40), [70,80), [105,120) [110,112),
[150,160). Gaps between stretches: [25,30) 5, [40,70) 30, [80,105) 25, [120,150) 30: the
longest are 30 µs; of those the earliest, [40,70). Nothing before the first stretch or after
the last counts.
"""
from __future__ import annotations

from anemoi_tp.pipeline import RunOptions
from anemoi_tp.report import build_report
from anemoi_tp.session import open_set

from builders import BATCH, GEMM, TRAIN, TraceBuilder
from conftest import load, write_trace


def _trace(tmp_path):
    b = TraceBuilder()
    b.range(BATCH, 0, 170).range(TRAIN, 1, 169)
    for i, (s, e) in enumerate([(10, 20), (15, 25), (30, 40), (70, 80), (105, 120), (110, 112), (150, 160)]):
        b.kernel(GEMM, 2 + i, s, e, stream=7 + (i % 2))
    return write_trace(tmp_path / "t.json", b.events, baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})


def _gap(report: dict) -> tuple:
    (link,) = [x for x in report["links"] if x["kind"] == "largest_idle_gap"]
    return link["rank"], link["label"], link["ts"], link["end_ts"]


def test_the_largest_idle_gap_is_the_earliest_of_the_longest(tmp_path):
    path = _trace(tmp_path)
    con, _ = load(path)
    assert _gap(build_report(con)) == (0, "0.030 ms", 40_000, 70_000)
    # the same from the rank's map (its table crosses to the reduce)
    src = open_set(path, RunOptions(progress=False, cache_dir=str(tmp_path / "c"), events=False))
    try:
        assert _gap(build_report(src.con, analysed=True)) == (0, "0.030 ms", 40_000, 70_000)
        assert src.con.execute("SELECT * FROM report_idle_gaps").fetchall() == [(0, 40_000, 30_000)]
    finally:
        src.close()
