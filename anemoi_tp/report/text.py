"""The report as text tables for a terminal: the findings, then every section of sections.py."""
from __future__ import annotations

from ..output import rows_as_table
from .formatting import finding_value, rank_span, rules_summary
from .sections import formatted


def tail(text: str, width: int = 70) -> str:
    """Long names keep their end, where module paths differ."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _table(title: str, note: str, columns: list[str], rows: list[list[str]]) -> str:
    # links and reasons stay whole (to copy, to read); other long cells keep their tail
    whole = {i for i, c in enumerate(columns) if c == "Why"}
    rows = [[c if c.startswith("https://") or i in whole else tail(c) for i, c in enumerate(r)]
            for r in rows]
    body = rows_as_table(columns, rows, max_width=10**6).splitlines()[:-1]  # drop "(n rows)"
    return "\n".join([title, "=" * len(title), *([note] if note else []), *body, ""])


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
    """Findings, then the sections in order; the annotation table only with `detailed`."""
    out = [_findings(report)]
    for sec in report["sections"]:
        if sec["id"] == "annotations" and not detailed:
            out.append(f"{sec['title']}\n{'=' * len(sec['title'])}\n(with --detailed)\n")
            continue
        if not sec["rows"]:
            out.append(f"{sec['title']}\n{'=' * len(sec['title'])}\n— ({sec['missing']})\n")
            continue
        columns, rows = formatted(sec)
        if sec["id"] == "annotations":
            rows = [r for r, raw in zip(rows, sec["rows"]) if raw["pos"] <= top]
        out.append(_table(sec["title"], sec["note"], columns, rows))
    return "\n".join(out)
