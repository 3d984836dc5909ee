"""Every reported number on hand-built traces, against values computed by hand (µs → ns).

The main trace (one rank; µs):
  tid 1: fetch [0,10) · batch 1 [10,100) ⊃ optimizer_step [11,99) ⊃ training_step [12,40)
         ⊃ encoder.lin [13,20) (aten::addmm seq 7 at [16,17)), processor.proc.0.lin [21,30);
         backward [40,80); fetch [100,110) · batch 2 [110,150) · batch 3 [220,300) cut by the
         Record Window End at 300.
  tid 2 (autograd): evaluate_function AddmmBackward0 seq 7 [50,60).
  GPU: K1 comp [20,30) launched at 14 (encoder) · K2 all-gather [25,45) at 22 (processor)
       · K3 comp [30,40) at 24 (processor) · K4 comp [60,70) at 51 on tid 2 (→ seq 7 → encoder,
       backward) · K5 comp [90,95) at 85 (optimizer) · K6 comp [200,210) at 120 (batch 2, no
       phase) · K7 comp [240,260) at 230 (cut batch, outside the window).
Window: batch 1 = [0 (its fetch), 100]; batch 2 = [100, 210 (K6 ends)] → [0, 210] = 210 µs.
"""
from __future__ import annotations

import pytest

from anemoi_tp.report import build_report

from builders import ALLGATHER, ALLREDUCE, BACKWARD, BATCH, ENC, FETCH, GEMM, OPT, PROC, TRAIN, TraceBuilder
from conftest import load, write_trace

US = 1e-6


def main_trace() -> list[dict]:
    b = TraceBuilder()
    b.range(FETCH, 0, 10).range(BATCH, 10, 100).range(OPT, 11, 99).range(TRAIN, 12, 40)
    b.range(ENC, 13, 20).op("aten::addmm", 16, 17, seq=7).range(PROC, 21, 30)
    b.range(BACKWARD, 40, 80)
    b.op("autograd::engine::evaluate_function: AddmmBackward0", 50, 60, tid=2, seq=7)
    b.kernel(GEMM, 14, 20, 30)                       # K1
    b.kernel(ALLGATHER, 22, 25, 45, stream=20)      # K2
    b.kernel(GEMM, 24, 30, 40)                       # K3
    b.kernel(GEMM, 51, 60, 70, tid=2)                # K4
    b.kernel(GEMM, 85, 90, 95)                       # K5
    b.range(FETCH, 100, 110).range(BATCH, 110, 150)
    b.kernel(GEMM, 120, 200, 210)                    # K6
    b.range(BATCH, 220, 300).kernel(GEMM, 230, 240, 260)  # cut batch, K7
    b.window_end(300)
    return b.events


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = write_trace(tmp_path_factory.mktemp("t") / "t.json", main_trace(), baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(path)
    return build_report(con), con


def test_batches_and_window(report):
    rep, con = report
    assert con.execute("SELECT batch, ts, host_end, gpu_end, end_ts, complete FROM batches "
                       "ORDER BY ts").fetchall() == [
        (1, 0, 100_000, 95_000, 100_000, True),
        (2, 100_000, 150_000, 210_000, 210_000, True),
        (None, 220_000, 300_000, 260_000, 300_000, False)]
    r = rep["ranks"][0]
    assert r["batches"] == 2
    assert r["total_s"] == pytest.approx(210 * US, abs=1e-12)
    assert r["throughput_it_s"] == pytest.approx(2 / (210 * US))


def test_gpu_time_idle_and_overlap(report):
    rep, con = report
    assert con.execute("SELECT active_ns, idle_ns, computation_ns, communication_ns, memory_ns, "
                       "overlap_ns, data_loader_ns FROM gpu_time").fetchone() == (
        50_000, 160_000, 45_000, 20_000, 0, 15_000, 20_000)
    r = rep["ranks"][0]
    assert r["gpu_idle_pct"] == pytest.approx(100 * 160 / 210)
    assert r["comm_pct"] == pytest.approx(100 * 20 / 210)
    assert r["overlap"]["pct_of_comm"] == pytest.approx(75.0)
    assert r["overlap"]["pct_of_comp"] == pytest.approx(100 * 15 / 45)
    assert r["overlap"]["pct_of_total"] == pytest.approx(100 * 15 / 210)


def test_ownership(report):
    _, con = report
    rows = con.execute("""SELECT g.ts // 1000, o.phase, o.module_group, o.direction, o.via_sequence
                          FROM gpu_owners o JOIN gpu_activities g USING (activity_id)
                          ORDER BY g.ts""").fetchall()
    assert rows == [
        (20, "forward", "encoder", "fwd", False),
        (25, "forward", "processor", "fwd", False),
        (30, "forward", "processor", "fwd", False),
        (60, "backward", "encoder", "bwd", True),   # autograd thread: phase from the process
        (90, "optimizer", None, "fwd", False),
        (200, "elsewhere", None, "fwd", False),
        (240, "elsewhere", None, "fwd", False)]


def test_phase_partition(report):
    rep, _ = report
    phases = {p["name"]: p for p in rep["ranks"][0]["phases"]}
    # GPU busy time goes to the running work's owners, idle time to the open phase range:
    # forward 25 busy + [12,20) idle; backward [60,70) + [45,60) + [70,80);
    # optimizer [90,95) + [11,12) + [80,90) + [95,99); data_loader [0,10) + [100,110);
    # elsewhere [200,210) + [10,11) + [99,100) + [110,200)
    expected = {"forward": 33, "backward": 35, "optimizer": 20, "data_loader": 20, "elsewhere": 102}
    for name, us in expected.items():
        assert phases[name]["duration_s"] == pytest.approx(us * US, abs=1e-12), name
    assert sum(p["duration_s"] for p in phases.values()) == pytest.approx(210 * US, abs=1e-12)
    # forward's own all-gather runs [25,45): 20 µs of its 33
    assert phases["forward"]["comm_pct"] == pytest.approx(100 * 20 / 33)
    assert phases["backward"]["comm_pct"] == 0


def test_module_partition_shares_concurrent_work(report):
    rep, _ = report
    mods = {m["name"]: m for m in rep["ranks"][0]["modules"]}
    # [25,30) runs encoder's K1 and processor's K2: 2.5 µs each. Idle [13,20) is inside the
    # encoder range.
    expected = {"encoder": 5 + 2.5 + 10 + 7, "processor": 2.5 + 10 + 5, "decoder": 0,
                "elsewhere": 5 + 10 + 13 + 15 + 20 + 105}
    for name, us in expected.items():
        assert mods[name]["duration_s"] == pytest.approx(us * US, abs=1e-12), name
    assert mods["processor"]["comm_pct"] == pytest.approx(100.0)
    assert mods["encoder"]["comm_pct"] == 0
    assert {(m["module"], m["direction"]): m["gpu_s"] for m in rep["ranks"][0]["module_gpu"]} == {
        ("encoder", "fwd"): pytest.approx(10 * US), ("encoder", "bwd"): pytest.approx(10 * US),
        ("processor", "fwd"): pytest.approx(20 * US)}


def test_annotation_table(report):
    rep, _ = report
    rows = {(a["name"], a["direction"]): a for a in rep["ranks"][0]["annotations"]}
    enc_f, enc_b, proc = rows[(ENC, "fwd")], rows[(ENC, "bwd")], rows[(PROC, "fwd")]
    assert (enc_f["calls"], enc_f["gpu_total_s"], enc_f["overlap_pct"]) == (
        1, pytest.approx(10 * US), pytest.approx(50.0))  # [25,30) of [20,30) shared with K2
    assert (enc_b["calls"], enc_b["gpu_total_s"], enc_b["overlap_pct"]) == (
        1, pytest.approx(10 * US), 0.0)
    assert (proc["calls"], proc["gpu_total_s"], proc["overlap_pct"]) == (
        1, pytest.approx(20 * US), pytest.approx(25.0))
    assert enc_f["module"] == "encoder" and proc["module"] == "processor"
    batch = rows[(BATCH, "fwd")]  # two instances in the window; the first owns nothing itself
    assert (batch["calls"], batch["gpu_total_s"], batch["avg_us"], batch["max_us"], batch["min_us"]) == (
        2, pytest.approx(10 * US), pytest.approx(5.0), pytest.approx(10.0), 0)
    assert rows[(OPT, "fwd")]["gpu_total_s"] == pytest.approx(5 * US)
    assert (rows[(FETCH, "fwd")]["calls"], rows[(FETCH, "fwd")]["gpu_total_s"]) == (2, 0)


def test_single_rank_has_no_collectives(report):
    rep, _ = report
    assert rep["collectives"] == {}
    assert rep["collectives_missing"] == "needs the traces of two or more ranks"


def test_checkpoint_recompute_inside_backward_is_backward(tmp_path):
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(TRAIN, 1, 30).range(ENC, 2, 10).kernel(GEMM, 3, 5, 15)
    b.range(BACKWARD, 30, 90).range(ENC, 40, 50).kernel(GEMM, 41, 45, 55)  # recompute
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    rep = build_report(con)
    mg = {(m["module"], m["direction"]): m["gpu_s"] for m in rep["ranks"][0]["module_gpu"]}
    assert mg == {("encoder", "fwd"): pytest.approx(10 * US), ("encoder", "bwd"): pytest.approx(10 * US)}


def test_collectives_transfer_wait_and_straggler(tmp_path):
    # rank 0 enters the all-reduce at 100 and waits for rank 1, which enters at 130; both end
    # at 150: transfer = 20 µs (the shorter), rank 0 waits 30 µs, rank 1 is the straggler.
    for rank, start in ((0, 100), (1, 130)):
        b = TraceBuilder()
        b.range(BATCH, 0, 200).kernel(ALLREDUCE, 90, start, 150, stream=24)
        write_trace(tmp_path / f"r{rank}.json", b.events, baseTimeNanoseconds=0,
                    distributedInfo={"rank": rank, "world_size": 2})
    con, _ = load(tmp_path)
    rep = build_report(con)
    ar = rep["collectives"]["AllReduce"]
    assert ar["straggler_rank"] == 1 and ar["instances"] == 1
    assert [(x["rank"], x["transfer_s"], x["wait_s"], x["last_arrivals"]) for x in ar["ranks"]] == [
        (0, pytest.approx(20 * US), pytest.approx(30 * US), 0),
        (1, pytest.approx(20 * US), 0, 1)]


def test_profiler_steps_when_there_are_no_lightning_ranges(tmp_path):
    b = TraceBuilder()
    b.range("ProfilerStep#3", 0, 50).kernel(GEMM, 1, 10, 30)
    b.range("ProfilerStep#4", 50, 100).kernel(GEMM, 60, 70, 120)
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    rep = build_report(con)
    r = rep["ranks"][0]
    assert (r["batches"], r["total_s"]) == (2, pytest.approx(120 * US))  # step 4 ends with its kernel
    assert r["gpu_active_s"] == pytest.approx(70 * US)
    # no phase ranges: a profiler step's body is forward (phase fallback), all 120 µs of it
    assert [(p["name"], p["duration_s"]) for p in r["phases"] if p["duration_s"]] == [
        ("forward", pytest.approx(120 * US))]
    assert r["modules"] is None and "modules" in r["missing"]


def test_no_gpu_events_are_missing_not_zero(tmp_path):
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(TRAIN, 1, 50)
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    r = build_report(con)["ranks"][0]
    assert r["total_s"] == pytest.approx(100 * US)
    assert r["gpu_idle_s"] is None and r["gpu_idle_pct"] is None and r["comm_pct"] is None
    assert r["overlap"]["overlap_s"] is None and r["annotations"] is None
    assert "no GPU activity" in r["missing"]["gpu"]
    assert r["phases"] is not None  # host-side phases still split the window


def test_no_batches_means_the_trace_span(tmp_path):
    b = TraceBuilder()
    b.range("something", 0, 10).kernel(GEMM, 1, 2, 3)
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    r = build_report(con)["ranks"][0]
    # span of the complete events: [0, 10) µs; the kernel [2, 3) is the only GPU activity
    assert (r["window_source"], r["batches"], r["total_s"]) == ("trace_span", 0, pytest.approx(10 * US))
    assert r["gpu_idle_s"] == pytest.approx(9 * US)
    assert r["throughput_it_s"] is None and "--batch REGEX" in r["missing"]["throughput"]
    assert "window" not in r["missing"]


def test_batch_pattern_option_changes_the_window(tmp_path):
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range("my_step", 20, 60).kernel(GEMM, 21, 30, 40)
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    rep = build_report(con, {"batch": ["^my_step$"]})
    assert rep["ranks"][0]["total_s"] == pytest.approx(40 * US)
