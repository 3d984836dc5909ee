"""Report sections as data: one spec per section drives the text, Markdown, HTML and JSON
reports alike, so no format can forget one. A new section is a `section_*` view (in
queries/report/), a spec here and a test.

A spec names its title, the ONE SQL view its rows come from, its columns (header, view column,
unit, format) and why it can be empty. Missing numbers are NULL in the views (the SQL decides);
every format prints them as "—".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb

from ..database import fetch_dicts, relation_names
from .formatting import MISSING, rank_span


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    unit: str = ""
    fmt: str = "{}"   # a str.format spec, or "text", "ranks" (a list shown as 'ranks 0–3'), "link"

    @property
    def title(self) -> str:
        return f"{self.header} ({self.unit})" if self.unit else self.header

    @property
    def numeric(self) -> bool:
        return self.fmt not in ("text", "ranks", "link")


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    view: str
    columns: tuple[Column, ...]
    missing: str                      # shown when the view has no rows (or does not exist)
    per_rank: bool = True             # one row (or more) per rank: collapsed in HTML at many ranks
    every_rank: bool = False          # kept for every rank even beyond ALL_RANKS_UP_TO ranks
    limit_key: str | None = None      # a column holding a position: rows beyond `top` are left out
    note: str = ""                    # one line under the title, in every format


def _c(header: str, key: str, unit: str = "", fmt: str = "{}") -> Column:
    return Column(header, key, unit, fmt)


F3, F2, F1 = "{:.3f}", "{:.2f}", "{:.1f}"
RANK = _c("Rank", "rank")

SECTIONS: tuple[Section, ...] = (
    Section("cross_rank", "Across ranks", "section_cross_rank",
            (_c("Metric", "metric", fmt="text"), _c("Unit", "unit", fmt="text"), _c("Ranks", "ranks"),
             _c("Min", "min", fmt=F3), _c("Median", "median", fmt=F3), _c("Max", "max", fmt=F3),
             _c("Worst rank", "worst_rank"), _c("Worst host", "worst_host", fmt="text")),
            "no rank has a window", per_rank=False,
            note="step time = median batch length; comm wait = time waiting for other ranks in "
                 "collectives; worst = largest (ties: lowest rank)"),
    Section("hosts", "By host", "section_hosts",
            (_c("Host", "host", fmt="text"), _c("Ranks", "n_ranks"), _c("Which", "ranks", fmt="ranks"),
             _c("Step median", "step_ms_median", "ms", F3), _c("Step max", "step_ms_max", "ms", F3),
             _c("GPU idle max", "gpu_idle_pct_max", "%", F2), _c("Slowest rank", "worst_rank")),
            "no rank", per_rank=False),
    Section("overview", "Performance overview", "section_overview",
            (RANK, _c("Total", "total_ms", "ms", F3), _c("Batches", "batches"),
             _c("Step", "step_ms", "ms", F3), _c("Throughput", "throughput_it_s", "it/s", F2),
             _c("GPU idle", "gpu_idle_pct", "%", F2), _c("Comm", "comm_pct", "%", F2)),
            "no rank", every_rank=True),
    Section("missing", "Not computed", "section_missing",
            (_c("Rank", "rank"), _c("Part", "section", fmt="text"), _c("Why", "reason", fmt="text")),
            "every number could be computed", every_rank=True),
    Section("links", "Where to look", "section_links",
            (RANK, _c("Spot", "spot", fmt="text"), _c("What", "what", fmt="text"),
             _c("Link", "perfetto_url", fmt="link")),
            "no complete batch, GPU gap or annotation to link to"),
    Section("phases", "Phase breakdown", "section_phases",
            (RANK, _c("Phase", "name", fmt="text"), _c("Time", "time_ms", "ms", F3),
             _c("Share", "pct", "%", F2), _c("Of it comm", "comm_pct", "%", F1)),
            "no phase ranges on any rank (see Not computed)"),
    Section("modules", "Module breakdown", "section_modules",
            (RANK, _c("Module group", "name", fmt="text"), _c("Time", "time_ms", "ms", F3),
             _c("Share", "pct", "%", F2), _c("Of it comm", "comm_pct", "%", F1)),
            "no module ranges on any rank (see Not computed)"),
    Section("gpu", "GPU time breakdown", "section_gpu",
            (RANK, _c("Active", "active_ms", "ms", F3), _c("Idle", "idle_ms", "ms", F3),
             _c("Computation", "computation_ms", "ms", F3), _c("Communication", "communication_ms", "ms", F3),
             _c("Memory ops", "memory_ops_ms", "ms", F3), _c("Data loader", "data_loader_ms", "ms", F3),
             _c("Comm∩comp", "overlap_ms", "ms", F3), _c("Of comm", "overlap_pct_of_comm", "%", F1),
             _c("Of comp", "overlap_pct_of_comp", "%", F1)),
            "no rank has a window", every_rank=True),
    Section("module_gpu", "Module GPU time, forward and backward", "section_module_gpu",
            (RANK, _c("Module group", "module", fmt="text"), _c("Dir", "direction", fmt="text"),
             _c("GPU", "gpu_ms", "ms", F3)),
            "no GPU work under module ranges (see Not computed)"),
    Section("annotations", "Top annotations by GPU time", "section_annotations",
            (RANK, _c("#", "pos"), _c("Annotation", "name", fmt="text"), _c("Dir", "direction", fmt="text"),
             _c("Module", "module", fmt="text"), _c("Calls", "calls"), _c("GPU", "gpu_ms", "ms", F3),
             _c("Avg", "avg_us", "µs", F1), _c("Max", "max_us", "µs", F1), _c("Min", "min_us", "µs", F1),
             _c("Overlap", "overlap_pct", "%", F1)),
            "no annotation owns GPU time", limit_key="pos"),
    Section("batch_series", "Per-batch series", "section_batch_series",
            (RANK, _c("Batch", "batch"), _c("Start", "start_ms", "ms", F3), _c("Duration", "duration_ms", "ms", F3),
             _c("GPU idle", "gpu_idle_ms", "ms", F3), _c("Comm", "communication_ms", "ms", F3),
             _c("Data loader", "data_loader_ms", "ms", F3), _c("Flag", "flag", fmt="text")),
            "no batches (the window is the trace's span): name the batch ranges with --batch REGEX",
            note="batch i runs from its start to the next batch's start, the last to the window "
                 "end: the slices partition the window"),
    Section("batch_trend", "Batch trend (Theil–Sen)", "section_batch_trend",
            (RANK, _c("Batches", "batches"), _c("Slope", "slope_ms", "ms/batch", F3),
             _c("Drift", "drift_pct_per_batch", "%/batch", "{:+.2f}"), _c("Drifting", "drifting", fmt="text"),
             _c("Warm-up", "warmup_batches"), _c("Outliers", "outlier_batches"),
             _c("Why missing", "missing", fmt="text")),
            "no batches (the window is the trace's span)"),
    Section("top_kernels", "Top kernels by total time", "section_top_kernels",
            (RANK, _c("#", "pos"), _c("Kernel", "name", fmt="text"), _c("Class", "class", fmt="text"),
             _c("Calls", "calls"), _c("Total", "total_ms", "ms", F3), _c("Mean", "mean_us", "µs", F1),
             _c("Max", "max_us", "µs", F1), _c("Of active", "share_pct", "%", F1),
             _c("Phase", "phase", fmt="text"), _c("Module", "module", fmt="text")),
            "no GPU activity in any window", limit_key="pos"),
    Section("top_operators", "Top CPU operators by self time", "section_top_operators",
            (RANK, _c("#", "pos"), _c("Operator", "name", fmt="text"), _c("Calls", "calls"),
             _c("Self", "self_ms", "ms", F3), _c("Total", "total_ms", "ms", F3),
             _c("Self/call", "mean_self_us", "µs", F1), _c("Of window", "self_pct", "%", F1)),
            "no CPU operators (cpu_op events) in any window", limit_key="pos"),
    Section("layers", "Per-layer window split", "section_layers",
            (RANK, _c("#", "pos"), _c("Layer", "layer", fmt="text"), _c("Dir", "direction", fmt="text"),
             _c("Part", "part_ms", "ms", F3), _c("Share", "pct", "%", F2), _c("GPU", "gpu_ms", "ms", F3),
             _c("GPU idle", "idle_ms", "ms", F3), _c("Comm", "communication_ms", "ms", F3),
             _c("Comm∩comp", "comm_overlap_ms", "ms", F3)),
            "no module ranges on any rank (see Not computed)", limit_key="pos",
            note="layers: the module groups and their direct children (--module-depth N); the "
                 "largest --top per rank"),
    Section("collectives", "Collectives across ranks", "section_collectives",
            (_c("Kind", "kind", fmt="text"), RANK, _c("Count", "instances"),
             _c("Transfer", "transfer_ms", "ms", F3), _c("Wait", "wait_ms", "ms", F3),
             _c("Arrived last", "last_arrivals"), _c("", "straggler", fmt="text")),
            "no collective matched across ranks (needs two or more ranks with the same "
            "communication kernels)"),
    Section("metadata", "Trace metadata", "section_metadata",
            (RANK, _c("File", "file", fmt="text"), _c("Rank from", "rank_source", fmt="text"),
             _c("World", "world_size"), _c("Backend", "backend", fmt="text"), _c("Host", "host", fmt="text"),
             _c("PID", "pid"), _c("Trace ID", "trace_id", fmt="text"), _c("CUPTI", "cupti_version"),
             _c("CUDA rt", "cuda_runtime_version"), _c("CUDA drv", "cuda_driver_version"),
             _c("NCCL", "nccl_version", fmt="text")),
            "no trace file"),
    Section("devices", "Devices", "section_devices",
            (RANK, _c("Device", "device"), _c("Name", "name", fmt="text"), _c("Memory", "memory_gib", "GiB", F1),
             _c("CC", "compute_capability", fmt="text"), _c("SMs", "num_sms"), _c("Warp", "warp_size")),
            "the traces carry no deviceProperties"),
    Section("memory_peaks", "Memory peaks", "section_memory_peaks",
            (RANK, _c("Device", "device", fmt="text"), _c("Events", "events"),
             _c("Peak allocated", "peak_allocated_mib", "MiB", "{:,.1f}"),
             _c("Peak reserved", "peak_reserved_mib", "MiB", "{:,.1f}")),
            "no [memory] events in the trace (record with torch.profiler profile_memory=True)"),
    Section("memory_growth", "Allocations by phase and module", "section_memory_growth",
            (RANK, _c("Device", "device", fmt="text"), _c("By", "dim", fmt="text"), _c("Owner", "owner", fmt="text"),
             _c("Allocated", "allocated_mib", "MiB", "{:,.1f}"), _c("Freed", "freed_mib", "MiB", "{:,.1f}"),
             _c("Net", "net_mib", "MiB", "{:,.1f}")),
            "no [memory] events in the trace (record with torch.profiler profile_memory=True)"),
    Section("snapshot_devices", "Memory snapshot", "section_snapshot_devices",
            (_c("Snapshot", "file", fmt="text"), _c("Device", "device"), _c("Segments", "segments"),
             _c("Reserved", "reserved_mib", "MiB", "{:,.1f}"), _c("Allocated", "allocated_mib", "MiB", "{:,.1f}"),
             _c("Requested", "requested_mib", "MiB", "{:,.1f}"), _c("Inactive", "inactive_mib", "MiB", "{:,.1f}"),
             _c("Fragmentation", "fragmentation_pct", "%", F1)),
            "no memory snapshot (memory_snapshot.pickle beside the traces, or `anemoi-tp memory SNAPSHOT`)",
            per_rank=False),
    Section("snapshot_sites", "Snapshot: top allocation sites", "section_snapshot_sites",
            (_c("Snapshot", "file", fmt="text"), _c("Device", "device"), _c("Site", "site", fmt="text"),
             _c("Module", "module", fmt="text"), _c("Blocks", "blocks"), _c("Size", "mib", "MiB", "{:,.1f}")),
            "no memory snapshot", per_rank=False),
    Section("snapshot_ooms", "Snapshot: out-of-memory events", "section_snapshot_ooms",
            (_c("Snapshot", "file", fmt="text"), _c("Device", "device"), _c("Time", "time_us", "µs"),
             _c("Requested", "size_mib", "MiB", "{:,.1f}"), _c("Free", "free_mib", "MiB", "{:,.1f}"),
             _c("Site", "site", fmt="text")),
            "no out-of-memory event in a snapshot (or no snapshot)", per_rank=False),
)


def cell(value: Any, col: Column) -> str:
    """A value as every format prints it: missing (None, NaN) is "—"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if col.fmt == "ranks":
        return rank_span(list(value)).split(" ", 1)[1] if value else MISSING
    if col.fmt in ("text", "link"):
        return str(value)
    return col.fmt.format(value)


ALL_RANKS_UP_TO = 64   # beyond it, per-rank detail shows the timeline's ranks (every format)
TOP_MANY_RANKS = 5     # annotations per rank beyond 16 ranks


def collect(con: duckdb.DuckDBPyConnection, top: int | None = None) -> list[dict]:
    """Every section as {id, title, note, per_rank, columns, rows, missing}; rows hold the view's
    values (JSON), `missing` the reason when there are none.

    A report stays readable (and small) at 1000 ranks: beyond 16 ranks the annotation table
    keeps TOP_MANY_RANKS per rank; beyond ALL_RANKS_UP_TO ranks the per-rank detail sections
    keep the ranks the timeline shows (report_links.sql: slowest, median, fastest, rank 0);
    the note says so. The overview, GPU and cross-rank sections keep every rank.
    """
    n_ranks = con.execute("SELECT count(*) FROM ranks").fetchone()[0]
    if n_ranks > 16:
        top = min(top or TOP_MANY_RANKS, TOP_MANY_RANKS)
    shown = None
    if n_ranks > ALL_RANKS_UP_TO:
        shown = {r for (r,) in con.execute("SELECT rank FROM rl_shown_ranks").fetchall()}
    out = []
    present = relation_names(con)
    for s in SECTIONS:
        rows: list[dict] = []
        note = s.note
        if s.view in present:
            keys = [c.key for c in s.columns]
            rows = [{k: r[k] for k in keys} for r in fetch_dicts(con, s.view)]
            if s.limit_key and top is not None:
                rows = [r for r in rows if r[s.limit_key] <= top]
                if n_ranks > 16:
                    note = f"top {top} per rank ({n_ranks} ranks)"
            if shown is not None and "rank" in keys and not s.every_rank:
                rows = [r for r in rows if r["rank"] in shown]
                note = ((note + "; ") if note else "") + (
                    f"{len(shown)} of {n_ranks} ranks: those of the timeline (slowest, median, "
                    "fastest, rank 0); every rank: anemoi-tp query")
        out.append({"id": s.id, "title": s.title, "note": note, "per_rank": s.per_rank,
                    "columns": [{"header": c.header, "key": c.key, "unit": c.unit, "format": c.fmt}
                                for c in s.columns],
                    "rows": rows, "missing": None if rows else s.missing})
    return out


def spec(section_id: str) -> Section:
    return next(s for s in SECTIONS if s.id == section_id)


def formatted(section: dict) -> tuple[list[str], list[list[str]]]:
    """(column titles, rows of cells) of a collected section, as every format prints them."""
    cols = spec(section["id"]).columns
    return ([c.title for c in cols], [[cell(r[c.key], c) for c in cols] for r in section["rows"]])
