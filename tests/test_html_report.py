"""HTML and Markdown reports in a real headless browser (Debian's chromium), deep links, and
`anemoi-tp open` answering the Perfetto UI's requests."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from builders import BATCH, ENC, GEMM, TRAIN, TraceBuilder
from conftest import shared_trace, write_trace
from test_cli import run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                    "(.ci/run installs it: apt-get install chromium)")
EVIL = "<script>alert(1)</script>"


def browse(path, tmp_path) -> tuple[str, list[str]]:
    """(the DOM after load, the console messages) of a page in headless chromium."""
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
         "--dump-dom", f"file://{path}"], capture_output=True, text=True, timeout=120)
    console = [line for line in out.stderr.splitlines() if ":CONSOLE" in line]
    return out.stdout, console


@needs_chromium
def test_the_console_check_can_fail(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>undefinedFn()</script></body></html>")
    _, console = browse(page, tmp_path)
    assert any("Uncaught ReferenceError" in line for line in console)


@pytest.fixture(scope="module")
def html_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100).range(ENC, 0, 100)
    b.kernel(EVIL, 1, 10, 90)
    for e in b.events:
        if e["cat"] == "kernel":
            e["args"]["est. achieved occupancy %"] = 5  # low occupancy: the rule names the kernel
    write_trace(tmp / "t" / "node_1.None.1.pt.trace.json", b.events, baseTimeNanoseconds=0,
                distributedInfo={"rank": 0, "world_size": 1})
    out = tmp / "report.html"
    r = run("report", str(tmp / "t"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out, tmp


@needs_chromium
def test_html_renders_without_console_errors_with_plots(html_report):
    out, tmp = html_report
    dom, console = browse(out, tmp)
    assert console == []
    assert dom.count("<svg") >= 4 and 'class="timeline plot"' in dom
    assert 'id="phases-bars"' in dom and 'id="rank-comparison"' in dom
    assert "GPU timeline: first, median and slowest batch" in dom and "low_occupancy" in dom


@needs_chromium
def test_untrusted_names_show_as_text(html_report):
    out, tmp = html_report
    dom, _ = browse(out, tmp)
    assert len(re.findall(r"<script\b", dom)) == 1  # ours (the zoom), not the kernel's
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    html = out.read_text()
    assert EVIL not in html


def test_the_html_is_self_contained(html_report):
    html = html_report[0].read_text()
    # nothing is fetched: no external script, style sheet, image or font
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", html)
    assert "@import" not in html and "url(http" not in html


def test_markdown_escapes_names(tmp_path):
    b = TraceBuilder().range(BATCH, 0, 100).range("a|b <i>x</i>", 0, 100).kernel(GEMM, 1, 10, 90)
    trace = write_trace(tmp_path / "t.json", b.events)
    out = tmp_path / "r.md"
    assert run("report", str(trace), "-o", str(out)).returncode == 0
    md = out.read_text()
    assert "a\\|b \\<i\\>x\\</i\\>" in md and "<i>x</i>" not in md
    assert md.startswith("# anemoi-tp report")


def test_deep_link_window_matches_a_known_slice():
    path = shared_trace("hta_sampled_rank-0.json.gz")
    rep = __import__("json").loads(run("report", str(path), "-f", "json").stdout)
    link = next(x for x in rep["links"] if x["kind"] == "top_annotation")
    q = parse_qs(urlparse(link["perfetto_url"]).fragment.split("?", 1)[1])
    start, end = int(q["visStart"][0]), int(q["visEnd"][0])
    assert unquote(q["url"][0]) == "http://127.0.0.1:9001/hta_sampled_rank-0.json.gz"
    # Perfetto itself has a slice of that name exactly there, in its own numbering
    sql = (f"SELECT count(*) AS n FROM slice WHERE name = '{link['label']}' "
           f"AND ts = {start} AND ts + dur = {end}")
    r = run("query", "--perfetto", str(path), sql, "-f", "csv")
    assert r.stdout.splitlines() == ["n", "1"], r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_open_serves_the_trace_with_cors():
    path = shared_trace("hta_sampled_rank-0.json.gz")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "anemoi_tp", "open", str(path), "--no-browser",
                             "--port", str(port), "--at", "ProfilerStep#551"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        link = proc.stdout.readline().strip()
        q = parse_qs(urlparse(link).fragment.split("?", 1)[1])
        assert (q["visStart"], q["visEnd"]) == (["1682725898079292000"], ["1682725898686604000"])
        base = f"http://127.0.0.1:{port}/hta_sampled_rank-0.json.gz"
        assert unquote(q["url"][0]) == base
        pre = urllib.request.Request(base, method="OPTIONS", headers={
            "Origin": "https://ui.perfetto.dev", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true"})
        with urllib.request.urlopen(pre, timeout=10) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "https://ui.perfetto.dev"
            assert r.headers["Access-Control-Allow-Private-Network"] == "true"
        get = urllib.request.Request(base, headers={"Origin": "https://ui.perfetto.dev"})
        with urllib.request.urlopen(get, timeout=10) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "https://ui.perfetto.dev"
            assert r.read() == path.read_bytes()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/../../etc/passwd", timeout=10)
        assert err.value.code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_open_offline_serves_the_bundled_ui():
    path = shared_trace("hta_sampled_rank-0.json.gz")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "anemoi_tp", "open", str(path), "--no-browser",
                             "--port", str(port), "--offline"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        link = proc.stdout.readline().strip()
        assert link.startswith(f"http://127.0.0.1:{port}/ui/index.html#!/?url=")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ui/index.html", timeout=10) as r:
            assert b"<html" in r.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
