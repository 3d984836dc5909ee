"""Issue 14's HTML pieces: the per-batch series plot of every report and the timelines of
`anemoi-tp compare -o x.html`, in a real headless chromium (no console errors, axes with units,
a legend), checked against values worked out by hand or recomputed here from the series;
screenshots under $ANEMOI_TP_SCREENS (default /tmp/anemoi-tp-screens) to look at."""
from __future__ import annotations

import json
import re
from statistics import median

from test_html_report import browse, needs_chromium
from test_html_screens import _screenshot
from test_series_top_layers import main_trace

from anemoi_tp.demo.generate import DemoConfig, generate_trace_set
from anemoi_tp.report import build_report
from anemoi_tp.report.build import add_timeline_ranks

from conftest import load, write_trace
from test_cli import run


def _chart(dom: str, rank: int) -> str:
    m = re.search(rf'<svg class="plot batch-series" id="batch-series-{rank}".*?</svg>', dom, re.S)
    assert m, f"no per-batch chart of rank {rank}"
    return m.group(0)


@needs_chromium
def test_batch_series_plot_of_a_hand_built_trace(tmp_path):
    # slices of the window (test_series_top_layers): 60, 40, 60 µs; GPU idle 20, 15, 30;
    # communication 25, 15, 0; data loading 10, 10, 20 µs; 3 batches: no trend (needs 4)
    trace = write_trace(tmp_path / "t.json", main_trace(), baseTimeNanoseconds=0,
                        distributedInfo={"rank": 0, "world_size": 1})
    out = tmp_path / "r.html"
    r = run("report", str(trace), "-o", str(out))
    assert r.returncode == 0, r.stderr
    dom, console = browse(out, tmp_path)
    assert console == []
    chart = _chart(dom, 0)
    # y: 0 … 0.06 ms on 140 px (ticks of 0.01); x: batch 0 … 6 on 840 px (140 px a batch)
    lines = dict(re.findall(r'<polyline class="series"[^>]*points="([^"]+)"><title>([^<]+) \(ms\)', chart)[i][::-1]
                 for i in range(4))
    assert lines["batch duration"] == "140.0,0.0 280.0,46.7 420.0,0.0"
    assert lines["communication"] == "140.0,81.7 280.0,105.0 420.0,140.0"
    assert lines["data loading"] == "140.0,116.7 280.0,116.7 420.0,93.3"
    assert ">ms</text>" in chart and ">batch</text>" in chart and ">0.06</text>" in chart
    assert 'class="trend"' not in chart
    assert "trend not drawn: needs 4 or more batches after warm-up, has 3." in dom
    assert "batch duration</span>" in dom and "outlier batch</span>" in dom   # the legend


def _theil_sen(points: list[tuple[int, float]]) -> tuple[float, float]:
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1:]]
    m = median(slopes)
    return m, median(y - m * x for x, y in points)


@needs_chromium
def test_batch_series_plot_of_a_demo_run_in_chromium(tmp_path):
    generate_trace_set(tmp_path / "t", DemoConfig(ranks=4, batches=8))
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    assert run("report", str(tmp_path / "t"), "-o", str(out)).returncode == 0
    assert run("report", str(tmp_path / "t"), "-o", str(js)).returncode == 0
    rep = json.loads(js.read_text())
    dom, console = browse(out, tmp_path)
    assert console == []
    for r in rep["ranks"]:
        chart = _chart(dom, r["rank"])
        rows = r["batch_series"]
        # outliers circled, one per flagged batch; warm-up batches shaded
        assert chart.count('class="outlier"') == sum(1 for b in rows if b["outlier"])
        assert chart.count("<title>warm-up batch</title>") == sum(1 for b in rows if b["warmup"])
        # the trend: Theil–Sen over the non-warm-up batches, recomputed here, in pixels
        pts = [(b["batch"], b["duration_s"] * 1e3) for b in rows if not b["warmup"]]
        slope, icpt = _theil_sen(pts)
        x1, y1, x2, y2 = map(float, re.search(
            r'class="trend" x1="([^"]+)" y1="([^"]+)" x2="([^"]+)" y2="([^"]+)"', chart).groups())
        top = float(re.findall(r'text-anchor="end">([0-9.]+)</text>', chart)[-1])  # the y axis' top tick
        to_ms = lambda y, top=top: (140 - y) * top / 140  # noqa: E731
        assert x1 == pts[0][0] * 840 / 8 and x2 == pts[-1][0] * 840 / 8
        px = 0.051 * top / 140          # coordinates are rounded to 0.1 px
        assert abs(to_ms(y1) - (icpt + slope * pts[0][0])) < px
        assert abs(to_ms(y2) - (icpt + slope * pts[-1][0])) < px
    png, _ = _screenshot(out, tmp_path, "report-batch-series-4-ranks.png")
    assert png.stat().st_size > 20_000


def test_a_rank_put_on_the_timeline_gets_its_median_and_slowest_batch(tmp_path):
    generate_trace_set(tmp_path / "t", DemoConfig(ranks=20, batches=3))
    con, _ = load(tmp_path / "t")
    rep = build_report(con)
    shown = {b["rank"] for b in rep["timeline_batches"]}
    extra = next(r for r in range(20) if r not in shown)   # 20 ranks: 15 shown at most
    add_timeline_ranks(con, rep, [extra])
    mine = [b for b in rep["timeline_batches"] if b["rank"] == extra]
    roles = {x for b in mine for x in b["roles"]}
    assert roles == {"first", "median", "slowest"}
    assert {b["rank"] for b in rep["timeline_batches"]} == shown | {extra}
    assert {s["batch"] for s in rep["timeline"] if s["rank"] == extra} == {b["batch"] for b in mine}


@needs_chromium
def test_compare_html_timelines_in_chromium(tmp_path):
    # rank 2's data loading 8 times slower in B than in A (factor 1): its data-loading lane
    generate_trace_set(tmp_path / "a", DemoConfig(ranks=4, batches=6, slow_rank=2, slow_data_factor=1.0))
    generate_trace_set(tmp_path / "b", DemoConfig(ranks=4, batches=6, slow_rank=2, slow_data_factor=8.0))
    out = tmp_path / "c.html"
    r = run("compare", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    dom, console = browse(out, tmp_path)
    assert console == []
    assert re.findall(r"<h4>rank (\d+)", dom) == ["0", "1", "2", "3"]
    for rank in range(4):
        svg = re.search(rf'id="compare-0-{rank}".*?</svg>', dom, re.S).group(0)
        labels = re.findall(rf"r{rank} b\d+ ([AB]: [a-z, ]+)</text>", dom)
        assert {lab.split(":")[0] for lab in labels} == {"A", "B"}
        assert all(("median" in lab or "slowest" in lab) and "first" not in lab for lab in labels)
        # one axis for A and B: it reaches past the longest batch of either
        lengths = [float(x) for x in re.findall(rf"<title>rank {rank} batch \d+: ([0-9.]+) ms</title>", svg)]
        assert len(lengths) == len(labels)
        axis_max = float(re.search(rf'id="compare-axis-0-{rank}"[^>]*data-max="([0-9.]+)"', dom).group(1))
        assert max(lengths) <= axis_max < 2 * max(lengths)
        assert f'id="compare-axis-0-{rank}"' in dom and ">ms</text>" in dom
    # rank 2: B's data loading (300–500 µs × 8 per batch) is over 4 times A's (× 1), batch by batch
    dl = {}
    a_b = re.search(r'id="compare-0-2".*?</svg>', dom, re.S).group(0)
    rows = re.findall(r'<g transform="translate\(0,(\d+)\)">(.*?)</g>', a_b, re.S)
    for y, body in rows:
        dl[int(y)] = sum(float(x) for x in re.findall(r"data loader ([0-9.]+) ms", body))
    ys = sorted(dl)
    half = len(ys) // 2                         # A's rows first, then B's
    assert min(dl[y] for y in ys[half:]) > 4 * max(dl[y] for y in ys[:half])
    assert "data loading (host)</span>" in dom and "computation</span>" in dom   # the legend
    png, _ = _screenshot(out, tmp_path, "compare-4-ranks.png")
    assert png.stat().st_size > 20_000


@needs_chromium
def test_compare_html_at_64_ranks_stays_small(tmp_path):
    for name, f in (("a", 1.0), ("b", 8.0)):
        generate_trace_set(tmp_path / name, DemoConfig(ranks=64, batches=3, slow_rank=40, slow_data_factor=f))
    out = tmp_path / "c.html"
    assert run("compare", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)).returncode == 0
    dom, console = browse(out, tmp_path)
    assert console == []
    assert len(re.findall(r"<h4>rank \d+", dom)) == 1          # the rank whose step time changed most
    assert "Many ranks: shown for the rank whose median step time changed most." in dom
    assert out.stat().st_size < 2_000_000
    _screenshot(out, tmp_path, "compare-64-ranks.png")


def test_heatmap_host_names_never_overlap_at_1000_ranks():
    from anemoi_tp.report.plots import heatmap
    # 1000 ranks, 4 per host: rows of 2 px (1400 px / 1000, at least 2), hosts 8 px apart;
    # names are 12 px tall, so one host in two is named (every 16 px), each keeps its line
    metrics = [{"rank": r, "host": f"node{r // 4:03d}", "step_ms": 100.0 + r, "gpu_idle_pct": 5.0,
                "comm_wait_ms": None, "data_loader_ms": 1.0} for r in range(1000)]
    hm = heatmap({"rank_metrics": metrics})
    assert hm["row_h"] == 2.0 and len(hm["hosts"]) == 250
    named = [g["y0"] for g in hm["hosts"] if g["named"]]
    assert named[0] == 0 and len(named) == 125
    assert all(b - a >= 12 for a, b in zip(named, named[1:]))
    # 16 ranks on 4 hosts: rows of 14 px, hosts 56 px apart: every host named
    few = heatmap({"rank_metrics": metrics[:16]})
    assert few["row_h"] == 14.0 and [g["named"] for g in few["hosts"]] == [True] * 4
