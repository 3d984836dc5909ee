"""Plot geometry for the HTML report: numbers only; the templates draw them (and escape text).

Every chart has an axis with its unit; what cannot be computed is not drawn (it says why).
Where there are more than DETAIL_RANKS ranks, the per-rank charts show the ranks of the
timeline (the slowest, the median, the fastest and rank 0: report_links.sql) and say so; the
heatmap shows every rank.
"""
from __future__ import annotations

import math
import re

CLASSES = ("computation", "communication", "memory")
LANES = CLASSES + ("data_loader",)   # the timeline's lanes: GPU classes, then host data loading
ROW_H = 30                            # a timeline row: 4 lanes of 6 px and a gap
COLOURS = {"computation": "#4e79a7", "communication": "#e15759", "memory": "#f28e2b",
           "idle": "#d9d9d9", "forward": "#4e79a7", "backward": "#f28e2b", "optimizer": "#59a14f",
           "data_loader": "#9c755f", "elsewhere": "#bab0ac", "encoder": "#76b7b2",
           "processor": "#edc948", "decoder": "#b07aa1", "allocated": "#4e79a7", "reserved": "#e15759"}
OTHER = ("#ff9da7", "#af7aa1", "#86bcb6", "#8cd17d", "#b6992d", "#499894", "#d37295", "#a0cbe8")
WIDTH = 900
LABEL_W = 150
DETAIL_RANKS = 16


def colour(name: str) -> str:
    if name in COLOURS:
        return COLOURS[name]
    return OTHER[sum(map(ord, name)) % len(OTHER)]


def nice_ticks(hi: float, n: int = 6) -> list[float]:
    """Round tick values from 0 to at least hi (1, 2, 5 × 10^k steps)."""
    if not hi or hi <= 0:
        return [0.0]
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(math.ceil(hi / step - 1e-9)) + 1)]


def axis(hi: float, width: float = WIDTH, unit: str = "ms") -> dict:
    ticks = nice_ticks(hi)
    top = ticks[-1] or 1
    return {"unit": unit, "max": top, "scale": width / top,
            "ticks": [{"x": t * width / top, "label": f"{t:g}"} for t in ticks]}


def short_name(name: str, width: int = 48) -> str:
    """The distinctive tail of an annotation: the module path after '[pl][module]Class: ',
    else the name; cut at the front."""
    m = re.match(r"^\[pl\]\[module\][^:]*: (\S+)(.*)$", name)
    text = (m.group(1) + m.group(2)) if m else name
    return text if len(text) <= width else "…" + text[-(width - 1):]


def detail_ranks(report: dict) -> tuple[list[int], str]:
    """The ranks the per-rank charts show, and a note saying which when not all."""
    ranks = [r["rank"] for r in report["ranks"]]
    if len(ranks) <= DETAIL_RANKS:
        return ranks, ""
    shown = sorted({b["rank"] for b in report.get("timeline_batches", [])})
    return shown, (f"showing {len(shown)} of {len(ranks)} ranks: the 12 with the slowest batches, "
                   "the median and the fastest rank, and rank 0 (the heatmap shows every rank)")


def timeline(report: dict, batches: list[dict] | None = None, max_ms: float | None = None) -> dict | None:
    """The shown batches (first, median, slowest of each rank) on one time axis (ms).
    ``batches``: these rows of report["timeline_batches"] only; ``max_ms``: the axis reaches
    at least this far (compare puts two runs on one axis)."""
    if batches is None:
        batches = report.get("timeline_batches") or []
    if not batches:
        return None
    segs: dict[tuple, list] = {}
    for s in report.get("timeline", []):
        segs.setdefault((s["rank"], s["batch"]), []).append(s)
    ax = axis(max([b["batch_ns"] / 1e6 for b in batches] + [max_ms or 0]))
    rows = []
    for i, b in enumerate(batches):
        lanes = []
        for j, cls in enumerate(LANES):
            rects = [{"x": s["start_ns"] / 1e6 * ax["scale"],
                      "w": max((s["end_ns"] - s["start_ns"]) / 1e6 * ax["scale"], 0.3),
                      "label": f"rank {b['rank']} batch {b['batch']}: {cls.replace('_', ' ')} "
                               f"{(s['end_ns'] - s['start_ns']) / 1e6:.3f} ms at +{s['start_ns'] / 1e6:.3f} ms"}
                     for s in segs.get((b["rank"], b["batch"]), []) if s["class"] == cls]
            lanes.append({"cls": cls, "y": j * 6, "colour": COLOURS[cls], "rects": rects})
        rows.append({"y": i * ROW_H, "rank": b["rank"], "batch": b["batch"], "roles": ", ".join(b["roles"]),
                     "ms": b["batch_ns"] / 1e6, "w": b["batch_ns"] / 1e6 * ax["scale"],
                     "url": b["perfetto_url"], "lanes": lanes})
    _, note = detail_ranks(report)
    return {"axis": ax, "rows": rows, "height": len(rows) * ROW_H, "note": note}


def stacked_bars(report: dict, key: str) -> dict | None:
    """Per shown rank, the window split (phases or modules) as a bar on a 0–100 % axis."""
    shown, note = detail_ranks(report)
    bars, names = [], []
    for r in report["ranks"]:
        parts = r.get(key)
        if not parts or r["rank"] not in shown:
            continue
        x = 0.0
        segs = []
        for p in parts:
            w = (p["pct"] or 0) / 100 * WIDTH
            if p["name"] not in names:
                names.append(p["name"])
            segs.append({"x": x, "w": w, "name": p["name"], "colour": colour(p["name"]),
                         "text": f"{p['name']} {p['pct']:.0f}%" if w > 70 else "",
                         "label": f"rank {r['rank']}: {p['name']} {p['duration_s'] * 1e3:.3f} ms "
                                  f"({p['pct']:.1f}%)"
                                  + (f", incl. {p['comm_pct']:.1f}% comm." if p["comm_pct"] else "")})
            x += w
        bars.append({"rank": r["rank"], "segments": segs})
    if not bars:
        return None
    return {"bars": bars, "axis": axis(100, unit="% of the window"),
            "legend": [{"name": n, "colour": colour(n)} for n in names], "note": note}


def rank_bars(report: dict) -> dict | None:
    """Per shown rank: its window on one ms axis, GPU active and idle; only the window where
    the GPU numbers are missing (nothing grey claims idle time)."""
    shown, note = detail_ranks(report)
    ranks = [r for r in report["ranks"] if r["total_s"] and r["rank"] in shown]
    if not ranks:
        return None
    ax = axis(max(r["total_s"] for r in ranks) * 1e3)
    out = []
    for r in ranks:
        w = r["total_s"] * 1e3 * ax["scale"]
        active = r["gpu_active_s"]
        out.append({"rank": r["rank"], "w": w, "gpu": active is not None,
                    "active_w": active * 1e3 * ax["scale"] if active is not None else 0,
                    "label": f"rank {r['rank']}: window {r['total_s'] * 1e3:.3f} ms, "
                             + (f"GPU active {active * 1e3:.3f} ms, idle {r['gpu_idle_pct']:.1f}%"
                                if active is not None else "GPU — (no GPU activity: not drawn)")})
    return {"bars": out, "axis": ax, "note": note}


def annotation_bars(report: dict, top: int = 10) -> list[dict]:
    """The top annotations of each shown rank by GPU time, on a ms axis; labels keep the tail."""
    shown, _ = detail_ranks(report)
    out = []
    for r in report["ranks"]:
        anns = [a for a in (r.get("annotations") or []) if a["gpu_total_s"]][:top]
        if not anns or r["rank"] not in shown:
            continue
        ax = axis(max(a["gpu_total_s"] for a in anns) * 1e3, WIDTH - 340)
        out.append({"rank": r["rank"], "axis": ax, "bars": [
            {"w": a["gpu_total_s"] * 1e3 * ax["scale"], "name": short_name(a["name"]) + " " + a["direction"],
             "label": f"{a['name']} ({a['direction']}): {a['gpu_total_s'] * 1e3:.3f} ms in {a['calls']} calls"}
            for a in anns]})
    return out


HEAT_METRICS = (("step_ms", "step time", "ms"), ("gpu_idle_pct", "GPU idle", "%"),
                ("comm_wait_ms", "comm wait", "ms"), ("data_loader_ms", "data loading", "ms"))


def heatmap(report: dict) -> dict | None:
    """Rank × metric, each metric coloured from its min (light) to its max (dark), rows grouped
    by host; missing cells are left blank (with the reason on hover)."""
    rows = sorted(report.get("rank_metrics") or [], key=lambda m: (m["host"] or "", m["rank"]))
    if not rows:
        return None
    h = max(2.0, min(14.0, 1400 / len(rows)))
    cell_w = 150
    span = {}
    for key, _, _ in HEAT_METRICS:
        vals = [m[key] for m in rows if m[key] is not None]
        span[key] = (min(vals), max(vals)) if vals else None
    cells, labels, hosts = [], [], []
    every = max(1, int(math.ceil(12 / h)))  # rank labels: one per 12 px
    for i, m in enumerate(rows):
        y = i * h
        if i % every == 0:
            labels.append({"y": y + min(h, 12) - 1, "text": f"rank {m['rank']}"})
        if not hosts or hosts[-1]["host"] != m["host"]:
            hosts.append({"host": m["host"] or "—", "y0": y, "y1": y + h})
        hosts[-1]["y1"] = y + h
        for j, (key, name, unit) in enumerate(HEAT_METRICS):
            v, sp = m[key], span[key]
            if v is None or sp is None:
                continue
            f = 0.5 if sp[1] == sp[0] else (v - sp[0]) / (sp[1] - sp[0])
            # light yellow to dark red: the worse, the darker
            rgb = (int(255 - 75 * f), int(245 - 200 * f), int(200 - 170 * f))
            cells.append({"x": j * cell_w, "y": y, "h": h, "fill": "#{:02x}{:02x}{:02x}".format(*rgb),
                          "label": f"rank {m['rank']} ({m['host'] or 'host —'}): {name} {v:.3f} {unit}"})
    # host names are 12 px tall: where hosts' rows are thinner (many ranks, few per host) a
    # name is written only 12 px below the last one written; every host keeps its line, and
    # its name on hover
    last = None
    for g in hosts:
        g["named"] = last is None or g["y0"] - last >= 12
        if g["named"]:
            last = g["y0"]
    return {"cells": cells, "labels": labels, "hosts": hosts, "row_h": h, "cell_w": cell_w,
            "height": len(rows) * h, "metrics": [
                {"x": j * cell_w, "name": f"{name} ({unit})",
                 "range": (f"{span[k][0]:.3g}–{span[k][1]:.3g}" if span[k] else "— (not computed)")}
                for j, (k, name, unit) in enumerate(HEAT_METRICS)]}


def memory_curves(report: dict) -> list[dict]:
    """Allocated and reserved MiB over the window of each shown rank (GPU devices), with the
    batch starts marked."""
    shown, _ = detail_ranks(report)
    curves: dict[tuple, list] = {}
    for p in report.get("memory_curve") or []:
        if p["rank"] in shown:
            curves.setdefault((p["rank"], p["device"]), []).append(p)
    out = []
    for (rank, device), pts in sorted(curves.items()):
        xmax = max(p["t_ms"] for p in pts) or 1
        ymax = max(max(p["reserved_mib"] or 0, p["allocated_mib"] or 0) for p in pts) or 1
        ax, ay = axis(xmax, WIDTH - 60), axis(ymax, 120, "MiB")
        def line(key, pts=pts, ax=ax, ay=ay):  # bound now: the loop moves on
            return " ".join(f"{p['t_ms'] * ax['scale']:.1f},{120 - (p[key] or 0) * ay['scale']:.1f}"
                            for p in pts if p[key] is not None)
        marks = [b["t_ms"] * ax["scale"] for b in report.get("memory_batches", [])
                 if b["rank"] == rank and b["t_ms"] <= ax["max"]]
        out.append({"rank": rank, "device": device, "x": ax, "y": ay, "allocated": line("allocated_mib"),
                    "reserved": line("reserved_mib"), "batches": marks})
    return out


SERIES_LINES = (("duration_s", "batch duration", "#333333"), ("gpu_idle_s", "GPU idle", "#8c8c8c"),
                ("communication_s", "communication", COLOURS["communication"]),
                ("data_loader_s", "data loading", COLOURS["data_loader"]))
SERIES_H = 140          # plot height, px
SERIES_MARKS = 60       # up to this many batches every point is marked (with its values on hover)


def _theil_sen_intercept(points: list[tuple[int, float]], slope: float) -> float:
    """The Theil–Sen intercept: the median of y − slope·x over the fitted points."""
    r = sorted(y - slope * x for x, y in points)
    m = len(r) // 2
    return r[m] if len(r) % 2 else (r[m - 1] + r[m]) / 2


def batch_series(report: dict) -> dict:
    """Per shown rank: the per-batch series (batch index on x, ms on y) as lines of the batch
    duration and its GPU idle, communication and data-loading parts (these overlap: lines,
    not a stack), warm-up batches shaded, outliers circled, and the Theil–Sen trend of the
    duration over the non-warm-up batches (batch_trend) drawn. Ranks without batches are
    listed in ``missing`` with the reason."""
    shown, note = detail_ranks(report)
    charts, missing = [], []
    w = WIDTH - 60
    for r in report["ranks"]:
        if r["rank"] not in shown:
            continue
        rows = r.get("batch_series")
        if not rows:
            missing.append({"rank": r["rank"], "reason": (r.get("missing") or {}).get("batch_series", "no batches")})
            continue
        n = max(b["batch"] for b in rows)
        ax = axis(max(n, 6), w, "batch")
        hi = max(b[k] or 0 for b in rows for k, _, _ in SERIES_LINES) * 1e3
        ay = axis(hi, SERIES_H, "ms")
        def xy(x, ms, ax=ax, ay=ay):  # bound now: the loop moves on
            return round(x * ax["scale"], 1) + 0.0, round(SERIES_H - ms * ay["scale"], 1) + 0.0  # no "-0.0"
        lines, absent = [], []
        for key, name, col in SERIES_LINES:
            if any(b[key] is None for b in rows):
                absent.append(name)   # GPU numbers of a rank without GPU activity are missing
                continue
            pts = " ".join("{:.1f},{:.1f}".format(*xy(b["batch"], b[key] * 1e3)) for b in rows)
            lines.append({"name": name, "colour": col, "points": pts, "width": 2 if key == "duration_s" else 1.2})
        marks = []
        for b in rows:
            flags = [f for f in ("warmup", "outlier") if b[f]]
            if not flags and len(rows) > SERIES_MARKS:
                continue
            x, y = xy(b["batch"], b["duration_s"] * 1e3)
            parts = ", ".join(f"{name} {b[k] * 1e3:.3f} ms" for k, name, _ in SERIES_LINES[1:] if b[k] is not None)
            marks.append({"x": x, "y": y, "warmup": bool(b["warmup"]), "outlier": bool(b["outlier"]),
                          "label": f"rank {r['rank']} batch {b['batch']}"
                                   + ("".join(f" ({'warm-up' if f == 'warmup' else f})" for f in flags))
                                   + f": {b['duration_s'] * 1e3:.3f} ms" + (f"; {parts}" if parts else "")})
        band = ax["scale"]
        warm = [{"x": b["batch"] * ax["scale"] - band / 2, "w": band} for b in rows if b["warmup"]]
        trend = r.get("batch_trend") or {}
        line = None
        if trend.get("slope_ms") is not None:
            fit = [(b["batch"], b["duration_s"] * 1e3) for b in rows if not b["warmup"]]
            c = _theil_sen_intercept(fit, trend["slope_ms"])
            x0, x1 = fit[0][0], fit[-1][0]
            (ax0, ay0), (ax1, ay1) = xy(x0, c + trend["slope_ms"] * x0), xy(x1, c + trend["slope_ms"] * x1)
            line = {"x1": ax0, "y1": ay0, "x2": ax1, "y2": ay1,
                    "label": f"trend (Theil–Sen, batches {x0}–{x1} without warm-up): "
                             f"{trend['slope_ms']:+.4f} ms per batch"
                             + (f", {trend['drift_pct_per_batch']:+.2f}% of the median"
                                if trend.get("drift_pct_per_batch") is not None else "")}
        charts.append({"rank": r["rank"], "x": ax, "y": ay, "lines": lines, "marks": marks, "warm": warm,
                       "trend": line, "trend_missing": None if line else (trend.get("missing") or "no trend"),
                       "absent": absent})
    return {"charts": charts, "missing": missing, "note": note,
            "legend": [{"name": name, "colour": col} for _, name, col in SERIES_LINES]}
