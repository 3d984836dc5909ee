"""Temporal numbers on the shared real traces against Holistic Trace Analysis (SOURCES.md).

HTA 0.5.0 drops the last ProfilerStep and measures over the *kernel span* (first kernel start
to last kernel end of the kernels launched in the kept steps); its compute time is the union
of computation kernels, its non-compute time is the rest of the GPU-busy time, and its idle
time is span − busy. We run our report with the same batches (every ProfilerStep but the last,
via the batch pattern) and compare where the definitions coincide:
  * computation union and busy − computation: equal to the µs;
  * idle: ours is measured over our window (the steps' host ranges, up to their GPU end), so
    ours = HTA's + (our window − HTA's kernel span);
  * overlap: HTA's comm/comp overlap is our overlap as % of communication.
On the two traces with float-µs timestamps HTA's figures are lower than the exact union
(by 2.3 % and 6.1 %); we could not trace that to a rounding rule (truncating, rounding both
checked). For those we check our union against an independent computation from the raw JSON
instead, and bound the gap to HTA.
"""
from __future__ import annotations

import gzip
import json

import pytest

from anemoi_tp.report import build_report

from conftest import load, shared_trace

US = 1000  # ns

INTEGER_US = {
    # file: (idle, compute, non-compute, kernel span, comm/comp overlap %) from SOURCES.md
    "hta_sampled_rank-0.json.gz": (321378, 106252, 172428, 600058, 11.81),
    "hta_sampled_rank-1.json.gz": (328671, 135548, 136455, 600674, 20.05),
    "hta_v100_rank1of2_memory.json.gz": (643612, 496485, 256572, 1396669, 0.0),
}


def _all_but_last_step(con) -> str:
    steps = [n for (n,) in con.execute(
        "SELECT name FROM events WHERE cat = 'user_annotation' AND name LIKE 'ProfilerStep#%' "
        "ORDER BY ts").fetchall()]
    return "^(" + "|".join(s.replace("#", "\\#") for s in steps[:-1]) + ")$"


@pytest.mark.parametrize("name", sorted(INTEGER_US))
def test_integer_us_traces_agree_with_hta(name):
    idle, compute, noncompute, span, overlap = INTEGER_US[name]
    con, _ = load(shared_trace(name))
    rep = build_report(con, {"batch": [_all_but_last_step(con)]})
    total, active, comp = con.execute(
        "SELECT total_ns, active_ns, computation_ns FROM gpu_time").fetchone()
    assert comp == compute * US
    assert active - comp == noncompute * US
    assert idle * US == (total - active) - (total - span * US)
    assert rep["ranks"][0]["overlap"]["pct_of_comm"] == pytest.approx(overlap, abs=0.005)


def _union(intervals: list[tuple[int, int]]) -> int:
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return total + (cur_e - cur_s if cur_e is not None else 0)


@pytest.mark.parametrize("name,batch,hta_compute,max_gap", [
    ("hta_nccl_data_a100_rank0of2.json.gz", None, 75169, 0.025),
    ("tracelens_b200_rank0of8.json.gz", "^execute_context_1", 10153, 0.065),
])
def test_float_us_traces_union_is_exact(name, batch, hta_compute, max_gap):
    path = shared_trace(name)
    con, _ = load(path)
    rep = build_report(con, {"batch": [batch or _all_but_last_step(con)]})
    w0, w1 = con.execute("SELECT ts, end_ts FROM analysis_window").fetchone()
    comp = con.execute("SELECT computation_ns FROM gpu_time").fetchone()[0]
    with gzip.open(path) as f:
        doc = json.load(f)
    base = doc.get("baseTimeNanoseconds", 0)
    kernels, hta_kernels = [], []  # HTA counts every kernel without "nccl" as computation;
    for e in doc["traceEvents"]:   # here NVLS multimem_* kernels are communication
        if e.get("ph") == "X" and e.get("cat") == "kernel" and "nccl" not in e["name"].lower():
            s = base + round(e["ts"] * 1000)
            clipped = (max(s, w0), min(s + round(e["dur"] * 1000), w1))
            hta_kernels.append(clipped)
            if "multimem_" not in e["name"]:
                kernels.append(clipped)
    expected = _union([(s, e) for s, e in kernels if e > s])
    assert abs(comp - expected) <= len(kernels)  # ≤ 1 ns of float rounding per kernel
    hta_like = _union([(s, e) for s, e in hta_kernels if e > s])
    assert 0 < (hta_like / US - hta_compute) / hta_compute < max_gap
    assert rep["ranks"][0]["gpu_time"]["computation_s"] == pytest.approx(comp / 1e9)
