"""A finding that holds on many ranks is one finding listing the ranks (findings_grouped);
the raw `findings` table keeps one row per rank."""
from __future__ import annotations

import statistics

from anemoi_tp.database import connect
from anemoi_tp.demo.generate import DemoConfig, generate_trace_set
from anemoi_tp.ingest import load_traces
from anemoi_tp.report import build_report
from anemoi_tp.report.formatting import rank_span
from anemoi_tp.report.render import render_html, render_markdown
from anemoi_tp.report.text import render_text


def test_rank_span_joins_runs():
    assert rank_span([5, 0, 1, 2, 3]) == "ranks 0–3, 5"
    assert rank_span([7]) == "rank 7"
    assert rank_span([0, 2, 4, 5]) == "ranks 0, 2, 4–5"


def test_a_rule_on_all_eight_ranks_is_one_finding(tmp_path):
    # the demo's rank 2 loads data slowly (DemoConfig.slow_rank); every rank idles a little
    # while loading, so with data_loader_stall.pct_of_total = 1 % the rule holds on all 8
    generate_trace_set(tmp_path, DemoConfig(ranks=8))
    con = connect()
    load_traces(con, tmp_path)
    rep = build_report(con, thresholds={"data_loader_stall": {"pct_of_total": 1.0}})
    raw = dict(con.execute("SELECT rank, value FROM findings WHERE rule = 'data_loader_stall'").fetchall())
    assert sorted(raw) == list(range(8))  # per rank in the raw table
    [f] = [f for f in rep["findings"] if f["rule"] == "data_loader_stall"]
    assert f["ranks"] == list(range(8))
    assert f["rank"] == 2 and f["value"] == max(raw.values()) == raw[2]
    assert (f["value_min"], f["value_max"]) == (min(raw.values()), max(raw.values()))
    assert abs(f["value_median"] - statistics.median(raw.values())) < 1e-9
    assert "on this rank" in f["advice"] and f["evidence"].startswith("GPU idle")
    text = render_text(rep)
    assert text.count("data_loader_stall (ranks 0–7, phase)") == 1
    assert "on rank 2 (over 8 ranks: min " in text
    assert render_markdown(rep).count("`data_loader_stall` (ranks 0–7, phase)") == 1
    assert render_html(rep).count("<b>data_loader_stall</b>") == 1
