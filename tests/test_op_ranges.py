"""Module ranges written as cpu_op events (torch's fast record_function, which
anemoi_tp.capture uses) are module ranges, not operators (analysis/range_candidates.sql,
op_ranges). Times by hand, µs."""
from __future__ import annotations

from anemoi_tp.report import build_report

from builders import BATCH, GEMM, TRAIN, TraceBuilder
from conftest import load, write_trace


def _trace(tmp_path, module_cat: str, bwd_range: bool = True):
    # window [0,300). "Block encoder fwd" [10,110) holds aten::mm [20,50) (its kernel runs
    # [22,60)) and aten::add [60,70), then a cudaStreamSynchronize [75,80) in no op;
    # "Block encoder bwd" [120,220) holds aten::mm [130,170) (kernel [132,180)).
    b = TraceBuilder().range(BATCH, 0, 300).range(TRAIN, 0, 300)
    b.range("Block encoder fwd", 10, 110, cat=module_cat)
    b.op("aten::mm", 20, 50, seq=5).kernel(GEMM, 21, 22, 60)
    b.op("aten::add", 60, 70)
    b.events.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaStreamSynchronize",
                     "pid": 1, "tid": 1, "ts": 75, "dur": 5, "args": {"correlation": 999}})
    if bwd_range:
        b.range("Block encoder bwd", 120, 220, cat=module_cat)
    else:  # module_ranges(backward=False): the node's Sequence number leads to its forward op
        b.op("autograd::engine::evaluate_function: MmBackward0", 125, 175, seq=5)
    b.op("aten::mm", 130, 170).kernel(GEMM, 131, 132, 180)
    write_trace(tmp_path / "r0.json", b.events, baseTimeNanoseconds=0,
                distributedInfo={"rank": 0, "world_size": 1})
    return load(tmp_path)[0]


def _module_gpu_us(rank: dict) -> dict:
    return {(m["module"], m["direction"]): round(m["gpu_s"] * 1e6, 6) for m in rank["module_gpu"]}


def _facts(con) -> tuple:
    rep = build_report(con)
    r = rep["ranks"][0]
    ops = {o["name"]: round(o["self_ms"] * 1e3, 6) for o in r["top_operators"]}
    modules = con.execute("""SELECT label, direction, module_group FROM host_ranges
                             WHERE kind = 'module' ORDER BY ts""").fetchall()
    gpu = _module_gpu_us(r)
    [sync] = [f for f in rep["findings"] if f["rule"] == "sync_on_critical_path"]
    return ops, modules, gpu, sync["evidence"]


def test_cpu_op_module_ranges_are_ranges_not_operators(tmp_path):
    ops, modules, gpu, evidence = _facts(_trace(tmp_path, "cpu_op"))
    # self times of the real ops only: mm 30 + 40, add 10 (the ranges would take 100 − 40
    # and 100 − 40 as operators)
    assert ops == {"aten::mm": 70, "aten::add": 10}
    assert modules == [("encoder", "fwd", "encoder"), ("encoder", "bwd", "encoder")]
    # each kernel is owned by the module range around its launch: 60 − 22, 180 − 132
    assert gpu == {("encoder", "fwd"): 38, ("encoder", "bwd"): 48}
    # the sync [75,80) is in no op (not "in Block encoder fwd"); GPU idle from its return
    # (80) to the next GPU work (132): 52 µs
    assert "cudaStreamSynchronize in no op ×1 0.052 ms" in evidence


def test_user_annotation_module_ranges_give_the_same(tmp_path):
    assert _facts(_trace(tmp_path, "user_annotation")) == _facts(_trace(tmp_path / "b", "cpu_op"))


def test_forward_ranges_only_attribute_backward_by_sequence_number(tmp_path):
    # module_ranges(backward=False) writes no "bwd" range: the backward kernel [132,180) is
    # the encoder's through the autograd op's Sequence number 5, that of aten::mm in
    # "Block encoder fwd"; same 38 / 48 µs as with the bwd range
    con = _trace(tmp_path, "cpu_op", bwd_range=False)
    r = build_report(con)["ranks"][0]
    gpu = _module_gpu_us(r)
    assert gpu == {("encoder", "fwd"): 38, ("encoder", "bwd"): 48}
    modules = con.execute("""SELECT label, direction FROM host_ranges
                             WHERE kind = 'module' ORDER BY ts""").fetchall()
    assert modules == [("encoder", "fwd")]
