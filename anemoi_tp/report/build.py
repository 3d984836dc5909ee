"""Gather every reported number into one dict: the JSON report and the input of templates."""
from __future__ import annotations

import json
from typing import Any

import duckdb

from .. import __version__
from ..analysis import query_versions, run_analyses
from ..database import fetch_dicts as _rows
from ..database import run_sql
from ..rules import rule_status, run_rules
from ..rules.run import grouped_findings
from .memory import memory_section
from .rank_tables import make_rank_tables
from .sections import collect
from .sections_perf import add_perf_sections, create_perf_views

GPU_KEYS = ("gpu_active_s", "gpu_idle_s", "gpu_idle_pct", "comm_pct")


def build_report(con: duckdb.DuckDBPyConnection, patterns: dict | None = None,
                 top_annotations: int | None = None, thresholds: dict | None = None,
                 analysed: bool = False, top: int | None = None,
                 module_depth: int | None = None) -> dict:
    """Run the analyses and rules on a loaded database and return the report as a dict.

    `sections` holds every report section (sections.py) with the rows of its SQL view; the
    other keys are the stable JSON report. Missing numbers are NULL in the views: this only
    copies them (report_views.sql decides). ``analysed``: the analysis and rule tables are
    there already (anemoi_tp/persist.py): only read them; ``patterns``, ``thresholds`` and
    ``module_depth`` (the per-layer split's depth) are then ignored. ``top``: rows per rank of
    the top-N sections.
    """
    if analysed:
        findings = grouped_findings(con)
    else:
        run_analyses(con, patterns, module_depth=module_depth)
        findings = run_rules(con, thresholds)
    make_rank_tables(con)
    run_sql(con, "report/report_views.sql")
    run_sql(con, "report/report_links.sql")
    run_sql(con, "report/report_sections.sql")
    memory = memory_section(con)
    if memory.get("events"):
        run_sql(con, "report/report_memory.sql")
    if memory.get("snapshots"):
        run_sql(con, "report/report_snapshot.sql")
    missing: dict[Any, dict[str, str]] = {}
    for m in _rows(con, "report_missing"):
        missing.setdefault(m["rank"], {})[m["section"]] = m["reason"]
    # rows grouped by rank once, in view order (not one scan of every row per rank)
    breakdown = _by(_rows(con, "report_breakdown"), "rank", "dim")
    module_gpu = _by(_rows(con, "report_module_gpu"), "rank")
    annotations = _by(_rows(con, "report_annotations"), "rank")
    ranks = []
    for r in _rows(con, "report_ranks"):
        rank = r["rank"]
        miss = missing.get(rank, {})
        item = {k: r[k] for k in ("rank", "batches", "window_source", "total_s", "throughput_it_s",
                                  *GPU_KEYS)}
        item["gpu_time"] = {k: r[k] for k in ("computation_s", "communication_s", "memory_ops_s",
                                              "data_loader_s")}
        item["overlap"] = {"overlap_s": r["overlap_s"], "pct_of_total": r["overlap_pct_of_total"],
                           "pct_of_comm": r["overlap_pct_of_comm"], "pct_of_comp": r["overlap_pct_of_comp"]}
        for key, dim in (("phases", "phase"), ("modules", "module")):
            parts = [{"name": b["name"], "duration_s": b["duration_s"], "pct": b["pct"],
                      "comm_pct": b["comm_pct"]}
                     for b in breakdown.get((rank, dim), ())]
            item[key] = parts or None   # the view has no rows where the split is missing
        mg = [{k: m[k] for k in ("module", "direction", "gpu_s")} for m in module_gpu.get((rank,), ())]
        item["module_gpu"] = mg or None
        anns = [{k: a[k] for k in ("name", "direction", "module", "calls", "gpu_total_s", "avg_us",
                                   "max_us", "min_us", "overlap_pct")}
                for a in annotations.get((rank,), ())]
        if top_annotations is not None:
            anns = anns[:top_annotations]
        # missing (None) where the GPU numbers are (the view decided), [] where none owns GPU time
        item["annotations"] = anns if r["gpu_active_s"] is not None else None
        reasons = dict(miss)
        if "window" in miss:
            reasons.setdefault("gpu", miss["window"])
        item["missing"] = reasons
        ranks.append(item)

    collectives: dict[str, Any] = {}
    for c in _rows(con, "report_collectives"):
        k = collectives.setdefault(c["kind"], {"instances": c["instances"], "ranks": [],
                                               "straggler_rank": None})
        k["ranks"].append({"rank": c["rank"], "instances": c["instances"],
                           "transfer_s": c["transfer_s"], "wait_s": c["wait_s"],
                           "last_arrivals": c["last_arrivals"]})
        if c["straggler"]:   # collective_straggler: the one definition the rule uses too
            k["straggler_rank"] = c["rank"]
    for k in collectives.values():
        k["instances"] = max(x["instances"] for x in k["ranks"])
    meta_rows = _rows(con, "ranks")
    for m in meta_rows:
        m["metadata"] = json.loads(m["metadata"]) if m.get("metadata") else None
    devices = _rows(con, "devices")
    for d in devices:
        d.pop("properties", None)
    create_perf_views(con)
    report = {
        "tool": {"name": "anemoi-tp", "version": __version__},
        "queries": query_versions(),
        "ranks": ranks,
        "collectives": collectives,
        "collectives_missing": missing.get(None, {}).get("collectives"),
        "metadata": {"ranks": meta_rows},
        "devices": devices,
        "ingest_issues": _rows(con, "ingest_issues"),
        "findings": findings,
        "rule_status": rule_status(con),
        "links": _rows(con, "report_links"),
        "timeline": _rows(con, "report_timeline"),
        "timeline_batches": _rows(con, "report_timeline_batches"),
        "rank_metrics": _rows(con, "section_rank_metrics"),
        "memory": memory,
        "memory_curve": (_rows(con, "report_memory_curve") if memory.get("events") else []),
        "memory_batches": (_rows(con, "report_memory_batches") if memory.get("events") else []),
        "sections": collect(con, top if top is not None else top_annotations),
    }
    add_perf_sections(con, report, top)
    return report


def _by(rows: list[dict], *keys: str) -> dict[tuple, list[dict]]:
    """Rows grouped by the values of ``keys``, each group in the rows' order."""
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def add_timeline_ranks(con: duckdb.DuckDBPyConnection, report: dict, ranks: list[int]) -> None:
    """Put ``ranks`` on the timeline of a report built on ``con`` as well (besides the ranks
    report_links.sql picks at many ranks): refreshes ``timeline`` and ``timeline_batches``."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS report_focus_ranks (rank INTEGER)")
    con.execute("DELETE FROM report_focus_ranks")
    con.executemany("INSERT INTO report_focus_ranks VALUES (?)", [[r] for r in ranks])
    run_sql(con, "report/report_links.sql")
    report["timeline"] = _rows(con, "report_timeline")
    report["timeline_batches"] = _rows(con, "report_timeline_batches")
