"""How numbers show in text, HTML and Markdown reports: a missing one is "—", never 0."""
from __future__ import annotations

from typing import Any

MISSING = "—"


def num(v: Any, fmt: str = "{:.3f}") -> str:
    return MISSING if v is None else fmt.format(v)


def ms(seconds: float | None) -> str:
    """Seconds shown as milliseconds."""
    return num(None if seconds is None else seconds * 1e3)


def mib(nbytes: float | None) -> str:
    return num(None if nbytes is None else nbytes / 2**20, "{:,.1f}")


def rank_span(ranks: list[int] | None) -> str:
    """'rank 3', 'ranks 0–3, 5': runs of consecutive ranks joined by an en dash."""
    rs = sorted({r for r in ranks or [] if r is not None})  # a snapshot's finding has no rank
    if not rs:
        return "no rank"
    runs: list[list[int]] = []
    for r in rs:
        if runs and r == runs[-1][-1] + 1:
            runs[-1].append(r)
        else:
            runs.append([r])
    parts = [str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs]
    return ("rank " if len(rs) == 1 else "ranks ") + ", ".join(parts)


def finding_value(f: dict) -> str:
    """'metric = 27.35 (threshold 10)'; on several ranks the headline rank and the spread."""
    ranks = f.get("ranks") or []
    text = f"{f['metric']} = {num(f['value'], '{:.2f}')}"
    if len(ranks) > 1:
        text += (f" on rank {f['rank']} (over {len(ranks)} ranks: min {num(f['value_min'], '{:.2f}')}, "
                 f"median {num(f['value_median'], '{:.2f}')}, max {num(f['value_max'], '{:.2f}')}; "
                 f"threshold {num(f['threshold'], '{:g}')})")
    else:
        text += f" (threshold {num(f['threshold'], '{:g}')})"
    return text


def rules_summary(report: dict) -> tuple[str | None, list[str]]:
    """(what to say when nothing fired, notes on rules that could not be evaluated).

    "No rule fired." only when rules ran; when none could run, "Rules not evaluated: <why>".
    """
    status = report.get("rule_status") or []
    ran = [s for s in status if s["status"] == "ran"]
    empty = None
    if not report["findings"]:
        if ran or not status:
            empty = "No rule fired."
        else:
            counts: dict[str, int] = {}
            for s in status:
                for why in (s["reason"] or "unknown").split("; "):
                    counts[why] = counts.get(why, 0) + 1
            empty = "Rules not evaluated: " + "; ".join(
                sorted(counts, key=lambda w: (-counts[w], w)))
    notes = []
    if ran:
        for s in status:
            if s["status"] != "ran":
                notes.append(f"{s['rule']}: not evaluated ({s['reason']})")
            elif s["skipped_ranks"]:
                notes.append(f"{s['rule']}: not evaluated on {rank_span(s['skipped_ranks'])} "
                             f"({s['reason']})")
    return empty, notes
