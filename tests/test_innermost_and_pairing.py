"""The one "innermost" order and the backward → forward pairing, on hand-built traces.

Kineto timestamps are µs-quantised, so nested ranges start (and end) in the same µs. The order
(DESIGN.md): later start is inner; at equal start the one that ends first; at equal start and
end the one later in the file. Backward work belongs to the forward op that created its
autograd node: the fwdbwd flow's source, else the outermost, latest op with the same Sequence
number before the backward op, outside optimizer ranges, in the same batch.
"""
from __future__ import annotations

import pytest

from anemoi_tp.analysis import run_analyses
from anemoi_tp.report import build_report

from builders import BACKWARD, BATCH, GEMM, OPT, TRAIN, TraceBuilder
from conftest import load, write_trace

ENC = "[pl][module]torch.nn.modules.linear.Linear: model.model.encoder.lin"
PROC = "[pl][module]torch.nn.modules.linear.Linear: model.model.processor.proc.0.lin"
DEC = "[pl][module]torch.nn.modules.linear.Linear: model.model.decoder.lin"


def owners(con) -> dict[int, tuple]:
    """launch µs → (phase, module_group, direction, annotation name, forward_link)."""
    rows = con.execute("""
        SELECT (g.launch_ts - 0) // 1000, o.phase, o.module_group, o.direction, h.name, o.forward_link
        FROM gpu_owners o JOIN gpu_activities g USING (activity_id)
        LEFT JOIN host_ranges h ON h.range_id = o.annotation_id AND h.kind = 'annotation'
        ORDER BY 1""").fetchall()
    return {r[0]: r[1:] for r in rows}


def analysed(tmp_path, events, name="t.json"):
    path = write_trace(tmp_path / name, events, baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(path)
    run_analyses(con)
    return con


# -- ties --------------------------------------------------------------------------------
def tie_trace(swap: bool) -> list[dict]:
    """batch [0,100) ⊃ optimizer_step [1,99); training_step and the encoder range both start at
    2 (training_step [2,40) ends later, so the encoder [2,20) is inner); two annotations A and B
    over exactly [30,35) (the one later in the file is inner); backward [40,90).
    K1 launched at 2 (the shared start), K2 at 31 (inside A and B)."""
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(OPT, 1, 99)
    b.range(TRAIN, 2, 40).range(ENC, 2, 20)
    first, second = ("B", "A") if swap else ("A", "B")
    b.range(first, 30, 35).range(second, 30, 35)
    b.range(BACKWARD, 40, 90)
    b.kernel(GEMM, 2, 10, 12)       # K1
    b.kernel(GEMM, 31, 50, 60)      # K2
    return b.events


@pytest.mark.parametrize("swap", [False, True])
def test_ties_follow_the_one_order(tmp_path, swap):
    con = analysed(tmp_path, tie_trace(swap))
    own = owners(con)
    # K1: launched at 2, where optimizer_step [1,99) < training_step [2,40) < encoder [2,20)
    assert own[2][:3] == ("forward", "encoder", "fwd")
    assert own[2][3] == ENC
    # K2: A and B both [30,35): the one written later in the file wins
    assert own[31][3] == ("A" if swap else "B")
    assert own[31][0] == "forward"


def test_idle_goes_to_the_innermost_of_tied_ranges(tmp_path):
    """GPU idle while the host is in training_step [2,40) and encoder [2,20), both starting at 2:
    window [0,100], K1 [10,12), K2 [50,60); the idle stretch [0,10) lies in optimizer_step
    (from 1) and, from 2, in training_step and the encoder. Phase split of idle time:
    [0,1) batch only (no phase: elsewhere), [1,2) optimizer, [2,10) forward (training_step
    is the innermost phase), [12,40) forward, [40,50) backward, [60,90) backward,
    [90,99) optimizer, [99,100) elsewhere."""
    con = analysed(tmp_path, tie_trace(False))
    got = dict(con.execute("SELECT owner, idle_ns FROM attribution WHERE dim = 'phase'").fetchall())
    assert got == {"elsewhere": 2_000, "optimizer": 10_000, "forward": 36_000, "backward": 40_000}
    # modules: [2,10) and [12,20) in the encoder range → encoder idle 16 µs; rest elsewhere
    got = dict(con.execute("SELECT owner, idle_ns FROM attribution WHERE dim = 'module'").fetchall())
    assert got == {"encoder": 16_000, "elsewhere": 72_000}


def test_same_report_whatever_the_run(tmp_path):
    path = write_trace(tmp_path / "t.json", tie_trace(False), baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    seen = set()
    for jobs in (1, 2, 1, 2):
        con, _ = load(path, jobs=jobs)
        rep = build_report(con)
        rep["ranks"][0].pop("missing", None)
        seen.add(repr(rep["ranks"]) + repr(rep["findings"]))
    assert len(seen) == 1


# -- repeated sequence numbers -----------------------------------------------------------
def repeated_seq_trace(with_fwd_thread: bool = True) -> list[dict]:
    """Sequence number 7 is carried by: aten::zero_ inside Optimizer.zero_grad [3,6) (creates no
    node: excluded, optimizer), aten::empty [12.5,12.8) inside training_step but before the encoder
    (an earlier outermost op: not the last one before the node was made), aten::linear [13,19)
    inside the encoder with aten::addmm [14,18) nested in it (the node's creator: the outermost of
    the latest). Backward on tid 2: evaluate_function AddmmBackward0 seq 7 [50,60), K at 51."""
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(OPT, 1, 99)
    b.range("Optimizer.zero_grad#AdamW.zero_grad", 3, 6)
    b.op("aten::zero_", 4, 5, seq=7)
    b.range(TRAIN, 10, 40)
    b.op("aten::empty", 12.5, 12.8, seq=7)
    b.range(ENC, 12.9, 20)
    b.op("aten::linear", 13, 19, seq=7).op("aten::addmm", 14, 18, seq=7)
    b.range(PROC, 21, 30).op("aten::view", 22, 23, seq=8)  # creates no node: carries 8
    b.range(BACKWARD, 40, 90)
    ev = {"ph": "X", "cat": "cpu_op", "name": "autograd::engine::evaluate_function: AddmmBackward0",
          "pid": 1, "tid": 2, "ts": 50, "dur": 10, "args": {"Sequence number": 7}}
    if with_fwd_thread:
        ev["args"]["Fwd thread id"] = 1
    b.events.append(ev)
    b.kernel(GEMM, 51, 60, 70, tid=2)
    b.kernel(GEMM, 15, 20, 25)
    return b.events


@pytest.mark.parametrize("fwd_thread", [True, False])
def test_repeated_sequence_numbers_pick_the_creating_op(tmp_path, fwd_thread):
    con = analysed(tmp_path, repeated_seq_trace(fwd_thread))
    own = owners(con)
    assert own[51] == ("backward", "encoder", "bwd", ENC, "sequence")
    assert own[15] == ("forward", "encoder", "fwd", ENC, None)


def test_sequence_match_stays_in_the_batch(tmp_path):
    """The only op with number 7 before the backward op is in the previous batch: no link."""
    b = TraceBuilder()
    b.range(BATCH, 0, 45).range(TRAIN, 1, 20).range(ENC, 2, 10).op("aten::addmm", 3, 4, seq=7)
    b.range(BATCH, 50, 100).range(BACKWARD, 55, 90)
    b.op("autograd::engine::evaluate_function: AddmmBackward0", 60, 70, tid=2, seq=7)
    b.kernel(GEMM, 61, 70, 75, tid=2)
    con = analysed(tmp_path, b.events)
    assert owners(con)[61] == ("backward", None, "bwd", None, None)


# -- fwdbwd flows first ------------------------------------------------------------------
def test_fwdbwd_flow_wins_over_the_sequence_number(tmp_path):
    """The backward op carries number 9, whose only forward op is in the processor; its fwdbwd
    flow starts at an op in the decoder (the real creator): the flow decides."""
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(TRAIN, 1, 40)
    b.range(PROC, 2, 10).op("aten::addmm", 3, 4, seq=9)
    b.range(DEC, 20, 30).op("aten::mul", 21, 22, seq=12)
    b.range(BACKWARD, 40, 90)
    b.op("autograd::engine::evaluate_function: MulBackward0", 50, 60, tid=2, seq=9)
    b.op("MulBackward0", 50.5, 59, tid=2, seq=9)
    b.events += [
        {"ph": "s", "cat": "fwdbwd", "name": "fwdbwd", "id": 1, "pid": 1, "tid": 1, "ts": 21},
        {"ph": "f", "cat": "fwdbwd", "name": "fwdbwd", "id": 1, "pid": 1, "tid": 2, "ts": 50.5,
         "bp": "e"},
    ]
    b.kernel(GEMM, 52, 60, 70, tid=2)
    con = analysed(tmp_path, b.events)
    assert owners(con)[52] == ("backward", "decoder", "bwd", DEC, "flow")


# -- torch.compile -----------------------------------------------------------------------
def compiled_trace() -> list[dict]:
    """No Lightning: ProfilerStep#1 [0,200). Optimizer.zero_grad [2,8) holds three aten::zero_
    carrying number 5 (the current counter); `model_forward` [10,40) holds CompiledFunction
    [12,38) (number 5: it creates the node) launching K1 at 13. On the autograd thread:
    evaluate_function CompiledFunctionBackward [60,120) > CompiledFunctionBackward [61,119),
    number 5, launching K2 at 62 and K3 at 100. Optimizer.step [150,180) launches K4 at 151."""
    b = TraceBuilder()
    b.range("ProfilerStep#1", 0, 200)
    b.range("Optimizer.zero_grad#SGD.zero_grad", 2, 8)
    for t in (3, 4, 5):
        b.op("aten::zero_", t, t + 0.5, seq=5)
    b.range("model_forward", 10, 40)
    b.op("CompiledFunction", 12, 38, seq=5)
    b.kernel("triton_poi_fused_0", 13, 20, 30)                       # K1
    for name, s, e in (("autograd::engine::evaluate_function: CompiledFunctionBackward", 60, 120),
                       ("CompiledFunctionBackward", 61, 119)):
        b.events.append({"ph": "X", "cat": "cpu_op", "name": name, "pid": 1, "tid": 2, "ts": s,
                         "dur": e - s, "args": {"Sequence number": 5, "Fwd thread id": 1}})
    b.kernel("triton_red_fused_1", 62, 70, 90, tid=2)                # K2
    b.kernel("triton_poi_fused_2", 100, 110, 115, tid=2)             # K3
    b.range("Optimizer.step#SGD.step", 150, 180)
    b.kernel("multi_tensor_apply_kernel", 151, 160, 170)             # K4
    return b.events


def test_compiled_backward_belongs_to_the_compiled_forward(tmp_path):
    con = analysed(tmp_path, compiled_trace())
    own = owners(con)
    assert own[13] == ("forward", None, "fwd", "model_forward", None)
    assert own[62] == ("backward", None, "bwd", "model_forward", "sequence")
    assert own[100] == ("backward", None, "bwd", "model_forward", "sequence")
    assert own[151][0] == "optimizer"
    rows = con.execute("SELECT name, direction, calls, gpu_total_ns FROM annotation_stats "
                       "WHERE name LIKE 'Optimizer.zero_grad%' OR name = 'model_forward' "
                       "ORDER BY name, direction").fetchall()
    # model_forward: fwd K1 10 µs; bwd K2 + K3 = 20 + 5 µs; zero_grad owns no GPU work
    assert rows == [("Optimizer.zero_grad#SGD.zero_grad", "fwd", 1, 0),
                    ("model_forward", "bwd", 1, 25_000), ("model_forward", "fwd", 1, 10_000)]
