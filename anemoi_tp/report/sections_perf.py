"""Report sections of issue 14, each one SQL view -> one table: the per-batch series and its
trend, the top kernels, the top CPU operators by self time, the per-layer window split.

Each ``*_rows`` function returns the rows of one rank (or None with a reason in ``missing``);
``add_perf_sections`` puts them on the report's ranks, ``render_perf_text`` renders them."""
from __future__ import annotations

import html

import duckdb

from ..database import fetch_dicts as _rows, run_sql
from ..output import rows_as_table
from .formatting import MISSING, num as _f

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


# One spec per section, for every format: (JSON key, title, columns of (header, field, format));
# format None shows the value as is, "ms" seconds as ms, "flag" the batch flags.
SPECS = (
    ("batch_series", "Per-batch series (ms; slices partition the window)",
     (("Batch", "batch", None), ("Start", "start_s", "ms"), ("Duration", "duration_s", "ms"),
      ("GPU idle", "gpu_idle_s", "ms"), ("Comm", "communication_s", "ms"),
      ("Data loader", "data_loader_s", "ms"), ("", None, "flag"))),
    ("batch_trend", "Batch trend (Theil–Sen)",
     (("Batches", "batches", None), ("ms/batch", "slope_ms", "{:.3f}"),
      ("%/batch", "drift_pct_per_batch", "{:+.2f}"), ("Drifting", "drifting", "yes"),
      ("Warm-up", "warmup_batches", None), ("Outliers", "outlier_batches", None),
      ("Missing", "missing", None))),
    ("top_kernels", "Top kernels (by total time)",
     (("#", "pos", None), ("Kernel", "name", None), ("Class", "class", None), ("Calls", "calls", None),
      ("Total (ms)", "total_ms", "{:.3f}"), ("Mean (µs)", "mean_us", "{:.1f}"),
      ("Max (µs)", "max_us", "{:.1f}"), ("% of active", "share_pct", "{:.1f}"),
      ("Phase", "phase", None), ("Module", "module", None))),
    ("top_operators", "Top CPU operators (by self time)",
     (("#", "pos", None), ("Operator", "name", None), ("Calls", "calls", None),
      ("Self (ms)", "self_ms", "{:.3f}"), ("Total (ms)", "total_ms", "{:.3f}"),
      ("Self/call (µs)", "mean_self_us", "{:.1f}"), ("% of window", "self_pct", "{:.1f}"))),
    ("layers", "Per-layer window split (ms)",
     (("Layer", "layer", None), ("Dir", "direction", None), ("Part", "duration_s", "ms"),
      ("%", "pct", "{:.2f}"), ("GPU", "gpu_s", "ms"), ("GPU idle", "idle_s", "ms"),
      ("Comm", "communication_s", "ms"), ("Comm∩comp", "comm_overlap_s", "ms"))),
)


def _cell(row: dict, field: str | None, fmt: str | None) -> str:
    if fmt == "flag":
        return "warm-up" if row.get("warmup") else ("outlier" if row.get("outlier") else "")
    v = row.get(field)
    if fmt == "yes":
        return "yes" if v else ""
    if v is None:
        return "" if field in ("module", "direction", "missing") else MISSING
    if fmt == "ms":
        return _f(v * 1e3, "{:.3f}")
    return _f(v, fmt) if fmt else str(v)


def section_rows(report: dict, key: str, columns) -> list[list[str]]:
    """[rank, cells…] of one section over the ranks."""
    out = []
    for r in report["ranks"]:
        rows = r.get(key)
        for row in ([rows] if isinstance(rows, dict) else rows or []):
            out.append([str(r["rank"])] + [_cell(row, f, fmt) for _, f, fmt in columns])
    return out


def render_perf_text(report: dict) -> str:
    """The sections as text tables (empty string when no rank has any)."""
    out = []
    for key, title, columns in SPECS:
        rows = section_rows(report, key, columns)
        if rows:
            body = rows_as_table(["Rank"] + [h for h, _, _ in columns], rows, max_width=60).splitlines()[:-1]
            out.append("\n".join([title, "=" * len(title), *body, ""]))
    return "\n".join(out)


def render_perf_markdown(report: dict, escape) -> str:
    """The sections as Markdown tables; ``escape`` escapes text for Markdown."""
    out = []
    for key, title, columns in SPECS:
        rows = section_rows(report, key, columns)
        if rows:
            out += [f"## {title}", "", "| Rank | " + " | ".join(h for h, _, _ in columns) + " |",
                    "|" + "---|" * (len(columns) + 1)]
            out += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out)


def render_perf_html(report: dict) -> str:
    """The sections as plain HTML tables, every string escaped."""
    e = html.escape
    out = []
    for key, title, columns in SPECS:
        rows = section_rows(report, key, columns)
        if rows:
            out.append(f"<section class='perf'><h2>{e(title)}</h2><table><thead><tr><th>Rank</th>"
                       + "".join(f"<th>{e(h)}</th>" for h, _, _ in columns) + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            out.append("</tbody></table></section>")
    return "\n".join(out)
