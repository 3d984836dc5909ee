"""Traces without Lightning ranges (trace-span window, phase fallbacks) and configured names
(module groups, data-loader patterns, phase names), on hand-built traces computed by hand (µs)."""
from __future__ import annotations

import gzip
import json

import pytest

from anemoi_tp.config import merge_options
from anemoi_tp.report import build_report

from builders import BATCH, ENC, GEMM, TRAIN, TraceBuilder
from conftest import load, shared_trace, write_trace
from test_cli import run

US = 1e-6
EXTRA = "[pl][module]torch.nn.modules.linear.Linear: model.model.extra.lin"


def _split(rank: dict, key: str) -> dict[str, float]:
    return {p["name"]: p["duration_s"] for p in rank[key]}


# ---- A. no batch ranges: the window is the trace's span -------------------------------------

def span_trace() -> list[dict]:
    """tid 1: "step" [10,50), launch at 12 of K1 [20,40), "tail" [60,70); K2 launched at 61 runs
    [65,90) (past the last host event); the profiler's session range [0,200) (cat 'Trace')."""
    b = TraceBuilder()
    b.events.append({"ph": "X", "cat": "Trace", "name": "PyTorch Profiler (0)", "pid": "Spans",
                     "tid": "PyTorch Profiler", "ts": 0, "dur": 200})
    b.range("step", 10, 50).kernel(GEMM, 12, 20, 40)
    b.range("tail", 60, 70).kernel(GEMM, 61, 65, 90)
    return b.events


def test_trace_span_window_and_missing_throughput(tmp_path):
    con, _ = load(write_trace(tmp_path / "t.json", span_trace()))
    rep = build_report(con)
    r = rep["ranks"][0]
    # span of work: first start 10 ("step") to last end 90 (K2); the Trace range is not work
    assert con.execute("SELECT ts, end_ts, source, batches, throughput FROM analysis_window"
                       ).fetchall() == [(10_000, 90_000, "trace_span", 0, None)]
    assert r["total_s"] == pytest.approx(80 * US) and r["window_source"] == "trace_span"
    # active: [20,40) ∪ [65,90) = 45 µs; idle 35 µs
    assert r["gpu_active_s"] == pytest.approx(45 * US) and r["gpu_idle_s"] == pytest.approx(35 * US)
    assert r["throughput_it_s"] is None
    assert "trace's span" in r["missing"]["throughput"] and "--batch REGEX" in r["missing"]["throughput"]


def test_trace_span_is_said_in_every_format(tmp_path):
    trace = write_trace(tmp_path / "t.json", span_trace())
    out = tmp_path / "r.json"
    assert run("report", str(trace), "-o", str(out)).returncode == 0
    rank = json.loads(out.read_text())["ranks"][0]
    assert rank["throughput_it_s"] is None and "--batch REGEX" in rank["missing"]["throughput"]
    text = run("report", str(trace)).stdout
    row = next(line for line in text.splitlines() if line.startswith("0 ") and "0.080" in line)
    assert row.split()[:4] == ["0", "0.080", "0", "—"]  # total in ms
    for fmt in ("text", "markdown", "html"):
        r = run("report", str(trace), "-f", fmt)
        assert r.returncode == 0, r.stderr
        assert "the window is the trace" in r.stdout and "--batch REGEX" in r.stdout
        for bad in ("None", "NULL", "nan"):
            assert f" {bad} " not in r.stdout and f">{bad}<" not in r.stdout


def test_cpu_only_trace_gpu_numbers_are_missing(tmp_path):
    b = TraceBuilder()
    b.range("work", 0, 30).range("more", 40, 100)
    trace = write_trace(tmp_path / "t.json", b.events)
    out = tmp_path / "r.json"
    assert run("report", str(trace), "-o", str(out)).returncode == 0
    r = json.loads(out.read_text())["ranks"][0]
    assert r["total_s"] == pytest.approx(100 * US)
    assert r["gpu_active_s"] is None and r["gpu_idle_pct"] is None and r["gpu_time"]["computation_s"] is None
    assert "no GPU activity" in r["missing"]["gpu"] and "throughput" in r["missing"]
    md = run("report", str(trace), "-f", "markdown").stdout
    assert "| 0 | 0.100 | 0 | — | — | — |" in md  # total in ms


# ---- A. no phase ranges: fallbacks -----------------------------------------------------------

def plain_trace() -> list[dict]:
    """No Lightning (torch.profiler + DDP):
    tid 1: ProfilerStep#1 [0,100) ⊃ ## forward ## [5,40) ⊃ DistributedDataParallel.forward
           [6,39); Optimizer.step#AdamW.step [80,95).
    tid 2 (autograd): evaluate_function AddmmBackward0 [45,70).
    GPU: K1 [10,30) at 7 (forward) · K2 [50,65) at 46 on tid 2 (backward) · K4 [70,78) at 72
         (rest of the step: forward) · K3 [85,90) at 81 (optimizer).
    Window: the step, [0,100).
    The autograd op is a backward fallback range: the host is in it over [45,70).
    forward: idle [0,10) 10 + K1 20 + idle [30,45) 15 + K4 8 + idle [78,80) 2 + idle [95,100) 5
             = 60; backward: idle [45,50) 5 + K2 15 + idle [65,70) 5 = 25; optimizer: idle
             [80,85) 5 + K3 5 + idle [90,95) 5 = 15."""
    b = TraceBuilder()
    b.range("ProfilerStep#1", 0, 100).range("## forward ##", 5, 40)
    b.range("DistributedDataParallel.forward", 6, 39).range("Optimizer.step#AdamW.step", 80, 95)
    b.op("autograd::engine::evaluate_function: AddmmBackward0", 45, 70, tid=2, seq=3)
    b.kernel(GEMM, 7, 10, 30).kernel(GEMM, 46, 50, 65, tid=2)
    b.kernel(GEMM, 72, 70, 78).kernel(GEMM, 81, 85, 90)
    return b.events


def test_phase_fallbacks_without_lightning(tmp_path):
    con, _ = load(write_trace(tmp_path / "t.json", plain_trace()))
    r = build_report(con)["ranks"][0]
    assert r["total_s"] == pytest.approx(100 * US) and "phases" not in r["missing"]
    assert _split(r, "phases") == {"forward": pytest.approx(60 * US), "backward": pytest.approx(25 * US),
                                   "optimizer": pytest.approx(15 * US), "data_loader": 0,
                                   "elsewhere": 0}
    assert [p["name"] for p in r["phases"]] == ["forward", "backward", "optimizer", "data_loader",
                                                "elsewhere"]


def test_fallback_is_not_used_where_lightning_phases_exist(tmp_path):
    """Lightning's ProfilerStep#N holds backward and optimizer: never forward there.
    batch [0,100) ⊃ training_step [10,40); ProfilerStep#1 [40,100); K [50,60) launched at 45.
    forward: idle [10,40) = 30; elsewhere: [0,10) + [40,100) = 70 (K included)."""
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(TRAIN, 10, 40).range("ProfilerStep#1", 40, 100)
    b.kernel(GEMM, 45, 50, 60)
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    r = build_report(con)["ranks"][0]
    split = _split(r, "phases")
    assert (split["forward"], split["elsewhere"]) == (pytest.approx(30 * US), pytest.approx(70 * US))


def test_real_sampled_trace_has_forward_and_backward():
    """Every GPU activity launched inside an autograd evaluate_function op or torch's
    `## backward ##` range (found here with plain Python on the raw JSON) is backward; those
    launched inside Optimizer.step are optimizer; the rest inside a ProfilerStep is forward."""
    path = shared_trace("hta_sampled_rank-0.json.gz")
    with gzip.open(path) as f:
        events = [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]
    def ranges(prefix):
        return [(e["tid"], e["ts"], e["ts"] + e["dur"]) for e in events
                if e.get("name", "").startswith(prefix)]
    bwd = ranges("autograd::engine::evaluate_function: ") + ranges("## backward ##")
    opt = ranges("Optimizer.step#")
    steps = ranges("ProfilerStep#")
    launches = {e["args"]["correlation"]: (e["tid"], e["ts"]) for e in events
                if e.get("cat") == "cuda_runtime" and "correlation" in e.get("args", {})}
    def inside(rs, tid, t, any_thread=False):
        return any((any_thread or r[0] == tid) and r[1] <= t < r[2] for r in rs)
    expected = {"backward": 0, "optimizer": 0, "forward": 0}
    for e in events:
        if e.get("cat") != "kernel" or e["args"].get("correlation") not in launches:
            continue
        tid, t = launches[e["args"]["correlation"]]
        phase = ("backward" if inside(bwd, tid, t) else "optimizer" if inside(opt, tid, t)
                 else "forward" if inside(steps, tid, t, any_thread=True) else None)
        if phase:
            expected[phase] += 1
    con, _ = load(path)
    build_report(con)
    got = dict(con.execute("SELECT o.phase, count(*) FROM gpu_owners o JOIN gpu_activities g "
                           "USING (activity_id) WHERE g.kind = 'kernel' GROUP BY 1").fetchall())
    assert expected["backward"] > 0 and expected["optimizer"] > 0
    assert {k: got.get(k, 0) for k in expected} == expected


def test_real_b200_trace_has_trace_wide_numbers():
    con, _ = load(shared_trace("tracelens_b200_rank0of8.json.gz"))
    r = build_report(con)["ranks"][0]
    # first event: the user annotation at …862757064 ns; last end: the same one at …950169927 ns
    assert r["window_source"] == "trace_span" and r["total_s"] == pytest.approx(87.412863e-3)
    assert r["throughput_it_s"] is None and "throughput" in r["missing"]
    assert r["gpu_active_s"] > 0 and r["gpu_idle_s"] == pytest.approx(r["total_s"] - r["gpu_active_s"])
    assert sum(p["pct"] for p in r["modules"]) == pytest.approx(100.0)


# ---- B. configured names ---------------------------------------------------------------------

def groups_trace() -> list[dict]:
    """batch [0,100); encoder.lin [10,30) with K1 [12,22) at 11; extra.lin [40,60) with K2 [45,70)
    at 41. Modules: encoder = idle [10,12) 2 + K1 10 + idle [22,30) 8 = 20; extra = idle [40,45)
    5 + K2 25 = 30; elsewhere = [0,10) + [30,40) + [70,100) = 50."""
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(ENC, 10, 30).kernel(GEMM, 11, 12, 22)
    b.range(EXTRA, 40, 60).kernel(GEMM, 41, 45, 70)
    return b.events


def test_custom_module_group_gets_its_share(tmp_path):
    con, _ = load(write_trace(tmp_path / "t.json", groups_trace()))
    patterns = merge_options({}, (), (r"extra=^model\.model\.extra",))
    r = build_report(con, patterns)["ranks"][0]
    assert [(p["name"], p["duration_s"]) for p in r["modules"]] == [
        ("encoder", pytest.approx(20 * US)), ("processor", 0), ("decoder", 0),
        ("extra", pytest.approx(30 * US)), ("elsewhere", pytest.approx(50 * US))]
    assert sum(p["pct"] for p in r["modules"]) == pytest.approx(100.0)
    assert {(m["module"], m["direction"]): m["gpu_s"] for m in r["module_gpu"]} == {
        ("encoder", "fwd"): pytest.approx(10 * US), ("extra", "fwd"): pytest.approx(25 * US)}


def test_custom_module_group_from_toml_and_cli(tmp_path):
    trace = write_trace(tmp_path / "t.json", groups_trace())
    cfg = tmp_path / "c.toml"
    cfg.write_text("[patterns.module_group]\nextra = ['^model\\.model\\.extra']\n"
                   "encoder = ['^model\\.model\\.enc']\n")
    for args in (["--config", str(cfg)], ["--module-group", r"extra=^model\.model\.extra"]):
        out = tmp_path / "r.json"
        r = run("report", str(trace), "-o", str(out), *args)
        assert r.returncode == 0, r.stderr
        mods = json.loads(out.read_text())["ranks"][0]["modules"]
        # a redefined default keeps its place; the new group follows the defaults
        assert [m["name"] for m in mods] == ["encoder", "processor", "decoder", "extra", "elsewhere"]
        assert {m["name"]: round(m["pct"], 9) for m in mods} == {
            "encoder": 20, "processor": 0, "decoder": 0, "extra": 30, "elsewhere": 50}


def loader_trace() -> list[dict]:
    """my_fetch [0,20) · batch [20,100) ⊃ training_step [25,90), K [30,50) at 26."""
    b = TraceBuilder()
    b.range("my_fetch", 0, 20).range(BATCH, 20, 100).range(TRAIN, 25, 90)
    b.kernel(GEMM, 26, 30, 50)
    return b.events


def test_data_loader_patterns_set_time_and_phase_together(tmp_path):
    path = write_trace(tmp_path / "t.json", loader_trace())
    con, _ = load(path)
    r = build_report(con, {"data_loader": ["^my_fetch$"]})["ranks"][0]
    # the fetch starts the batch: window [0,100); data loading 20 µs, as time and as phase;
    # forward: idle [25,30) 5 + K 20 + idle [50,90) 40 = 65; elsewhere [20,25) + [90,100) = 15
    assert r["total_s"] == pytest.approx(100 * US)
    assert r["gpu_time"]["data_loader_s"] == pytest.approx(20 * US)
    assert _split(r, "phases") == {"forward": pytest.approx(65 * US), "backward": 0, "optimizer": 0,
                                   "data_loader": pytest.approx(20 * US),
                                   "elsewhere": pytest.approx(15 * US)}
    con2, _ = load(path)
    r2 = build_report(con2)["ranks"][0]   # defaults: my_fetch is nothing, the window is the batch
    assert r2["total_s"] == pytest.approx(80 * US)
    # no data-loader range: data loading is unknown (missing, with the reason), not 0; the
    # window's split still has its (empty) data_loader part
    assert r2["gpu_time"]["data_loader_s"] is None and _split(r2, "phases")["data_loader"] == 0
    assert r2["missing"]["data_loader"].startswith("no data-loader ranges")


@pytest.mark.parametrize("toml, words", [
    ("[patterns.phase]\nloss = ['x']\n", "unknown phase patterns.phase.loss"),
    ("[patterns.phase_fallback]\nwarmup = ['x']\n", "unknown phase patterns.phase_fallback.warmup"),
    ("[patterns.phase]\ndata_loader = ['x']\n", "set patterns.data_loader instead"),
])
def test_bad_phase_names_in_toml(tmp_path, toml, words):
    trace = write_trace(tmp_path / "t.json", loader_trace())
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    r = run("report", str(trace), "--config", str(cfg))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(cfg) in lines[0] and words in lines[0]
