"""The report as text tables for a terminal."""
from __future__ import annotations

from ..output import rows_as_table
from .formatting import MISSING, finding_value, rank_span, rules_summary
from .formatting import ms as _ms
from .formatting import num as _f
from .memory import render_memory_text


def _table(title: str, columns: list[str], rows: list[list]) -> str:
    body = rows_as_table(columns, rows, max_width=70).splitlines()[:-1]  # drop "(n rows)"
    return "\n".join([title, "=" * len(title), *body, ""])


def _tail(name: str, width: int = 70) -> str:
    """Long names keep their end, where module paths differ."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _shown(row: list) -> list:
    """Metadata a trace does not hold shows as "—" (the query tool's NULL is for SQL users)."""
    return [MISSING if v is None else v for v in row]


def _findings(report: dict) -> str:
    fs = report["findings"]
    empty, notes = rules_summary(report)
    if not fs:
        lines = ["Findings", "========", empty or ""]
    else:
        lines = ["Findings (worst first)", "======================"]
    for i, f in enumerate(fs, 1):
        lines.append(f"{i}. [{f['severity'].upper()}] {f['rule']} ({rank_span(f['ranks'])}, {f['scope']}): "
                     f"{finding_value(f)}")
        lines.append(f"   {f['evidence']}")
        lines.append(f"   advice: {f['advice']}")
        if f["perfetto_url"]:
            lines.append(f"   open: {f['perfetto_url']}")
    if notes:
        lines.append("Not evaluated:")
        lines.extend(f"  {n}" for n in notes)
    return "\n".join(lines) + "\n"


def render_text(report: dict, detailed: bool = False, top: int = 25) -> str:
    out = [_findings(report)]
    ranks = report["ranks"]
    out.append(_table("Performance overview", ["Rank", "Total (ms)", "Batches", "Throughput (it/s)",
                                               "GPU idle %", "Comm %"],
                      [[r["rank"], _ms(r["total_s"]), r["batches"], _f(r["throughput_it_s"], "{:.2f}"),
                        _f(r["gpu_idle_pct"], "{:.2f}"), _f(r["comm_pct"], "{:.2f}")] for r in ranks]))
    notes = [f"  rank {r['rank']}: {sec}: {why}" for r in ranks for sec, why in r["missing"].items()]
    if report.get("collectives_missing"):
        notes.append(f"  collectives: {report['collectives_missing']}")
    if notes:
        out.append("Not computed\n============\n" + "\n".join(notes) + "\n")
    meta = report["metadata"]["ranks"]
    out.append(_table("Trace metadata", ["Rank", "File", "Rank from", "World", "Backend", "Host", "PID",
                                         "Framework", "CUDA rt", "CUDA drv", "NCCL"],
                      [_shown([m["rank"], m["file"], m["rank_source"], m["world_size"], m["backend"],
                               m["host"], m["pid"], m["framework"], m["cuda_runtime_version"],
                               m["cuda_driver_version"], m["nccl_version"]]) for m in meta]))
    if report["devices"]:
        out.append(_table("Devices", ["Rank", "Device", "Name", "Memory (GiB)", "CC", "SMs", "Warp"],
                          [_shown([d["rank"], d["device"], d["name"],
                                   _f(None if d["total_memory_bytes"] is None
                                      else d["total_memory_bytes"] / 2**30, "{:.1f}"),
                                   d["compute_capability"], d["num_sms"], d["warp_size"]]) for d in report["devices"]]))
    for key, title in (("phases", "Phase breakdown"), ("modules", "Module breakdown")):
        rows = []
        for r in ranks:
            for p in r[key] or []:
                comm = p["comm_pct"]
                rows.append([r["rank"], p["name"], _ms(p["duration_s"]), _f(p["pct"], "{:.2f}"),
                             f"(incl. {comm:.1f}% comm.)" if comm else ""])
        if rows:
            out.append(_table(title, ["Rank", "Name", "Time (ms)", "% of total", ""], rows))
    rows = []
    for r in ranks:
        g, o = r["gpu_time"], r["overlap"]
        rows.append([r["rank"], _ms(r["gpu_active_s"]), _ms(r["gpu_idle_s"]), _ms(g["computation_s"]),
                     _ms(g["communication_s"]), _ms(g["memory_ops_s"]), _ms(g["data_loader_s"]),
                     _ms(o["overlap_s"]), _f(o["pct_of_comm"], "{:.1f}"), _f(o["pct_of_comp"], "{:.1f}")])
    out.append(_table("GPU time breakdown (ms)", ["Rank", "Active", "Idle", "Computation",
                                                  "Communication", "Memory ops", "Data loader",
                                                  "Comm∩comp", "% of comm", "% of comp"], rows))
    mg = [[r["rank"], m["module"], m["direction"], _ms(m["gpu_s"])] for r in ranks for m in r["module_gpu"] or []]
    if mg:
        out.append(_table("Module GPU time (ms)", ["Rank", "Module", "Dir", "GPU"], mg))
    if report["collectives"]:
        rows = []
        for kind, k in report["collectives"].items():
            for x in k["ranks"]:
                rows.append([kind, x["rank"], x["instances"], _ms(x["transfer_s"]), _ms(x["wait_s"]),
                             x["last_arrivals"], "straggler" if x["rank"] == k["straggler_rank"] else ""])
        out.append(_table("Collectives across ranks", ["Kind", "Rank", "Count", "Transfer (ms)",
                                                       "Wait (ms)", "Arrived last", ""], rows))
    if report.get("memory"):
        out.append(render_memory_text(report["memory"]))
    if detailed:
        rows = [[r["rank"], _tail(a["name"]), a["direction"], a["module"] or "", a["calls"], _ms(a["gpu_total_s"]),
                 _f(a["avg_us"], "{:.1f}"), _f(a["max_us"], "{:.1f}"), _f(a["min_us"], "{:.1f}"),
                 _f(a["overlap_pct"], "{:.1f}")] for r in ranks for a in (r["annotations"] or [])[:top]]
        if rows:
            out.append(_table("Annotations (by GPU time)", ["Rank", "Annotation", "Dir", "Module", "Calls",
                                                            "GPU (ms)", "Avg (µs)", "Max (µs)", "Min (µs)",
                                                            "Overlap %"], rows))
    return "\n".join(out)
