"""Plot geometry for the HTML report: numbers only; the templates draw them (and escape text)."""
from __future__ import annotations

CLASSES = ("computation", "communication", "memory")
COLOURS = {"computation": "#4e79a7", "communication": "#e15759", "memory": "#f28e2b",
           "idle": "#d9d9d9", "forward": "#4e79a7", "backward": "#f28e2b", "optimizer": "#59a14f",
           "data_loader": "#e15759", "elsewhere": "#bab0ac", "encoder": "#76b7b2",
           "processor": "#edc948", "decoder": "#b07aa1"}
WIDTH = 900


def timelines(report: dict) -> list[dict]:
    """One small Nsight-like view per (rank, batch): a lane per class and an idle lane."""
    groups: dict[tuple, list] = {}
    for seg in report.get("timeline", []):
        groups.setdefault((seg["rank"], seg["batch"]), []).append(seg)
    out = []
    for (rank, batch), segs in sorted(groups.items()):
        total = segs[0]["batch_ns"] or 1
        scale = WIDTH / total
        lanes = []
        for i, cls in enumerate(CLASSES):
            rects = [{"x": s["start_ns"] * scale, "w": max((s["end_ns"] - s["start_ns"]) * scale, 0.5),
                      "label": f"{cls}: {(s['end_ns'] - s['start_ns']) / 1e3:.1f} µs at "
                               f"+{s['start_ns'] / 1e3:.1f} µs"}
                     for s in segs if s["class"] == cls]
            lanes.append({"name": cls, "y": i * 18, "colour": COLOURS[cls], "rects": rects})
        busy = sorted((s["start_ns"], s["end_ns"]) for s in segs)
        idle, cursor = [], 0
        for a, b in busy:
            if a > cursor:
                idle.append((cursor, a))
            cursor = max(cursor, b)
        if cursor < total:
            idle.append((cursor, total))
        lanes.append({"name": "idle", "y": 3 * 18, "colour": COLOURS["idle"],
                      "rects": [{"x": a * scale, "w": max((b - a) * scale, 0.5),
                                 "label": f"GPU idle: {(b - a) / 1e3:.1f} µs at +{a / 1e3:.1f} µs"}
                                for a, b in idle]})
        out.append({"rank": rank, "batch": batch, "ms": total / 1e6, "lanes": lanes, "width": WIDTH})
    return out


def stacked_bars(report: dict, key: str) -> list[dict]:
    """Per rank, the window split (phases or modules) as one horizontal stacked bar."""
    bars = []
    for r in report["ranks"]:
        parts = r.get(key)
        if not parts:
            continue
        x = 0.0
        segs = []
        for p in parts:
            w = (p["pct"] or 0) / 100 * WIDTH
            segs.append({"x": x, "w": w, "name": p["name"], "colour": COLOURS.get(p["name"], "#999"),
                         "label": f"{p['name']}: {p['duration_s'] * 1e3:.3f} ms ({p['pct']:.1f}%)"
                                  + (f", incl. {p['comm_pct']:.1f}% comm." if p["comm_pct"] else "")})
            x += w
        bars.append({"rank": r["rank"], "segments": segs})
    return bars


def rank_bars(report: dict) -> list[dict]:
    """Per-rank comparison: total split into GPU active and idle, same scale for all ranks."""
    ranks = [r for r in report["ranks"] if r["total_s"]]
    longest = max((r["total_s"] for r in ranks), default=0) or 1
    out = []
    for r in ranks:
        active = r["gpu_active_s"]
        w = r["total_s"] / longest * WIDTH
        aw = (active / r["total_s"] * w) if active is not None else 0
        out.append({"rank": r["rank"], "active_w": aw, "idle_w": w - aw,
                    "label": f"rank {r['rank']}: {r['total_s'] * 1e3:.3f} ms, "
                             + (f"GPU idle {r['gpu_idle_pct']:.1f}%" if r["gpu_idle_pct"] is not None
                                else "no GPU data")})
    return out


def annotation_bars(report: dict, top: int = 10) -> list[dict]:
    """The top annotations of each rank by GPU time."""
    out = []
    for r in report["ranks"]:
        anns = [a for a in (r.get("annotations") or []) if a["gpu_total_s"]][:top]
        if not anns:
            continue
        m = max(a["gpu_total_s"] for a in anns)
        out.append({"rank": r["rank"], "bars": [
            {"w": a["gpu_total_s"] / m * (WIDTH - 320), "name": a["name"], "direction": a["direction"],
             "label": f"{a['name']} ({a['direction']}): {a['gpu_total_s'] * 1e3:.3f} ms in {a['calls']} calls"}
            for a in anns]})
    return out
