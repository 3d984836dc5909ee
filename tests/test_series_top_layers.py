"""Issue 14's numbers on hand-built traces, against values computed by hand (µs → ns).

The main trace (one rank; µs):
  tid 1: fetch [0,10) ⊃ enumerate(DataLoader)# [2,8) · batch 1 [10,50) ⊃ training_step [11,49)
         ⊃ module model.model.encoder [12,19) ⊃ model.model.encoder.lin [13,18);
         fetch [60,70) · batch 2 [70,100) ⊃ processor.proc.0.lin [79,84);
         fetch [100,120) · batch 3 [120,150) ⊃ backward [121,149).
  GPU: K1 gemm [20,40) launched at 14 (encoder.lin, forward) · T1 tie [20,25) stream 8, at 15
       (encoder.lin, forward) · AR all-reduce [35,75) stream 20, at 34 (no module, forward)
       · K3 gemm [85,95) at 80 (proc.0.lin, no phase) · T2 tie [86,91) stream 8, at 81
       (proc.0.lin, no phase) · K4 gemm [130,160) at 125 (no module, backward).
Batches: 1 = [0, 75] (its all-reduce ends at 75, past the next fetch: batches overlap),
2 = [60, 100], 3 = [100, 160]. Window [0, 160]. Slices: [0,60), [60,100), [100,160].
GPU union: [20,75) ∪ [85,95) ∪ [130,160) = 55 + 10 + 30 = 95 → idle 65.
"""
from __future__ import annotations

import pytest

from anemoi_tp.compare import build_comparison, mann_whitney
from anemoi_tp.report import build_report

from builders import ALLREDUCE, BACKWARD, BATCH, ENC, FETCH, GEMM, PROC, TRAIN, TraceBuilder
from conftest import load, shared_trace, write_trace
from test_cli import run

ENC_PARENT = "[pl][module]anemoi.Mapper: model.model.encoder"
TIE = "tie_kernel"


def main_trace() -> list[dict]:
    b = TraceBuilder()
    b.range(FETCH, 0, 10).range("enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__", 2, 8)
    b.range(BATCH, 10, 50).range(TRAIN, 11, 49).range(ENC_PARENT, 12, 19).range(ENC, 13, 18)
    b.kernel(GEMM, 14, 20, 40).kernel(TIE, 15, 20, 25, stream=8)
    b.kernel(ALLREDUCE, 34, 35, 75, stream=20)
    b.range(FETCH, 60, 70).range(BATCH, 70, 100).range(PROC, 79, 84)
    b.kernel(GEMM, 80, 85, 95).kernel(TIE, 81, 86, 91, stream=8)
    b.range(FETCH, 100, 120).range(BATCH, 120, 150).range(BACKWARD, 121, 149)
    b.kernel(GEMM, 125, 130, 160)
    return b.events


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = write_trace(tmp_path_factory.mktemp("s") / "t.json", main_trace(), baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(path)
    return build_report(con, top=5), con


def test_batch_series_slices_partition_the_window(loaded):
    rep, con = loaded
    rows = con.execute("SELECT batch, ts, end_ts, duration_ns, gpu_idle_ns, communication_ns, "
                       "data_loader_ns FROM batch_series ORDER BY batch").fetchall()
    assert rows == [
        (1, 0, 60_000, 60_000, 20_000, 25_000, 10_000),   # active [20,60) = 40; comm [35,60)
        (2, 60_000, 100_000, 40_000, 15_000, 15_000, 10_000),  # active [60,75) + [85,95)
        (3, 100_000, 160_000, 60_000, 30_000, 0, 20_000)]      # active [130,160)
    r = rep["ranks"][0]
    # per-rank sums equal the rank's totals
    assert r["total_s"] == pytest.approx(160e-6)
    assert r["gpu_idle_s"] == pytest.approx(65e-6)
    assert r["gpu_time"]["communication_s"] == pytest.approx(40e-6)
    assert r["gpu_time"]["data_loader_s"] == pytest.approx(40e-6)
    assert [b["start_s"] for b in r["batch_series"]] == pytest.approx([0, 60e-6, 100e-6])
    # three batches: median 60, nothing 25 % above it, MAD 0 and nothing 5 % above: no flags
    assert [(b["warmup"], b["outlier"]) for b in r["batch_series"]] == [(False, False)] * 3
    assert r["batch_trend"]["slope_ms"] is None
    assert r["batch_trend"]["missing"] == "needs 4 or more batches after warm-up, has 3"


def test_top_kernels(loaded):
    rep, _ = loaded
    ks = {k["name"]: k for k in rep["ranks"][0]["top_kernels"]}
    g = ks[GEMM]
    assert (g["pos"], g["calls"], g["class"]) == (1, 3, "computation")
    assert (g["total_ms"], g["mean_us"], g["max_us"]) == pytest.approx((0.060, 20.0, 30.0))
    assert g["share_pct"] == pytest.approx(100 * 60 / 95)
    # backward owns 30 of its 60 µs (forward 20, no phase 10); encoder.lin 20 vs proc.0.lin 10
    assert (g["phase"], g["module"]) == ("backward", "model.model.encoder.lin")
    a = ks[ALLREDUCE]
    assert (a["pos"], a["calls"], a["total_ms"], a["class"], a["module"]) == (
        2, 1, pytest.approx(0.040), "communication", None)
    t = ks[TIE]
    # 5 µs forward and 5 µs without phase ('elsewhere'); 5 µs in each module: ties go to the
    # name that sorts first
    assert (t["calls"], t["total_ms"], t["phase"], t["module"]) == (
        2, pytest.approx(0.010), "elsewhere", "model.model.encoder.lin")
    assert t["share_pct"] == pytest.approx(100 * 10 / 95)


def test_layer_split_default_depth(loaded):
    rep, _ = loaded
    layers = {(x["layer"], x["direction"]): x for x in rep["ranks"][0]["layers"]}
    # encoder's group root is model.model.encoder (depth 1): layers are it and its children.
    # [35,40): K1 and the all-reduce share → 2.5 each. Idle: [12,13) and [18,19) under the
    # encoder (2), [13,18) under encoder.lin (5), [79,84) under proc.0.lin (5), the rest (53)
    # under no module.
    enc = layers[("model.model.encoder.lin", "fwd")]
    assert (enc["duration_s"], enc["gpu_s"], enc["idle_s"], enc["communication_s"]) == pytest.approx(
        (22.5e-6, 20e-6, 5e-6, 0))
    assert layers[("model.model.encoder", "fwd")]["duration_s"] == pytest.approx(2e-6)
    proc = layers[("model.model.processor.proc.0.lin", "fwd")]
    assert (proc["duration_s"], proc["idle_s"]) == pytest.approx((15e-6, 5e-6))
    other = layers[("elsewhere", None)]
    assert (other["duration_s"], other["idle_s"], other["communication_s"], other["comm_overlap_s"]) == \
        pytest.approx((120.5e-6, 53e-6, 40e-6, 5e-6))
    assert sum(x["duration_s"] for x in layers.values()) == pytest.approx(160e-6)
    assert sum(x["pct"] for x in layers.values()) == pytest.approx(100)


def test_layer_split_at_depth_one(tmp_path):
    path = write_trace(tmp_path / "t.json", main_trace(), baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(path)
    rep = build_report(con, module_depth=1)
    layers = {(x["layer"], x["direction"]): x["duration_s"] for x in rep["ranks"][0]["layers"]}
    assert layers == pytest.approx({("model.model.encoder", "fwd"): 24.5e-6,
                                    ("model.model.processor.proc.0.lin", "fwd"): 15e-6,
                                    ("elsewhere", None): 120.5e-6})


def test_warmup_outlier_and_drift(tmp_path):
    # back-to-back batches, no GPU: slice lengths 100, 50, 50, 52, 80, 50 µs
    b = TraceBuilder()
    starts = [0, 100, 150, 200, 252, 332, 382]
    for s, e in zip(starts, starts[1:]):
        b.range(BATCH, s, e - 1)
    b.range(BATCH, 382, 390).window_end(390)   # cut by the end of recording: counts nowhere
    con, _ = load(write_trace(tmp_path / "t.json", b.events, baseTimeNanoseconds=0))
    r = build_report(con)["ranks"][0]
    assert [x["duration_s"] for x in r["batch_series"]] == pytest.approx(
        [100e-6, 50e-6, 50e-6, 52e-6, 80e-6, 49e-6])
    # median of all 51: batch 1 (100 > 1.25 × 51) is warm-up, batch 2 is not, so it ends.
    # Steady 50, 50, 52, 80, 49: median 50, MAD 1; outlier > 50 + 3 and > 52.5: batch 5 only.
    assert [(x["warmup"], x["outlier"]) for x in r["batch_series"]] == [
        (True, False), (False, False), (False, False), (False, False), (False, True), (False, False)]
    # Theil–Sen over batches 2..6 (50, 50, 52, 80, 49): pair slopes 0, 1, 10, -0.25, 2, 15,
    # -0.33, 28, -1.5, -31 → median (0 + 1) / 2 = 0.5 µs per batch = 1 % of 50 µs
    t = r["batch_trend"]
    assert (t["batches"], t["slope_ms"], t["drift_pct_per_batch"]) == pytest.approx((5, 0.5e-3, 1.0))
    assert (t["drifting"], t["warmup_batches"], t["outlier_batches"]) == (True, 1, 1)


def test_operator_self_time_on_nested_ops(tmp_path):
    b = TraceBuilder()
    b.op("A", 0, 100).op("B", 10, 40).op("C", 20, 30).op("D", 50, 60)
    b.op("F", 70, 80).op("G", 70, 80)   # same start and end: the later in the file is inner
    b.op("A", 200, 210)
    b.op("E", 0, 50, tid=2)             # another thread: its own time
    con, _ = load(write_trace(tmp_path / "t.json", b.events, baseTimeNanoseconds=0))
    rep = build_report(con)
    ops = {o["name"]: (o["calls"], round(o["self_ms"] * 1e3, 6), round(o["total_ms"] * 1e3, 6))
           for o in rep["ranks"][0]["top_operators"]}
    assert ops == {"A": (2, 60, 110),   # 100 − B 30 − D 10 − G 10, plus the second A's 10
                   "B": (1, 20, 30), "C": (1, 10, 10), "D": (1, 10, 10),
                   "F": (1, 0, 10), "G": (1, 10, 10), "E": (1, 50, 50)}
    assert [o["name"] for o in rep["ranks"][0]["top_operators"]][:3] == ["A", "E", "B"]
    assert rep["ranks"][0]["top_kernels"] is None
    assert rep["ranks"][0]["missing"]["top_kernels"] == "no GPU activity in the window of this rank"


def test_top_n_cuts_kernels_and_operators(loaded, tmp_path):
    path = write_trace(tmp_path / "t.json", main_trace(), baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(path)
    rep = build_report(con, top=1)
    assert [k["name"] for k in rep["ranks"][0]["top_kernels"]] == [GEMM]


# -- the Mann–Whitney U test ---------------------------------------------------------------

def test_mann_whitney_exact_and_approximate():
    # fully separated samples of 3 and 3: U = 0, P(U ≤ 0) = 1 / C(6, 3) = 1/20, two-sided 0.1
    assert mann_whitney([1, 2, 3], [4, 5, 6]) == (0, pytest.approx(0.1))
    # 4 and 4: 2 / C(8, 4) = 2/70
    assert mann_whitney([5, 6, 7, 8], [1, 2, 3, 4]) == (16, pytest.approx(2 / 70))
    # identical samples: U = n1·n2 / 2, p = 1
    assert mann_whitney([1, 2, 3], [1, 2, 3])[1] == 1.0
    # ties → normal approximation: a = [1, 2, 2], b = [2, 3, 4]; ranks 1, 3, 3 | 3, 5, 6:
    # U = 7 − 6 = 1, μ = 4.5, σ² = 9/12 · (7 − 24/30) = 4.65, z = (3.5 − 0.5) / √4.65
    import math
    u, p = mann_whitney([1, 2, 2], [2, 3, 4])
    assert u == 1 and p == pytest.approx(math.erfc(3 / math.sqrt(4.65) / math.sqrt(2)))


# -- compare -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    from anemoi_tp.demo.generate import DemoConfig, generate_trace_set
    root = tmp_path_factory.mktemp("runs")
    generate_trace_set(root / "a", DemoConfig(slow_rank=None))
    generate_trace_set(root / "b", DemoConfig(slow_rank=2, slow_data_factor=6.0))
    return root / "a", root / "b"


def _report(path):
    con, _ = load(path)
    return build_report(con)


def test_planted_slow_data_loading_is_the_top_significant_change(demo_runs):
    a, b = (_report(p) for p in demo_runs)
    cmp = build_comparison([("a", a), ("b", b)])
    top = cmp["changes"][0]
    assert (top["metric"], top["rank"], top["significant"]) == ("data_loader_s", 2, True)
    # rank 2 loads 6× slower in b: the per-batch data loading grows ~5-fold
    assert top["delta_pct"] > 300
    # every rank waits for rank 2: the step time grows everywhere
    steps = {c["rank"]: c for c in cmp["summary"] if c["metric"] == "step_time_s"}
    assert all(steps[r]["significant"] and steps[r]["delta"] > 0 for r in (0, 1, 2, 3, None))
    # ranks 0, 1, 3 load as fast as before
    dl = {c["rank"]: c for c in cmp["changes"] if c["metric"] == "data_loader_s"}
    assert not any(dl[r]["significant"] for r in (0, 1, 3))
    assert {(f["status"], f["rule"]) for f in cmp["findings"]} >= {("appeared", "data_loader_stall")}


def test_the_same_files_twice_change_nothing(demo_runs):
    a = _report(demo_runs[0])
    cmp = build_comparison([("x", a), ("y", _report(demo_runs[0]))])
    assert [c for c in cmp["changes"] + cmp["summary"] if c["significant"]] == []
    assert all(c["delta"] in (0, None) for c in cmp["changes"] + cmp["summary"])
    assert cmp["findings"] == []


def test_compare_cli_fail_on_and_formats(demo_runs, tmp_path):
    a, b = map(str, demo_runs)
    r = run("compare", a, b, "--label", "base", "--label", "slow", "--fail-on", "data_loader_s=50",
            "-o", str(tmp_path / "c.json"))
    assert r.returncode == 1 and "regression: data_loader_s (rank 2) base -> slow" in r.stderr
    import json
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["changes"][0]["metric"] == "data_loader_s"
    assert set(data["changes"][0]) >= {"metric", "rank", "a", "b", "delta", "delta_pct", "significant"}
    r = run("compare", a, a, "--fail-on", "step_time_s=1", "-o", str(tmp_path / "c.html"))
    assert r.returncode == 0, r.stderr
    assert "<table>" in (tmp_path / "c.html").read_text()
    r = run("compare", a, b, "--fail-on", "step_time_s")
    assert r.returncode == 2 and "NAME=NUMBER" in r.stderr
    r = run("compare", a, a, "--fail-on", "step_time=5")
    assert r.returncode == 2 and "--fail-on: no metric 'step_time'" in r.stderr
    r = run("compare", a)
    assert r.returncode == 2 and r.stderr.startswith("error: compare needs two or more runs")


def test_compare_lightning_workers_0_vs_2():
    w0 = shared_trace("lightning_cpu_workers0.pt.trace.json.gz")
    w2 = shared_trace("lightning_cpu_workers2.pt.trace.json.gz")
    cmp = build_comparison([("w0", _report(w0)), ("w2", _report(w2))])
    step = next(c for c in cmp["summary"] if c["metric"] == "step_time_s" and c["rank"] == 0)
    # 4 batches each, all shorter with 2 workers: U = 16 of 16, exact p = 2 / C(8, 4)
    assert step["batches"] == [4, 4] and step["p_value"] == pytest.approx(2 / 70)
    assert step["significant"] and step["delta"] < 0
    # CPU-only traces: no GPU numbers to compare, missing rather than 0
    assert not any(c["metric"] in ("gpu_idle_s", "communication_s") for c in cmp["changes"])
