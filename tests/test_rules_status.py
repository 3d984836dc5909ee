"""Whether each rule could run (rule_status): a rule that cannot be evaluated is not a rule
that did not fire, and the report says which."""
from __future__ import annotations

from anemoi_tp.report import build_report
from anemoi_tp.report.render import render_markdown
from anemoi_tp.report.text import render_text
from anemoi_tp.rules import RULE_FILES

from builders import BATCH, ENC, FETCH, GEMM, TRAIN, TraceBuilder
from conftest import load, write_trace

ALL_RULES = sorted(f.split("/")[1][:-4] for f in RULE_FILES)


def build(tmp_path, events_by_rank: dict[int, list]):
    for rank, events in events_by_rank.items():
        write_trace(tmp_path / f"r{rank}.json", events, baseTimeNanoseconds=0,
                    distributedInfo={"rank": rank, "world_size": len(events_by_rank)})
    con, _ = load(tmp_path)
    return con, build_report(con)


def test_every_rule_file_has_a_status(tmp_path):
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100).kernel(GEMM, 1, 2, 99)
    _, rep = build(tmp_path, {0: b.events})
    assert [s["rule"] for s in rep["rule_status"]] == ALL_RULES


def test_cpu_only_trace_says_the_rules_could_not_run(tmp_path):
    # batches and CPU ops, no GPU activity at all
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100).op("aten::mm", 1, 90)
    _, rep = build(tmp_path, {0: b.events})
    assert rep["findings"] == []
    assert {s["status"] for s in rep["rule_status"]} == {"not evaluated"}
    st = {s["rule"]: s for s in rep["rule_status"]}
    assert (st["host_bound"]["ranks"], st["host_bound"]["skipped_ranks"], st["host_bound"]["reason"]) == (
        [], [0], "no GPU activity in the window")
    assert st["straggler"]["reason"] == ("needs two or more ranks with GPU activity in a window; "
                                         "no GPU activity in the window")
    text = render_text(rep)
    assert "No rule fired." not in text
    # 9 rules say "no GPU activity", the two cross-rank ones also "needs two or more ranks",
    # memory_oom "no memory snapshot"
    assert ("Rules not evaluated: no GPU activity in the window; needs two or more ranks with "
            "GPU activity in a window; no memory snapshot\n") in text
    assert "No rule fired." not in render_markdown(rep)


def test_trace_without_batch_ranges(tmp_path):
    # GPU work but no batch range: the window is the trace's span [0, 100] µs (issue 11 item 5),
    # so the rules run; those lacking their inputs say why; one rank: no cross-rank rules.
    b = TraceBuilder().range(TRAIN, 0, 100).kernel(GEMM, 1, 2, 99)
    con, rep = build(tmp_path, {0: b.events})
    assert con.execute("SELECT source, ts, end_ts FROM analysis_window").fetchone() == (
        "trace_span", 0, 100_000)
    status = {s["rule"]: (s["status"], s["reason"]) for s in rep["rule_status"]}
    not_run = {r for r, (st, _) in status.items() if st != "ran"}
    assert not_run == {"data_loader_stall", "low_occupancy", "straggler", "load_imbalance", "memory_oom"}
    # idle 3 µs of 100: no bottleneck; only the note that no module range exists
    assert [(f["rule"], f["severity"]) for f in rep["findings"]] == [("missing_annotations", "info")]


def test_rules_that_ran_on_some_ranks_only(tmp_path):
    # rank 0 has a data-loader range, rank 1 none: data_loader_stall runs on rank 0 only;
    # no kernel carries an occupancy estimate: low_occupancy runs nowhere.
    events = {}
    for rank in (0, 1):
        b = TraceBuilder().range(BATCH, 2, 100).range(TRAIN, 3, 99).kernel(GEMM, 3, 4, 99)
        if rank == 0:
            b.range(FETCH, 0, 2)
        events[rank] = b.events
    _, rep = build(tmp_path, events)
    st = {s["rule"]: s for s in rep["rule_status"]}
    assert (st["data_loader_stall"]["status"], st["data_loader_stall"]["ranks"],
            st["data_loader_stall"]["skipped_ranks"], st["data_loader_stall"]["reason"]) == (
        "ran", [0], [1], "no data-loader ranges")
    assert (st["low_occupancy"]["status"], st["low_occupancy"]["reason"]) == (
        "not evaluated", "no kernel with an occupancy estimate (est. achieved occupancy %)")
    # no collective: nothing to arrive late at
    assert (st["straggler"]["status"], st["straggler"]["reason"]) == (
        "not evaluated", "no collective matched across ranks in the window")
    assert st["load_imbalance"]["status"] == "ran" and st["host_bound"]["ranks"] == [0, 1]
    text = render_text(rep)
    assert "  data_loader_stall: not evaluated on rank 1 (no data-loader ranges)\n" in text
    assert "  low_occupancy: not evaluated (no kernel with an occupancy estimate" in text


def test_rank_facts_count_what_each_rank_holds(tmp_path):
    # rank 0: a batch [0, 100] µs (the window: no kernel launched in it ends later), a
    # data-loader range (kind data_loader, and a phase), a training step (a phase), a module
    # range, two kernels launched in the batch (one under the step: owned by a phase) and one
    # launched after it at [200, 210] µs; rank 1: a batch and CPU work only.
    r0 = (TraceBuilder().range(BATCH, 0, 100).range(FETCH, 0, 5).range(TRAIN, 10, 60)
          .range(ENC, 20, 30).kernel(GEMM, 21, 22, 40).kernel(GEMM, 70, 80, 90)
          .kernel(GEMM, 120, 200, 210))
    r1 = TraceBuilder().range(BATCH, 0, 100).op("aten::mm", 1, 90)
    con, rep = build(tmp_path, {0: r0.events, 1: r1.events})
    rows = con.execute("SELECT * FROM rank_facts ORDER BY rank").fetchall()
    # rank, gpu_activities, gpu_in_window, data_loader_ranges, phase_ranges, module_ranges,
    # owned_by_phase
    assert rows[1] == (1, 0, 0, 0, 0, 0, 0)
    # owned: only the kernel launched under the training step (its phase: forward)
    assert rows[0] == (0, 3, 2, 1, 2, 1, 1)
    # report_missing reads them: rank 1 lacks GPU work, data loading, phases and modules
    missing = con.execute("SELECT rank, section FROM report_missing WHERE rank IS NOT NULL "
                          "ORDER BY rank, section").fetchall()
    assert missing == [(1, "data_loader"), (1, "gpu"), (1, "modules"), (1, "phases")]
