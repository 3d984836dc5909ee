"""The per-layer split's communication ∩ computation (report_layers.sql) where communication
islands span several computation islands, start inside one, fall between two or before the
first, computed by hand (µs → s).

One rank; µs. batch [0,130) ⊃ training_step [1,129) ⊃ module encoder.lin [2,8).
Computation (gemm, stream 7): [10,20) [30,40) [50,60) [100,110), launched at 2 (in encoder.lin,
forward) and 61, 62, 63 (no module). Communication (all-reduce, stream 20): [0,5) at 0.5 and
[15,55) at 3 (encoder.lin), [70,80) at 64 and [105,120) at 65 (no module).
"""
from __future__ import annotations

import pytest

from anemoi_tp.report import build_report

from builders import ALLREDUCE, BATCH, ENC, GEMM, TRAIN, TraceBuilder
from conftest import load, write_trace

ENC_PARENT = "[pl][module]anemoi.Mapper: model.model.encoder"


def test_comm_overlap_over_several_computation_islands(tmp_path):
    b = TraceBuilder()
    b.range(BATCH, 0, 130).range(TRAIN, 1, 129).range(ENC_PARENT, 2, 8).range(ENC, 2.5, 7.5)
    b.kernel(ALLREDUCE, 0.5, 0, 5, stream=20)   # launched before the module range: no module
    b.kernel(GEMM, 3, 10, 20).kernel(ALLREDUCE, 4, 15, 55, stream=20)
    b.kernel(GEMM, 61, 30, 40).kernel(GEMM, 62, 50, 60).kernel(GEMM, 63, 100, 110)
    b.kernel(ALLREDUCE, 64, 70, 80, stream=20).kernel(ALLREDUCE, 65, 105, 120, stream=20)
    path = write_trace(tmp_path / "t.json", b.events, baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(path)
    rep = build_report(con)
    layers = {(x["layer"], x["direction"]): x for x in rep["ranks"][0]["layers"]}
    enc = layers[("model.model.encoder.lin", "fwd")]
    # [15,55) meets [15,20) 5 + [30,40) 10 + [50,55) 5
    assert (enc["communication_s"], enc["comm_overlap_s"]) == pytest.approx((40e-6, 20e-6))
    other = layers[("elsewhere", None)]
    # 5 + 10 + 15: [0,5) before any computation 0, [70,80) between islands 0, [105,120) meets [105,110) 5
    assert (other["communication_s"], other["comm_overlap_s"]) == pytest.approx((30e-6, 5e-6))
