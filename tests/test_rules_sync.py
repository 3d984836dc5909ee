"""sync_on_critical_path measures what a sync costs the GPU (DESIGN.md "Sync cost"): the GPU
idle from the call's return to the next GPU activity, not the host time blocked in it."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from anemoi_tp.report import build_report

from builders import BATCH, FETCH, GEMM, TRAIN, TraceBuilder
from conftest import load, write_trace


def report(tmp_path, events: list[dict]) -> dict:
    write_trace(tmp_path / "r0.json", events, baseTimeNanoseconds=0,
                distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(tmp_path)
    return build_report(con)


def sync(b: TraceBuilder, start: float, end: float, name: str = "cudaStreamSynchronize") -> None:
    b.events.append({"ph": "X", "cat": "cuda_runtime", "name": name, "pid": 1, "tid": 1,
                     "ts": start, "dur": end - start, "args": {"correlation": 900 + len(b.events)}})


def sync_findings(rep: dict) -> list[dict]:
    return [f for f in rep["findings"] if f["rule"] == "sync_on_critical_path"]


def test_gpu_bound_loop_blocking_in_sync_is_no_finding(tmp_path):
    # window [0,100). The host launches, then blocks in cudaStreamSynchronize [3,50.5) while
    # the kernel runs [2,50); right after the return it launches the next kernel (51),
    # which runs [52,99). Host blocked 47.5 µs (47.5 %: the old rule's critical), but the
    # GPU idles only [50.5,52) after the return = 1.5 % < 5 %.
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100)
    b.kernel(GEMM, 1, 2, 50)
    b.op("aten::item", 3, 50.6)
    sync(b, 3, 50.5)
    b.kernel(GEMM, 51, 52, 99)
    rep = report(tmp_path, b.events)
    assert sync_findings(rep) == []
    status = {s["rule"]: s for s in rep["rule_status"]}["sync_on_critical_path"]
    assert (status["status"], status["ranks"]) == ("ran", [0])


def test_sync_followed_by_a_host_gap_is_charged(tmp_path):
    # kernel [2,20); aten::item → cudaStreamSynchronize [3,21) returns at 21; the host then
    # works until it launches the next kernel at 60, which runs [61,99). GPU idle gap
    # [20,61); from the return: 61 − 21 = 40 µs of the 100 µs window = 40 % ≥ 2 × 5 %.
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100)
    b.kernel(GEMM, 1, 2, 20)
    b.op("aten::item", 3, 22).op("aten::_local_scalar_dense", 3, 21.5)
    sync(b, 3, 21)
    b.kernel(GEMM, 60, 61, 99)
    [f] = sync_findings(report(tmp_path, b.events))
    assert (f["rank"], f["ranks"], f["severity"], f["metric"]) == (
        0, [0], "critical", "gpu_idle_after_sync_pct")
    assert round(f["value"], 9) == 40.0
    # the innermost op around the call names the site; host blocked 18 µs
    assert "cudaStreamSynchronize in aten::_local_scalar_dense ×1 0.040 ms" in f["evidence"]
    assert "host blocked in sync calls: 0.018 ms" in f["evidence"]
    q = parse_qs(urlparse(f["perfetto_url"]).fragment.split("?", 1)[1])
    assert (q["visStart"], q["visEnd"]) == (["21000"], ["61000"])  # return → next kernel


def test_one_gap_is_charged_once_to_the_sync_that_drained_it(tmp_path):
    # two .item() calls in one idle gap [20,80): the first returns at 21 (drains the GPU),
    # the second [30,31) finds it idle. Cost 80 − 21 = 59 µs, once, on the first call.
    # Then a second gap [90,95) after a sync returning at 92: 3 µs. Total 62 % of 100 µs.
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100)
    b.kernel(GEMM, 1, 2, 20)
    b.op("aten::item", 3, 21.5)
    sync(b, 3, 21)
    b.op("aten::to", 30, 31.5)
    sync(b, 30, 31, "cudaMemcpy")
    b.kernel(GEMM, 79, 80, 90)
    b.op("aten::item", 85, 92.5)
    sync(b, 85, 92, "cudaDeviceSynchronize")
    b.kernel(GEMM, 94, 95, 100)
    [f] = sync_findings(report(tmp_path, b.events))
    assert round(f["value"], 9) == 62.0
    assert ("cudaStreamSynchronize in aten::item ×1 0.059 ms; "
            "cudaDeviceSynchronize in aten::item ×1 0.003 ms (") in f["evidence"]
    assert "cudaMemcpy" not in f["evidence"]


def test_gaps_with_data_loading_are_left_to_data_loader_stall(tmp_path):
    # the sync returns at 21 into the idle gap [20,61), but a fetch runs [30,58) in it: the
    # gap is data_loader_stall's, as in host_bound; nothing else idles after a sync.
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100)
    b.kernel(GEMM, 1, 2, 20)
    b.op("aten::item", 3, 22)
    sync(b, 3, 21)
    b.range(FETCH, 30, 58)
    b.kernel(GEMM, 60, 61, 99)
    assert sync_findings(report(tmp_path, b.events)) == []
