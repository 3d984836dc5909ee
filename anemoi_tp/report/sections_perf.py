"""Report sections of issue 14, each one SQL view -> one table: the per-batch series and its
trend, the top kernels, the top CPU operators by self time, the per-layer window split.

Each ``*_rows`` function returns the rows of one rank (or None with a reason in ``missing``);
``add_perf_sections`` puts them on the report's ranks, ``render_perf_text`` renders them."""
from __future__ import annotations

import duckdb

from ..database import fetch_dicts as _rows, run_sql
from ..output import rows_as_table
from .formatting import num as _f

REPORT_FILES = ("report/report_batch_series.sql", "report/report_top_kernels.sql",
                "report/report_top_operators.sql", "report/report_layers.sql")
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


def add_perf_sections(con: duckdb.DuckDBPyConnection, report: dict, top: int | None = DEFAULT_TOP) -> None:
    """Add the sections to each rank of ``report`` (keys of SECTIONS; None + a reason in
    ``missing`` where a rank has no rows)."""
    for f in REPORT_FILES:
        run_sql(con, f)
    has_modules = {r for (r,) in con.execute(
        "SELECT DISTINCT rank FROM host_ranges WHERE kind = 'module'").fetchall()}
    for key, view, cut in SECTIONS:
        rows = _rows(con, view)
        for item in report["ranks"]:
            mine = [{k: v for k, v in r.items() if k != "rank"} for r in rows if r["rank"] == item["rank"]]
            if cut and top is not None:
                mine = [r for r in mine if r["pos"] <= top]
            if key == "layers" and item["rank"] not in has_modules:
                mine = []
            if not mine:
                item[key] = None
                item["missing"].setdefault(key, _REASONS[key])
            else:
                item[key] = mine if key != "batch_trend" else mine[0]


def _table(title: str, columns: list[str], rows: list[list]) -> str:
    body = rows_as_table(columns, rows, max_width=60).splitlines()[:-1]
    return "\n".join([title, "=" * len(title), *body, ""])


def _ms(s) -> str:
    return _f(None if s is None else s * 1e3, "{:.3f}")


def _flag(b) -> str:
    return "" if b is None else ("yes" if b else "")


def render_perf_text(report: dict) -> str:
    """The sections as text tables (empty string when no rank has any)."""
    out = []
    ranks = report["ranks"]
    rows = [[r["rank"], b["batch"], _ms(b["start_s"]), _ms(b["duration_s"]), _ms(b["gpu_idle_s"]),
             _ms(b["communication_s"]), _ms(b["data_loader_s"]),
             "warm-up" if b["warmup"] else ("outlier" if b["outlier"] else "")]
            for r in ranks for b in r.get("batch_series") or []]
    if rows:
        out.append(_table("Per-batch series (ms; slices partition the window)",
                          ["Rank", "Batch", "Start", "Duration", "GPU idle", "Comm", "Data loader", ""], rows))
    rows = [[r["rank"], t["batches"], _f(t["slope_ms"], "{:.3f}"), _f(t["drift_pct_per_batch"], "{:+.2f}"),
             "drifting" if t["drifting"] else "", t["warmup_batches"], t["outlier_batches"], t["missing"] or ""]
            for r in ranks if (t := r.get("batch_trend"))]
    if rows:
        out.append(_table("Batch trend (Theil–Sen)", ["Rank", "Batches", "ms/batch", "%/batch", "",
                                                      "Warm-up", "Outliers", "Missing"], rows))
    rows = [[r["rank"], k["pos"], k["name"], k["class"], k["calls"], _f(k["total_ms"], "{:.3f}"),
             _f(k["mean_us"], "{:.1f}"), _f(k["max_us"], "{:.1f}"), _f(k["share_pct"], "{:.1f}"),
             k["phase"], k["module"] or ""]
            for r in ranks for k in r.get("top_kernels") or []]
    if rows:
        out.append(_table("Top kernels (by total time)", ["Rank", "#", "Kernel", "Class", "Calls", "Total (ms)",
                                                          "Mean (µs)", "Max (µs)", "% of active", "Phase",
                                                          "Module"], rows))
    rows = [[r["rank"], o["pos"], o["name"], o["calls"], _f(o["self_ms"], "{:.3f}"), _f(o["total_ms"], "{:.3f}"),
             _f(o["mean_self_us"], "{:.1f}"), _f(o["self_pct"], "{:.1f}")]
            for r in ranks for o in r.get("top_operators") or []]
    if rows:
        out.append(_table("Top CPU operators (by self time)", ["Rank", "#", "Operator", "Calls", "Self (ms)",
                                                               "Total (ms)", "Self/call (µs)", "% of window"], rows))
    rows = [[r["rank"], x["layer"], x["direction"] or "", _ms(x["duration_s"]), _f(x["pct"], "{:.2f}"),
             _ms(x["gpu_s"]), _ms(x["idle_s"]), _ms(x["communication_s"]), _ms(x["comm_overlap_s"])]
            for r in ranks for x in r.get("layers") or []]
    if rows:
        out.append(_table("Per-layer window split (ms)", ["Rank", "Layer", "Dir", "Part", "%", "GPU",
                                                          "GPU idle", "Comm", "Comm∩comp"], rows))
    return "\n".join(out)
