"""One section spec drives every format: the same section titles and the same numbers in
text, Markdown, HTML and JSON, on the demo, a real trace and Anemoi's profiler folder; "—"
(never None / NULL / nan) for what cannot be computed; the gating lives in SQL."""
from __future__ import annotations

import html as _html
import json
import re

import pytest

from anemoi_tp.demo.generate import DemoConfig, generate_trace_set
from anemoi_tp.report.sections import SECTIONS, cell, spec

from builders import BATCH, GEMM, TRAIN, TraceBuilder
from conftest import SHARED_TRACES, shared_trace, write_trace
from test_cli import run


def _all_formats(src, tmp_path) -> dict:
    out = {}
    for fmt, name in (("json", "r.json"), ("html", "r.html"), ("markdown", "r.md")):
        r = run("report", str(src), "-f", fmt, "-o", str(tmp_path / name), "--top", "5")
        assert r.returncode == 0, r.stderr
        out[fmt] = (tmp_path / name).read_text()
    r = run("report", str(src), "--detailed", "--top", "5")
    assert r.returncode == 0, r.stderr
    out["text"] = r.stdout
    out["json"] = json.loads(out["json"])
    # Markdown's escapes and HTML's entities undone: the words a reader sees
    out["markdown_plain"] = re.sub(r"\\(.)", r"\1", out["markdown"])
    out["html_plain"] = _html.unescape(re.sub(r"<[^>]+>", " ", out["html"]))
    return out


def _sources(tmp_path_factory):
    demo = tmp_path_factory.mktemp("demo")
    generate_trace_set(demo, DemoConfig(ranks=4, batches=3))
    yield "demo", demo
    yield "real", SHARED_TRACES / "hta_sampled_rank-0.json.gz"
    yield "anemoi", SHARED_TRACES / "anemoi_cpu_profile_stock"


@pytest.mark.parametrize("which", ["demo", "real", "anemoi"])
def test_same_titles_and_numbers_in_every_format(which, tmp_path_factory):
    src = dict(_sources(tmp_path_factory))[which]
    if which != "demo":
        shared_trace(src.name)
    tmp = tmp_path_factory.mktemp(f"fmt-{which}")
    out = _all_formats(src, tmp)
    sections = out["json"]["sections"]
    assert [s["id"] for s in sections] == [s.id for s in SECTIONS]   # JSON: every section
    checked = 0
    for sec in sections:
        for fmt in ("text", "markdown_plain", "html_plain"):
            assert sec["title"] in out[fmt], (fmt, sec["title"])
            if not sec["rows"]:
                assert sec["missing"] in out[fmt], (fmt, sec["missing"])
        cols = spec(sec["id"]).columns
        for row in sec["rows"][:40]:
            for c in cols:
                if not c.numeric or row[c.key] is None:
                    continue
                shown = cell(row[c.key], c)   # the JSON value, formatted once
                for fmt in ("text", "markdown_plain", "html_plain"):
                    assert shown in out[fmt], (which, sec["id"], c.key, shown, fmt)
                checked += 1
    assert checked > 20
    # no table cell prints Python's or SQL's missing value (trace names may contain "None")
    assert not re.search(r"<td[^>]*>(None|NULL|nan|NaN)</td>", out["html"])
    assert not re.search(r"\| (None|NULL|nan|NaN) (?=\|)", out["markdown"])
    assert not re.search(r"(^|  )(None|NULL|nan|NaN)(  |$)", out["text"], re.M)


def test_missing_numbers_are_null_in_sql_and_a_dash_everywhere(tmp_path):
    # a CPU-only trace: one batch 0–100 µs and no GPU activity at all
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100)
    trace = write_trace(tmp_path / "t.json", b.events)
    out = _all_formats(trace, tmp_path)
    ov = next(s for s in out["json"]["sections"] if s["id"] == "overview")["rows"][0]
    assert ov["total_ms"] == pytest.approx(0.1) and ov["gpu_idle_pct"] is None
    assert out["json"]["ranks"][0]["gpu_idle_pct"] is None            # the stable key agrees
    assert out["json"]["ranks"][0]["gpu_time"]["computation_s"] is None
    for fmt in ("text", "markdown", "html_plain"):
        line = next(ln for ln in out[fmt].splitlines() if re.search(r"\b0\.100\b", ln))
        assert "—" in line, (fmt, line)
    # not drawn: no grey "GPU idle" bar for a rank without GPU data
    assert "GPU active / idle: — (no GPU activity)" in out["html"]
    assert 'fill="#d9d9d9"' not in out["html"]


def test_hand_computed_idle_and_escaped_markdown(tmp_path):
    # batch 0–100 µs, one kernel 10–90 µs: GPU idle 20 µs = 20.00 % of the window
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100).kernel(GEMM, 1, 10, 90)
    trace = write_trace(tmp_path / "t.json", b.events)
    out = _all_formats(trace, tmp_path)
    ov = next(s for s in out["json"]["sections"] if s["id"] == "overview")["rows"][0]
    assert ov["gpu_idle_pct"] == pytest.approx(20.0)
    for fmt in ("text", "markdown", "html_plain"):
        assert re.search(r"\b20\.00\b", out[fmt]), fmt


def test_markdown_escapes_collective_kinds_and_every_trace_string(tmp_path):
    from anemoi_tp.report.render import _md
    assert _md("<b>|x|</b>") == "\\<b\\>\\|x\\|\\</b\\>"
    md = open(__import__("anemoi_tp.resources", fromlist=["x"]).resource_dir("reports") / "report.md.j2").read()
    # every {{ … }} that prints a value goes through md, a number formatter or a link
    for expr in re.findall(r"\{\{(.*?)\}\}", md):
        safe = ("|length", '"---', "perfetto_url", "c.text")
        assert "|md" in expr.replace(" ", "") or expr.strip() == "f.rule" or any(x in expr for x in safe), expr
