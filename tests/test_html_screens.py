"""The HTML report at 4 and at 64 ranks in a real headless chromium: no console errors, axes
on every chart, distinct labels, the cross-rank section first, per-rank detail collapsed at
many ranks, and a screenshot (kept under $ANEMOI_TP_SCREENS, default /tmp/anemoi-tp-screens,
to look at)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from test_html_report import CHROMIUM, browse, needs_chromium

from anemoi_tp.demo.generate import DemoConfig, generate_trace_set

from test_cli import run

SCREENS = Path(os.environ.get("ANEMOI_TP_SCREENS", "/tmp/anemoi-tp-screens"))


def _report(tmp_path, ranks: int, batches: int) -> Path:
    generate_trace_set(tmp_path / "t", DemoConfig(ranks=ranks, batches=batches))
    out = tmp_path / f"report-{ranks}.html"
    r = run("report", str(tmp_path / "t"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def _screenshot(page: Path, tmp_path, name: str) -> tuple[Path, float]:
    SCREENS.mkdir(parents=True, exist_ok=True)
    png = SCREENS / name
    t0 = time.monotonic()
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'shot-profile'}", "--window-size=1250,2600",
                    f"--screenshot={png}", f"file://{page}"], capture_output=True, timeout=180)
    return png, time.monotonic() - t0


@needs_chromium
@pytest.mark.parametrize("ranks,batches", [(4, 6), (64, 3)])
def test_html_report_in_chromium(ranks, batches, tmp_path):
    page = _report(tmp_path, ranks, batches)
    dom, console = browse(page, tmp_path)
    assert console == []
    # the cross-rank section comes before any per-rank table
    assert dom.index('id="cross-rank"') < dom.index('id="overview"') < dom.index('id="phases"')
    assert 'id="heatmap"' in dom
    heat_ranks = re.findall(r"<title>rank (\d+) \([^)]*\): step time", dom)
    assert sorted(map(int, heat_ranks)) == list(range(ranks))          # every rank in the heatmap
    # axes: the rank bars, phases, modules, the timeline and each annotation chart have one
    n_axes = dom.count('class="axis"')
    assert n_axes >= 4 + len(re.findall(r'class="plot annotation-bars"', dom))
    assert '<text x="900" y="26" text-anchor="end">ms</text>' in dom    # the timeline's unit
    # timeline: labels distinct; first, median and slowest batch of each rank shown
    labels = re.findall(r'<text x="0" y="\d+"><title>open batch[^<]*</title>([^<]+)</text>', dom)
    assert labels and len(labels) == len(set(labels))
    shown_ranks = {int(re.match(r"r(\d+) ", lab).group(1)) for lab in labels}
    if ranks <= 16:
        assert shown_ranks == set(range(ranks))
    else:  # the 12 slowest, the median, the fastest and rank 0 (which may be among them)
        assert 0 in shown_ranks and 13 <= len(shown_ranks) <= 15
    assert all(any(role in lab for lab in labels) for role in ("first", "median", "slowest"))
    # annotation bars: labels distinct within a chart, the module path's tail kept
    for chart in re.findall(r'<svg[^>]*class="plot annotation-bars".*?</svg>', dom, re.S):
        names = re.findall(r'<text x="0" y="12">([^<]+)</text>', chart)
        assert len(names) == len(set(names)) and not any(n.startswith("[pl]") for n in names)
    # per-rank detail collapsed at many ranks, open at few
    assert ("<details>" in dom) == (ranks > 8)
    png, seconds = _screenshot(page, tmp_path, f"report-{ranks}-ranks.png")
    assert png.stat().st_size > 20_000
    size = page.stat().st_size
    print(f"{ranks} ranks: HTML {size / 1e6:.2f} MB, chromium load + screenshot {seconds:.2f} s, {png}")
    assert size < 2_000_000
