"""Bottleneck rules: each planted bottleneck fires its rule with the right rank and scope; a
clean trace fires none of the first four; thresholds change the outcome."""
from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlparse

from anemoi_tp.report import build_report

from builders import ALLGATHER, ALLREDUCE, BATCH, ENC, FETCH, GEMM, PROC, TRAIN, TraceBuilder
from conftest import load, write_trace

FIRST_FOUR = {"data_loader_stall", "straggler", "exposed_communication", "host_bound"}


def findings(tmp_path, events_by_rank: dict[int, list], thresholds=None):
    for rank, events in events_by_rank.items():
        write_trace(tmp_path / f"r{rank}.json", events, baseTimeNanoseconds=0,
                    distributedInfo={"rank": rank, "world_size": len(events_by_rank)})
    con, _ = load(tmp_path)
    return build_report(con, thresholds=thresholds)["findings"]


def by_rule(fs):
    return {f["rule"]: f for f in fs}


def clean_rank() -> list[dict]:
    """Kernels queued back to back (each launched before the previous one ends), the
    all-gather hidden under computation, a short fetch."""
    b = TraceBuilder()
    b.range(FETCH, 0, 2).range(BATCH, 2, 100).range(TRAIN, 3, 99)
    b.range(ENC, 4, 50).kernel(GEMM, 5, 10, 50).kernel(ALLGATHER, 6, 12, 40, stream=20)
    b.range(PROC, 50, 98).kernel(GEMM, 40, 50, 95)
    return b.events


def test_clean_trace_fires_none_of_the_first_four(tmp_path):
    fs = findings(tmp_path, {0: clean_rank()})
    assert not [f for f in fs if f["rule"] in FIRST_FOUR and f["severity"] in ("warning", "critical")]


def test_data_loader_stall(tmp_path):
    b = TraceBuilder()
    b.range(FETCH, 0, 40).range(BATCH, 40, 100).range(TRAIN, 41, 99).kernel(GEMM, 41, 42, 100)
    f = by_rule(findings(tmp_path, {0: b.events}))["data_loader_stall"]
    # idle [0,42) with the fetch open [0,40): 40 of 100 µs = 40 % ≥ 2 × 10 % → critical
    assert (f["rank"], f["scope"], f["severity"], round(f["value"], 6)) == (0, "phase", "critical", 40.0)
    q = parse_qs(urlparse(f["perfetto_url"]).fragment.split("?", 1)[1])
    assert (q["visStart"], q["visEnd"]) == (["0"], ["40000"])  # the fetch, in the UI's ns
    assert unquote(q["url"][0]) == "http://127.0.0.1:9001/r0.json"


def test_thresholds_change_the_outcome(tmp_path):
    b = TraceBuilder()
    b.range(FETCH, 0, 40).range(BATCH, 40, 100).range(TRAIN, 41, 99).kernel(GEMM, 41, 42, 100)
    fs = findings(tmp_path, {0: b.events}, {"data_loader_stall": {"pct_of_total": 30.0}})
    assert by_rule(fs)["data_loader_stall"]["severity"] == "warning"  # 40 % < 2 × 30 %
    fs = findings(tmp_path, {0: b.events}, {"data_loader_stall": {"pct_of_total": 50.0}})
    assert "data_loader_stall" not in by_rule(fs)


def test_straggler_names_the_late_rank_and_what_it_did(tmp_path):
    # both ranks: batch [0,200). Rank 1 loads data [10,80) inside the batch and enters the
    # all-reduce at 110; rank 0 entered at 80 and waits 30 µs = 15 % of its window.
    r0 = TraceBuilder().range(BATCH, 0, 200).range(TRAIN, 1, 199)
    r0.kernel(ALLREDUCE, 79, 80, 150, stream=24).kernel(GEMM, 150, 151, 200)
    r1 = TraceBuilder().range(BATCH, 0, 200).range(TRAIN, 1, 9).range(FETCH, 10, 80)
    r1.kernel(ALLREDUCE, 105, 110, 150, stream=24).kernel(GEMM, 150, 151, 200)
    f = by_rule(findings(tmp_path, {0: r0.events, 1: r1.events}))["straggler"]
    assert (f["rank"], f["scope"], f["severity"]) == (1, "collective", "critical")
    assert f["value"] == 15.0  # the average over the other ranks: rank 0 alone
    assert "rank 1 arrives last at 1 of 1" in f["evidence"] and "data_loader" in f["evidence"]


def test_exposed_communication_counts_transfer_not_wait(tmp_path):
    # rank 0 enters the all-gather at 20, rank 1 at 50; both end at 80: transfer = [50,80)
    # on both, nothing computes then: 30 µs exposed of a 100 µs window on each rank.
    events = {}
    for rank, enter in ((0, 20), (1, 50)):
        b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 1, 99)
        b.range(PROC, 2, 98).kernel(ALLGATHER, 3, enter, 80, stream=20).kernel(GEMM, 4, 5, 15)
        b.kernel(GEMM, 81, 82, 100)
        events[rank] = b.events
    fs = [f for f in findings(tmp_path, events) if f["rule"] == "exposed_communication"]
    # one finding for both ranks (equal values: the lower rank is the headline)
    assert [(f["rank"], f["ranks"], f["scope"], round(f["value"], 6)) for f in fs] == [
        (0, [0, 1], "collective", 30.0)]
    assert "AllGather in forward / processor" in fs[0]["evidence"]


def test_host_bound_names_the_module(tmp_path):
    # the encoder launches each kernel only after the previous one finished: GPU idle
    # [10,20), [25,35), [40,50) while the host launches (launch at 18, 33, 48)
    b = TraceBuilder().range(BATCH, 0, 60).range(TRAIN, 0, 60).range(ENC, 0, 60)
    b.kernel(GEMM, 0, 5, 10).kernel(GEMM, 18, 20, 25).kernel(GEMM, 33, 35, 40).kernel(GEMM, 48, 50, 60)
    f = by_rule(findings(tmp_path, {0: b.events}))["host_bound"]
    # window [0,60); host-bound gaps [10,20) + [25,35) + [40,50) = 30 µs = 50 %
    assert (f["rank"], f["scope"], f["severity"], round(f["value"], 6)) == (0, "module", "critical", 50.0)
    assert "model.model.encoder.lin" in f["evidence"]


def test_sync_and_pageable_memcpy(tmp_path):
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100)
    b.kernel(GEMM, 1, 2, 30)
    b.op("aten::item", 30, 62)
    b.events.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaStreamSynchronize", "pid": 1,
                     "tid": 1, "ts": 31, "dur": 30, "args": {"correlation": 999}})
    b.kernel("Memcpy HtoD (Pageable -> Device)", 80, 82, 92, cat="gpu_memcpy")
    fs = by_rule(findings(tmp_path, {0: b.events}))
    # the sync returns at 61; the GPU idles [30,82), from the return 82 − 61 = 21 µs = 21 %
    assert (fs["sync_on_critical_path"]["severity"], round(fs["sync_on_critical_path"]["value"], 9)) == (
        "critical", 21.0)
    assert "cudaStreamSynchronize in aten::item" in fs["sync_on_critical_path"]["evidence"]
    assert (fs["pageable_memcpy"]["severity"], fs["pageable_memcpy"]["value"]) == ("critical", 10.0)


def test_findings_are_worst_first(tmp_path):
    b = TraceBuilder()
    b.range(FETCH, 0, 40).range(BATCH, 40, 100).range(TRAIN, 41, 99).kernel(GEMM, 41, 42, 100)
    fs = findings(tmp_path, {0: b.events})
    order = {"critical": 0, "warning": 1, "info": 2}
    assert [order[f["severity"]] for f in fs] == sorted(order[f["severity"]] for f in fs)
    assert fs[0]["rule"] == "data_loader_stall"
    assert fs[-1]["rule"] == "missing_annotations" and fs[-1]["severity"] == "info"


def test_low_occupancy_and_load_imbalance(tmp_path):
    events = {}
    for rank, work_end in ((0, 60), (1, 90)):  # rank 1 computes 80 µs per batch, rank 0 50
        b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100).range(ENC, 0, 100)
        b.kernel(GEMM, 1, 10, work_end)
        events[rank] = b.events
    # Kineto's occupancy estimate on every kernel of rank 1: 12 %
    for e in events[1]:
        if e["cat"] == "kernel":
            e["args"]["est. achieved occupancy %"] = 12
    fs = findings(tmp_path, events)
    imb = by_rule(fs)["load_imbalance"]
    # (80 − 50) / 65 = 46.2 % of the mean, on the heavier rank 1
    assert (imb["rank"], imb["scope"], round(imb["value"], 3)) == (1, "rank", round(3000 / 65, 3))
    occ = [f for f in fs if f["rule"] == "low_occupancy"]
    assert [(f["rank"], f["value"]) for f in occ] == [(1, 100.0)]
    assert "ampere_sgemm_128x64_tn (12%" in occ[0]["evidence"]


def test_exposed_communication_only_counts_computation_that_meets_a_transfer(tmp_path):
    # one rank, window [0,100). Transfers (unmatched: whole kernels): [20,40) and [40,50)
    # (touching: one stretch), [70,80). Computation: [0,20) and [50,70) touch a stretch only,
    # [30,35) inside one, [45,60) over its end, [85,95) far from any. Exposed: [20,30) + [35,45)
    # + [70,80) = 30 µs = 30 %; the longest stretches are 10 µs, the earliest [20,30).
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 1, 99)
    b.kernel(ALLREDUCE, 2, 20, 40, stream=20).kernel(ALLREDUCE, 3, 40, 50, stream=20)
    b.kernel(ALLREDUCE, 4, 70, 80, stream=20)
    for i, (s, e) in enumerate([(0, 20), (30, 35), (45, 60), (50, 70), (85, 95)]):
        b.kernel(GEMM, 5 + i, s, e, stream=7 + i % 2)
    f = by_rule(findings(tmp_path, {0: b.events}))["exposed_communication"]
    assert (f["rank"], round(f["value"], 6)) == (0, 30.0)
    assert f["evidence"].startswith("0.030 ms of communication transfer (30.0% of the window)")
    # the rule's per-rank input keeps the three communication kernels and, of the computation,
    # only [30,35) and [45,60): the others touch a communication kernel or are far from one
    con, _ = load(tmp_path)
    build_report(con)
    assert con.execute("SELECT compute, ts // 1000, end_ts // 1000 FROM rule_comm_kernels "
                       "ORDER BY compute, ts").fetchall() == [
        (False, 20, 40), (False, 40, 50), (False, 70, 80), (True, 30, 35), (True, 45, 60)]
    assert "visStart=20000&visEnd=30000" in f["perfetto_url"]
