"""HTML and Markdown reports from the Jinja templates in reports/."""
from __future__ import annotations

import re

import jinja2
import markupsafe

from ..resources import resource_dir
from . import plots
from .formatting import finding_value, mib, ms, num, rank_span, rules_summary
from .sections_perf import render_perf_html, render_perf_markdown

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!])")


def _md(text) -> str:
    """Escape a string for Markdown: nothing in it is read as markup, links or HTML."""
    return "" if text is None else _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(resource_dir("reports"))),
                             autoescape=autoescape, undefined=jinja2.StrictUndefined,
                             trim_blocks=False, lstrip_blocks=False)
    env.globals.update(num=num, ms=ms, mib=mib, rank_span=rank_span, finding_value=finding_value,
                       rules_summary=rules_summary, colours=plots.COLOURS, width=plots.WIDTH)
    env.filters["md"] = _md
    return env


def render_html(report: dict, top: int = 25) -> str:
    tpl = _environment(autoescape=True).get_template("report.html.j2")
    return tpl.render(report=report, top=top, timelines=plots.timelines(report),
                      breakdowns={"phases": plots.stacked_bars(report, "phases"),
                                  "modules": plots.stacked_bars(report, "modules")},
                      rank_bars=plots.rank_bars(report), annotation_bars=plots.annotation_bars(report),
                      perf_sections=markupsafe.Markup(render_perf_html(report)))  # escaped there


def render_markdown(report: dict, top: int = 25) -> str:
    tpl = _environment(autoescape=False).get_template("report.md.j2")
    return tpl.render(report=report, top=top, perf_sections=render_perf_markdown(report, _md))

