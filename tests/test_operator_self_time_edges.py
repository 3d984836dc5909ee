"""operator_stats.sql's self time where ops share a start or cross (not nested), by hand (µs)."""
from __future__ import annotations

from anemoi_tp.report import build_report

from builders import TraceBuilder
from conftest import load, write_trace


def test_self_time_shared_start_and_crossing_ops(tmp_path):
    b = TraceBuilder()
    b.op("X", 0, 50).op("Y", 0, 20)       # same start: the shorter one is inner
    b.op("P", 100, 130).op("Q", 120, 150)  # crossing: Q started later, so it is inner where both run
    b.op("R", 200, 240).op("S", 210, 220).op("T", 215, 230)  # T crosses S's end inside R
    con, _ = load(write_trace(tmp_path / "t.json", b.events, baseTimeNanoseconds=0))
    rep = build_report(con)
    self_us = {o["name"]: round(o["self_ms"] * 1e3, 6) for o in rep["ranks"][0]["top_operators"]}
    # X 50 − Y 20; P [100,120); Q [120,150); S [210,215); T [215,230); R 40 − 5 − 15
    assert self_us == {"X": 30, "Y": 20, "P": 20, "Q": 30, "R": 20, "S": 5, "T": 15}
