"""HTML and Markdown reports from the Jinja templates in reports/; the sections (sections.py)
are printed by one loop in each, with the cells every format shares."""
from __future__ import annotations

import re

import jinja2

from ..resources import resource_dir
from . import plots
from .formatting import finding_value, mib, ms, num, rank_span, rules_summary
from .sections import formatted, spec

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")


def _md(text) -> str:
    """Escape a string for Markdown: nothing in it is read as markup, links or HTML."""
    return "" if text is None else _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def _cells(section: dict, top: int) -> tuple[list[dict], list[list[dict]]]:
    """Headers and rows of a section as {text, numeric, link} cells (the shared formatting)."""
    cols = spec(section["id"]).columns
    titles, rows = formatted(section)
    if section["id"] == "annotations":
        rows = [r for r, raw in zip(rows, section["rows"]) if raw["pos"] <= top]
    head = [{"text": t, "numeric": c.numeric} for t, c in zip(titles, cols)]
    body = [[{"text": v, "numeric": c.numeric, "link": c.fmt == "link" and v != "—"}
             for v, c in zip(r, cols)] for r in rows]
    return head, body


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(resource_dir("reports"))),
                             autoescape=autoescape, undefined=jinja2.StrictUndefined,
                             trim_blocks=False, lstrip_blocks=False)
    env.globals.update(num=num, ms=ms, mib=mib, rank_span=rank_span, finding_value=finding_value,
                       rules_summary=rules_summary, colours=plots.COLOURS, width=plots.WIDTH,
                       label_w=plots.LABEL_W, cells=_cells)
    env.filters["md"] = _md
    return env


def render_html(report: dict, top: int = 25) -> str:
    tpl = _environment(autoescape=True).get_template("report.html.j2")
    return tpl.render(report=report, top=top, timeline=plots.timeline(report),
                      breakdowns={"phases": plots.stacked_bars(report, "phases"),
                                  "modules": plots.stacked_bars(report, "modules")},
                      rank_bars=plots.rank_bars(report), annotation_bars=plots.annotation_bars(report),
                      heatmap=plots.heatmap(report), memory_curves=plots.memory_curves(report),
                      batch_series=plots.batch_series(report),
                      collapse=len(report["ranks"]) > 8)


def render_markdown(report: dict, top: int = 25) -> str:
    tpl = _environment(autoescape=False).get_template("report.md.j2")
    return tpl.render(report=report, top=top)


def render_compare_timelines(comparison: dict, pairs: list[dict], many: bool, index: int = 0) -> str:
    """The timelines of one comparison (compare.timeline_pairs) as an HTML fragment."""
    tpl = _environment(autoescape=True).get_template("compare_timelines.html.j2")
    return tpl.render(c=comparison, pairs=pairs, many=many, index=index)
