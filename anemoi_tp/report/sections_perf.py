"""The per-batch series and its trend, the top kernels, the top CPU operators by self time and
the per-layer window split: their report views (``create_perf_views``; shown in every format
through sections.py) and their per-rank JSON keys (``add_perf_sections``)."""
from __future__ import annotations

import duckdb

from ..database import fetch_dicts as _rows
from ..database import run_sql

# (report_layers: a per-rank table, report/rank_tables.py, made before these)
REPORT_FILES = ("report/report_batch_series.sql", "report/report_top_kernels.sql",
                "report/report_top_operators.sql", "report/report_perf_sections.sql")
DEFAULT_TOP = 25

# (JSON key, view, whether rows are cut to the top N)
SECTIONS = (("batch_series", "report_batch_series", False),
            ("batch_trend", "report_batch_trend", False),
            ("top_kernels", "report_top_kernels", True),
            ("top_operators", "report_top_operators", True),
            ("layers", "report_layers", False))

_REASONS = {
    "batch_series": "no batches (the window is the trace's span): name the batch ranges with --batch REGEX",
    "batch_trend": "no batches (the window is the trace's span)",
    "top_kernels": "no GPU activity in the window of this rank",
    "top_operators": "no CPU operators (cpu_op events) in the window of this rank",
    "layers": "no module ranges ([pl][module] …, nn.Module: …, or the configured module patterns)",
}


def create_perf_views(con: duckdb.DuckDBPyConnection) -> None:
    """The report views of these sections (after the analyses and the per-rank tables)."""
    for f in REPORT_FILES:
        run_sql(con, f)


def add_perf_sections(con: duckdb.DuckDBPyConnection, report: dict, top: int | None = DEFAULT_TOP) -> None:
    """Add the sections to each rank of ``report`` (keys of SECTIONS; None + a reason in
    ``missing`` where a rank has no rows); after create_perf_views."""
    for key, view, cut in SECTIONS:
        by_rank: dict = {}   # grouped once, in view order (not a scan of every row per rank)
        for r in _rows(con, view):
            by_rank.setdefault(r["rank"], []).append(r)
        for item in report["ranks"]:
            mine = [{k: v for k, v in r.items() if k != "rank"} for r in by_rank.get(item["rank"], ())]
            if cut and top is not None:
                mine = [r for r in mine if r["pos"] <= top]
            if not mine:
                item[key] = None
                item["missing"].setdefault(key, _REASONS[key])
            else:
                item[key] = mine if key != "batch_trend" else mine[0]
