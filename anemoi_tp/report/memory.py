"""The memory section of a report: [memory] events of traces, and memory snapshots."""
from __future__ import annotations

import duckdb

from ..database import fetch_dicts as _rows
from ..database import has_relation, run_sql
from ..output import rows_as_table
from .formatting import mib as _mib
from .formatting import num


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """The table exists and has rows (the snapshot tables exist empty once the rules ran)."""
    if not has_relation(con, name):
        return False
    return bool(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])


def memory_section(con: duckdb.DuckDBPyConnection, top: int = 10) -> dict:
    """{"events": …, "snapshots": …, "missing": {part: reason}}; run after the analyses."""
    out: dict = {"missing": {}}
    # a set's database (pipeline/reduce.py) holds the ranks' memory tables, made by their maps
    made = has_relation(con, "memory_timeline") and not has_relation(con, "trace_events")
    if made or _has_table(con, "trace_events"):
        if not made:
            run_sql(con, "memory/memory_events.sql")
        if con.execute("SELECT count(*) FROM memory_timeline").fetchone()[0]:
            out["events"] = {
                "peaks": _rows(con, "memory_peaks"),
                "batch_peaks": _rows(con, "memory_batch_peaks"),
                "growth": _rows(con, "memory_growth"),
            }
        else:
            out["missing"]["events"] = ("no [memory] events in the trace (record with "
                                        "torch.profiler profile_memory=True)")
    if _has_table(con, "memory_snapshots"):
        run_sql(con, "memory/snapshot_summary.sql")
        snaps = []
        for s in _rows(con, "memory_snapshots"):
            where = f"(SELECT * EXCLUDE (snapshot_id) FROM {{}} WHERE snapshot_id = {int(s['snapshot_id'])})"
            snaps.append({
                "file": s["file"],
                "devices": _rows(con, where.format("mem_device_summary")),
                "pools": _rows(con, where.format("mem_pool_summary")),
                "peak": _rows(con, where.format("mem_peak")),
                "largest": _rows(con, where.format("mem_largest") + f" LIMIT {int(top)}"),
                "sites": _rows(con, where.format("mem_sites") + f" LIMIT {int(top)}"),
                "ooms": _rows(con, where.format("mem_ooms")),
                "churn": _rows(con, where.format("mem_churn")),
            })
        out["snapshots"] = snaps
    else:
        out["missing"]["snapshots"] = ("no memory snapshot (memory_snapshot.pickle beside the traces, "
                                       "or `anemoi-tp memory SNAPSHOT`)")
    return out


def render_memory_text(mem: dict) -> str:
    out = ["Memory", "======"]
    ev = mem.get("events")
    if ev:
        out.append(rows_as_table(["Rank", "Device", "Events", "Peak alloc (MiB)", "Peak reserved (MiB)"],
                                 [[p["rank"], p["device"], p["events"], _mib(p["peak_allocated"]),
                                   _mib(p["peak_reserved"])] for p in ev["peaks"]]).rsplit("\n", 1)[0])
        growth = [g for g in ev["growth"] if g["allocated_bytes"]]
        if growth:
            out.append("\nAllocations in the window by phase / module (MiB)")
            out.append(rows_as_table(["Rank", "Device", "Dim", "Owner", "Allocated", "Freed", "Net"],
                                     [[g["rank"], g["device"], g["dim"], g["owner"], _mib(g["allocated_bytes"]),
                                       _mib(g["freed_bytes"]), _mib(g["net_bytes"])] for g in growth]
                                     ).rsplit("\n", 1)[0])
    for s in mem.get("snapshots", []):
        out.append(f"\nSnapshot {s['file']}")
        out.append(rows_as_table(["Device", "Segments", "Reserved", "Allocated", "Requested", "Inactive",
                                  "Fragmentation %"],
                                 [[d["device"], d["segments"], _mib(d["reserved_bytes"]), _mib(d["allocated_bytes"]),
                                   _mib(d["requested_bytes"]), _mib(d["inactive_bytes"]),
                                   num(d["fragmentation_pct"], "{:.1f}")]
                                  for d in s["devices"]]).rsplit("\n", 1)[0])
        for p in s["peak"]:
            out.append(f"device {p['device']}: peak allocated {_mib(p['peak_allocated'])} MiB at "
                       f"time_us {p['peak_time_us']} ({p['peak_frame'] or 'no frame'}), "
                       f"peak reserved {_mib(p['peak_reserved'])} MiB")
        if s["sites"]:
            out.append("Top allocation sites (live)")
            out.append(rows_as_table(["Device", "Site", "Module", "Blocks", "MiB"],
                                     [[x["device"], x["site"], x["module"] or "", x["blocks"], _mib(x["bytes"])]
                                      for x in s["sites"]], max_width=80).rsplit("\n", 1)[0])
        for o in s["ooms"]:
            out.append(f"OOM on device {o['device']} at {o['time_us']}: {o['size']} bytes requested, "
                       f"{o['device_free']} free ({o['site']})")
    for part, why in mem.get("missing", {}).items():
        out.append(f"{part}: — ({why})")
    return "\n".join(out) + "\n"
