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
from .memory import memory_section

GPU_KEYS = ("gpu_active_s", "gpu_idle_s", "gpu_idle_pct", "comm_pct")


def build_report(con: duckdb.DuckDBPyConnection, patterns: dict | None = None,
                 top_annotations: int | None = None, thresholds: dict | None = None) -> dict:
    """Run the analyses and rules on a loaded database and return the report as a dict."""
    run_analyses(con, patterns)
    findings = run_rules(con, thresholds)
    run_sql(con, "report/report_views.sql")
    run_sql(con, "report/report_links.sql")
    missing: dict[Any, dict[str, str]] = {}
    for m in _rows(con, "report_missing"):
        missing.setdefault(m["rank"], {})[m["section"]] = m["reason"]
    breakdown = _rows(con, "report_breakdown")
    module_gpu = _rows(con, "report_module_gpu")
    annotations = _rows(con, "report_annotations")
    ranks = []
    for r in _rows(con, "report_ranks"):
        rank = r["rank"]
        miss = missing.get(rank, {})
        no_window, no_gpu = "window" in miss, "gpu" in miss
        item = {
            "rank": rank,
            "batches": r["batches"],
            "window_source": r["window_source"],
            "total_s": r["total_s"],
            "throughput_it_s": r["throughput_it_s"],
        }
        gpu_ok = not (no_window or no_gpu)
        for k in GPU_KEYS:
            item[k] = r[k] if gpu_ok else None
        item["gpu_time"] = {
            "computation_s": r["computation_s"] if gpu_ok else None,
            "communication_s": r["communication_s"] if gpu_ok else None,
            "memory_ops_s": r["memory_ops_s"] if gpu_ok else None,
            "data_loader_s": r["data_loader_s"] if not no_window else None,
        }
        item["overlap"] = {
            "overlap_s": r["overlap_s"] if gpu_ok else None,
            "pct_of_total": r["overlap_pct_of_total"] if gpu_ok else None,
            "pct_of_comm": r["overlap_pct_of_comm"] if gpu_ok else None,
            "pct_of_comp": r["overlap_pct_of_comp"] if gpu_ok else None,
        }
        for key, dim in (("phases", "phase"), ("modules", "module")):
            ok = not no_window and key not in miss
            item[key] = [{"name": b["name"], "duration_s": b["duration_s"], "pct": b["pct"],
                          "comm_pct": b["comm_pct"]}
                         for b in breakdown if b["rank"] == rank and b["dim"] == dim] if ok else None
        item["module_gpu"] = ([{k: m[k] for k in ("module", "direction", "gpu_s")}
                               for m in module_gpu if m["rank"] == rank]
                              if gpu_ok and "modules" not in miss else None)
        anns = [{k: a[k] for k in ("name", "direction", "module", "calls", "gpu_total_s", "avg_us",
                                   "max_us", "min_us", "overlap_pct")}
                for a in annotations if a["rank"] == rank] if gpu_ok else None
        if anns is not None and top_annotations is not None:
            anns = anns[:top_annotations]
        item["annotations"] = anns
        reasons = dict(miss)
        if no_window:
            reasons.setdefault("gpu", miss["window"])
        item["missing"] = reasons
        ranks.append(item)

    collectives: dict[str, Any] = {}
    for c in _rows(con, "report_collectives"):
        k = collectives.setdefault(c["kind"], {"instances": c["instances"], "ranks": []})
        k["ranks"].append({"rank": c["rank"], "instances": c["instances"],
                           "transfer_s": c["transfer_s"], "wait_s": c["wait_s"],
                           "last_arrivals": c["last_arrivals"]})
    for k in collectives.values():
        worst = max(k["ranks"], key=lambda x: (x["last_arrivals"], -x["rank"]))
        k["straggler_rank"] = worst["rank"] if worst["last_arrivals"] else None
        k["instances"] = max(x["instances"] for x in k["ranks"])
    meta_rows = _rows(con, "ranks")
    for m in meta_rows:
        m["metadata"] = json.loads(m["metadata"]) if m.get("metadata") else None
    devices = _rows(con, "devices")
    for d in devices:
        d.pop("properties", None)
    return {
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
        "memory": memory_section(con),
    }
