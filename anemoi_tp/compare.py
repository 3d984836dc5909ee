"""`anemoi-tp compare`: what changed between runs, by how much, and whether it is noise.

Each run is reported as usual (anemoi_tp.report.build_report); the first run is the baseline
and each later one is compared with it, per rank and overall (rank None).

Per-batch metrics (the slices of report_batch_series: step time, GPU idle, communication,
data loading) have a distribution: a = median over the baseline's batches, b = over the other
run's; overall pools every rank's batches. They are tested with a two-sided Mann–Whitney U
test (exact without ties and up to EXACT_MAX batches a side, else the normal approximation with
tie correction and continuity correction). A change is ``significant`` when p < ALPHA and its
size is at least MIN_EFFECT_PCT % of a and MIN_EFFECT_S seconds. Other metrics (window parts,
phases, module groups, collectives, kernels, annotations, memory peaks) have one value per run:
they are compared per batch where the run has batches (total / batches), and ``significant`` is
None (not testable). Two identical runs give p = 1: nothing is significant.

``changes`` is ordered by effect on step time: significant first, then by the change in
seconds per batch (|delta|; metrics not in seconds last), then metric and rank; changes of
about the same size (within a factor BAND) list host causes (data loading, phases, modules,
kernels, annotations, collectives) before the GPU states they show up as (GPU_STATES: GPU idle,
communication, …), so that a slower data loader comes before the GPU idle it causes. The outcome
metrics (step time, throughput) are in ``summary``, not among the changes they are made of.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from .errors import InputError
from .report.formatting import num

ALPHA = 0.05
MIN_EFFECT_PCT = 5.0    # a significant change is at least this % of the baseline …
MIN_EFFECT_S = 10e-6    # … and at least this many seconds (per batch)
EXACT_MAX = 50          # exact U distribution up to this many batches a side (without ties)
TOP_KERNELS = 10        # kernels and annotations compared: the top of either run, per rank

SERIES = (("step_time_s", "duration_s"), ("gpu_idle_s", "gpu_idle_s"),
          ("communication_s", "communication_s"), ("data_loader_s", "data_loader_s"))
OUTCOMES = ("step_time_s", "throughput_it_s")


# -- the test ------------------------------------------------------------------------------

def _exact_u_cdf(n1: int, n2: int) -> list[float]:
    """P(U = u) for u = 0 … n1·n2 under the null hypothesis, without ties (counting
    arrangements: c(n1, n2, u) = c(n1 − 1, n2, u − n2) + c(n1, n2 − 1, u))."""
    # rows[j][u]: arrangements of i values of A and j of B with U = u, built up in i
    prev = [[1] + [0] * (n1 * n2) for _ in range(n2 + 1)]  # i = 0: U = 0 only
    for i in range(1, n1 + 1):
        cur = [[0] * (n1 * n2 + 1) for _ in range(n2 + 1)]
        cur[0][0] = 1
        for j in range(1, n2 + 1):
            for u in range(i * j + 1):
                cur[j][u] = (prev[j][u - j] if u >= j else 0) + cur[j - 1][u]
        prev = cur
    counts = prev[n2]
    total = sum(counts)
    return [c / total for c in counts]


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(U of a, two-sided p) of the Mann–Whitney U test; p = 1 where a side is empty."""
    n1, n2 = len(a), len(b)
    if not n1 or not n2:
        return math.nan, 1.0
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks: list[float] = [0.0] * len(pooled)
    ties = []
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    r1 = sum(r for r, (_, side) in zip(ranks, pooled) if side == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    if not ties and n1 <= EXACT_MAX and n2 <= EXACT_MAX:
        pmf = _exact_u_cdf(n1, n2)
        lo = min(u1, n1 * n2 - u1)
        p = 2 * sum(pmf[: int(lo) + 1])
        return u1, min(1.0, p)
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - sum(t ** 3 - t for t in ties) / (n * (n - 1)))
    if var <= 0:
        return u1, 1.0  # every value equal
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    return u1, min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def _median(xs: Sequence[float]) -> float | None:
    s = sorted(xs)
    if not s:
        return None
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


# -- metrics of one run --------------------------------------------------------------------

def _per_batch(rank: dict, value: float | None) -> float | None:
    """A window total per batch (the run's batches), or the total where there are none."""
    if value is None:
        return None
    return value / rank["batches"] if rank.get("batches") else value


def run_metrics(report: dict) -> dict[tuple[str, int | None], Any]:
    """{(metric, rank): value}; per-batch metrics hold their list of per-batch values."""
    out: dict[tuple[str, int | None], Any] = {}
    pooled: dict[str, list[float]] = {}
    for r in report["ranks"]:
        k = r["rank"]
        for metric, col in SERIES:
            vals = [b[col] for b in r.get("batch_series") or []]
            if vals and None not in vals:  # GPU numbers of a rank without GPU events are missing
                out[(metric, k)] = vals
                pooled.setdefault(metric, []).extend(vals)
        out[("throughput_it_s", k)] = r["throughput_it_s"]
        g, o = r["gpu_time"], r["overlap"]
        for metric, v in (("gpu_active_s", r["gpu_active_s"]), ("computation_s", g["computation_s"]),
                          ("memory_ops_s", g["memory_ops_s"]), ("overlap_s", o["overlap_s"])):
            out[(f"{metric}/batch", k)] = _per_batch(r, v)
        for dim in ("phases", "modules"):
            for p in r.get(dim) or []:
                out[(f"{dim[:-1]}:{p['name']}/batch", k)] = _per_batch(r, p["duration_s"])
        for kern in (r.get("top_kernels") or [])[:TOP_KERNELS]:
            out[(f"kernel:{kern['name']}/batch", k)] = _per_batch(r, kern["total_ms"] / 1e3)
        for a in (r.get("annotations") or [])[:TOP_KERNELS]:
            out[(f"annotation:{a['name']} {a['direction']}/batch", k)] = _per_batch(r, a["gpu_total_s"])
    out.update({(m, None): v for m, v in pooled.items()})
    tps = [r["throughput_it_s"] for r in report["ranks"]]
    if tps and all(t is not None for t in tps):
        out[("throughput_it_s", None)] = min(tps)  # the run goes at its slowest rank's pace
    batches = {r["rank"]: r.get("batches") for r in report["ranks"]}
    for kind, c in (report.get("collectives") or {}).items():
        for x in c["ranks"]:
            fake = {"batches": batches.get(x["rank"])}
            out[(f"collective:{kind}:transfer_s/batch", x["rank"])] = _per_batch(fake, x["transfer_s"])
            out[(f"collective:{kind}:wait_s/batch", x["rank"])] = _per_batch(fake, x["wait_s"])
    for p in ((report.get("memory") or {}).get("events") or {}).get("peaks") or []:
        out[(f"memory_peak_allocated_bytes:{p['device']}", p["rank"])] = p["peak_allocated"]
    return out


def _is_seconds(metric: str) -> bool:
    return metric.endswith("_s") or metric.endswith("/batch")


def _change(metric: str, rank: int | None, va: Any, vb: Any) -> dict:
    p = None
    series = isinstance(va, list) or isinstance(vb, list)
    if series:
        xa, xb = va or [], vb or []
        _, p = mann_whitney(xa, xb)
        a, b = _median(xa), _median(xb)
    else:
        a, b = va, vb
    delta = None if a is None or b is None else b - a
    pct = None if delta is None or not a else 100.0 * delta / abs(a)
    significant = None
    if series:
        significant = bool(delta is not None and p < ALPHA and abs(delta) >= MIN_EFFECT_S
                           and (pct is None or abs(pct) >= MIN_EFFECT_PCT))
    return {"metric": metric, "rank": rank, "a": a, "b": b, "delta": delta, "delta_pct": pct,
            "significant": significant, "p_value": p,
            "batches": [len(va or []), len(vb or [])] if series else None}


# GPU states that host causes show up as: at about the same size, the cause is listed first
GPU_STATES = ("gpu_idle_s", "communication_s", "gpu_active_s/batch", "computation_s/batch",
              "overlap_s/batch", "memory_ops_s/batch")
BAND = 1.1  # changes within one band of this ratio count as about the same size


def _order(c: dict) -> tuple:
    eff = abs(c["delta"]) if c["delta"] is not None and _is_seconds(c["metric"]) else 0.0
    band = math.floor(math.log(eff * 1e9) / math.log(BAND)) if eff * 1e9 >= 1 else -1
    return (c["significant"] is not True, -band, c["metric"] in GPU_STATES, -eff, c["metric"],
            -1 if c["rank"] is None else c["rank"])


def _findings(report: dict) -> dict[tuple, dict]:
    return {(f["rule"], f["scope"], f["metric"]): f for f in report.get("findings") or []}


def compare_pair(a: dict, b: dict) -> dict:
    """The changes from report a (baseline) to report b."""
    ma, mb = run_metrics(a), run_metrics(b)
    rows = [_change(m, r, ma.get((m, r)), mb.get((m, r)))
            for (m, r) in sorted(set(ma) | set(mb), key=lambda x: (x[0], -1 if x[1] is None else x[1]))]
    summary = sorted((c for c in rows if c["metric"] in OUTCOMES), key=_order)
    changes = sorted((c for c in rows if c["metric"] not in OUTCOMES), key=_order)
    fa, fb = _findings(a), _findings(b)
    findings = ([{"status": "appeared", "rule": k[0], "scope": k[1], "metric": k[2], "ranks": fb[k]["ranks"],
                  "severity": fb[k]["severity"]} for k in sorted(set(fb) - set(fa), key=str)]
                + [{"status": "disappeared", "rule": k[0], "scope": k[1], "metric": k[2], "ranks": fa[k]["ranks"],
                    "severity": fa[k]["severity"]} for k in sorted(set(fa) - set(fb), key=str)])
    return {"summary": summary, "changes": changes, "findings": findings}


def build_comparison(runs: Sequence[tuple[str, dict]]) -> dict:
    """Compare every run with the first: {"runs", "baseline", "comparisons", "changes"} where
    ``changes`` (and ``summary``, ``findings``) are those of the first comparison."""
    base_label, base = runs[0]
    comparisons = []
    for label, rep in runs[1:]:
        c = compare_pair(base, rep)
        comparisons.append({"a": base_label, "b": label, **c})
    first = comparisons[0]
    return {
        "method": {"test": "Mann-Whitney U, two-sided, on per-batch values", "alpha": ALPHA,
                   "min_effect_pct": MIN_EFFECT_PCT, "min_effect_s": MIN_EFFECT_S},
        "runs": [{"label": lab, "ranks": len(r["ranks"]),
                  "batches": {x["rank"]: x["batches"] for x in r["ranks"]}} for lab, r in runs],
        "baseline": base_label,
        "summary": first["summary"],
        "changes": first["changes"],
        "findings": first["findings"],
        "comparisons": comparisons,
    }


def regressions(comparison: dict, fail_on: Sequence[tuple[str, float]]) -> list[str]:
    """Changes worse than their --fail-on percentage: a rise of a time metric, a fall of
    throughput; a testable change must also be significant. One line each. A METRIC that
    no comparison has is bad input."""
    known = {row["metric"] for c in comparison["comparisons"] for row in c["summary"] + c["changes"]}
    for metric, _ in fail_on:
        if metric not in known:
            base = sorted(m for m in known if "/" not in m and ":" not in m)
            raise InputError(None, f"--fail-on: no metric {metric!r} in the comparison (e.g. {', '.join(base)})")
    out = []
    for c in comparison["comparisons"]:
        for row in c["summary"] + c["changes"]:
            for metric, pct in fail_on:
                if row["metric"] != metric or row["delta_pct"] is None or row["significant"] is False:
                    continue
                worse = -row["delta_pct"] if metric == "throughput_it_s" else row["delta_pct"]
                if worse > pct:
                    where = "overall" if row["rank"] is None else f"rank {row['rank']}"
                    out.append(f"{metric} ({where}) {c['a']} -> {c['b']}: {row['delta_pct']:+.1f}% "
                               f"(limit {pct:g}%)")
    return out


# -- rendering -----------------------------------------------------------------------------

COLUMNS = ["Metric", "Rank", "A", "B", "Δ", "Δ %", "p", "Significant"]


def _cells(c: dict) -> list[str]:
    f = "{:.6f}" if _is_seconds(c["metric"]) else "{:.4g}"
    sig = {True: "yes", False: "no", None: "—"}[c["significant"]]
    return [c["metric"], "all" if c["rank"] is None else str(c["rank"]), num(c["a"], f), num(c["b"], f),
            num(c["delta"], "{:+.6f}" if _is_seconds(c["metric"]) else "{:+.4g}"),
            num(c["delta_pct"], "{:+.1f}"), num(c["p_value"], "{:.3g}"), sig]


def _rows_for(c: dict, top: int | None) -> tuple[list[dict], list[dict]]:
    changes = c["changes"] if top is None else c["changes"][:top]
    return c["summary"], changes


def render_compare_text(comparison: dict, top: int | None = 25) -> str:
    from .output import rows_as_table

    out = []
    for c in comparison["comparisons"]:
        summary, changes = _rows_for(c, top)
        title = f"{c['a']} -> {c['b']}"
        out += [title, "=" * len(title), "Summary:"]
        out += rows_as_table(COLUMNS, [_cells(x) for x in summary], max_width=60).splitlines()[:-1]
        sig = sum(1 for x in c["changes"] if x["significant"])
        out += ["", f"Changes ({sig} significant; seconds are per batch; ordered by effect on step time):"]
        out += rows_as_table(COLUMNS, [_cells(x) for x in changes], max_width=60).splitlines()[:-1]
        if c["findings"]:
            out += ["", "Findings:"] + [f"  {f['status']}: {f['rule']} ({f['scope']}, {f['metric']})"
                                        for f in c["findings"]]
        out.append("")
    return "\n".join(out)


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_").replace("<", "&lt;")


def render_compare_markdown(comparison: dict, top: int | None = 25) -> str:
    out = ["# anemoi-tp compare", ""]
    for c in comparison["comparisons"]:
        summary, changes = _rows_for(c, top)
        out += [f"## {_md(c['a'])} → {_md(c['b'])}", ""]
        for title, rows in (("Summary", summary), ("Changes", changes)):
            out += [f"### {title}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
            out += ["| " + " | ".join(_md(x) for x in _cells(r)) + " |" for r in rows]
            out.append("")
        for f in c["findings"]:
            out.append(f"- {f['status']}: {_md(f['rule'])} ({_md(f['scope'])}, {_md(f['metric'])})")
        out.append("")
    return "\n".join(out)


# -- timelines of the HTML page -------------------------------------------------------------

def focus_rank(c: dict) -> int | None:
    """The rank whose median step time changed most in comparison ``c`` (ties: the lower)."""
    rows = [x for x in c["summary"] if x["metric"] == "step_time_s" and x["rank"] is not None
            and x["delta"] is not None]
    return min(rows, key=lambda x: (-abs(x["delta"]), x["rank"]))["rank"] if rows else None


def add_focus_timelines(comparison: dict, runs: Sequence[tuple[dict, Any]]) -> None:
    """At many ranks a report's timeline shows only some ranks: put the focus rank of each
    comparison on the timeline of every run ((report, connection) pairs, as built)."""
    from .report.build import add_timeline_ranks
    from .report.plots import DETAIL_RANKS

    focus = sorted({r for c in comparison["comparisons"] if (r := focus_rank(c)) is not None})
    for report, con in runs:
        if focus and len(report["ranks"]) > DETAIL_RANKS:
            add_timeline_ranks(con, report, focus)


def timeline_pairs(c: dict, a: dict, b: dict) -> list[dict]:
    """Per rank (every rank both runs have; at many ranks the focus rank only), the median and
    slowest batch of run a then of run b as one timeline (report.plots.timeline) on one ms axis."""
    from .report.plots import DETAIL_RANKS, timeline

    common = sorted({r["rank"] for r in a["ranks"]} & {r["rank"] for r in b["ranks"]})
    many = len(a["ranks"]) > DETAIL_RANKS or len(b["ranks"]) > DETAIL_RANKS
    ranks = [r for r in [focus_rank(c)] if r is not None] if many else common
    step = {x["rank"]: x for x in c["summary"] if x["metric"] == "step_time_s"}
    out = []
    for rank in ranks:
        picked = [[dict(t, roles=[f"{side}: " + ", ".join(x for x in t["roles"] if x != "first")])
                   for t in rep.get("timeline_batches") or []
                   if t["rank"] == rank and {"median", "slowest"} & set(t["roles"])]
                  for side, rep in (("A", a), ("B", b))]
        hi = max([t["batch_ns"] / 1e6 for rows in picked for t in rows] + [0.0])
        parts = [timeline(rep, rows, hi) if rows else None for rep, rows in zip((a, b), picked)]
        missing = [f"{lab}: no complete batch with GPU activity on rank {rank}"
                   for lab, p in zip((c["a"], c["b"]), parts) if p is None]
        tl = None
        if not missing:
            ta, tb = parts
            rows = ta["rows"] + [dict(r, y=r["y"] + ta["height"]) for r in tb["rows"]]
            tl = {"axis": ta["axis"], "rows": rows, "height": ta["height"] + tb["height"],
                  "split": ta["height"]}
        s = step.get(rank)
        out.append({"rank": rank, "timeline": tl, "missing": missing,
                    "step": None if s is None else {k: s[k] for k in ("a", "b", "delta_pct", "significant")}})
    return out


def render_compare_html(comparison: dict, top: int | None = 25,
                        reports: Sequence[dict] | None = None) -> str:
    """The comparison as a page; with ``reports`` (the runs' reports, in order) also the
    timelines of the median and slowest batch of each run, per rank (timeline_pairs)."""
    from .report.plots import DETAIL_RANKS
    from .report.render import render_compare_timelines

    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>anemoi-tp compare</title>",
             "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:right}td:first-child{text-align:left}.sig{background:#fde2e2}</style>",
             "</head><body><h1>anemoi-tp compare</h1>"]
    labels = [r["label"] for r in comparison["runs"]]
    for i, c in enumerate(comparison["comparisons"]):
        summary, changes = _rows_for(c, top)
        parts.append(f"<h2>{e(c['a'])} → {e(c['b'])}</h2>")
        for title, rows in (("Summary", summary), ("Changes", changes)):
            parts.append(f"<h3>{title}</h3><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in COLUMNS) + "</tr>")
            for r in rows:
                cls = " class='sig'" if r["significant"] else ""
                parts.append(f"<tr{cls}>" + "".join(f"<td>{e(x)}</td>" for x in _cells(r)) + "</tr>")
            parts.append("</table>")
        if c["findings"]:
            parts.append("<ul>" + "".join(f"<li>{e(f['status'])}: {e(f['rule'])} ({e(f['scope'])}, "
                                          f"{e(f['metric'])})</li>" for f in c["findings"]) + "</ul>")
        if reports is not None:
            ra, rb = reports[labels.index(c["a"])], reports[labels.index(c["b"])]
            parts.append(render_compare_timelines(c, timeline_pairs(c, ra, rb), many=any(
                len(r["ranks"]) > DETAIL_RANKS for r in (ra, rb)), index=i))
    parts.append("</body></html>\n")
    return "\n".join(parts)
