"""The real Lightning CPU traces recorded here (SOURCES.md): batches, the cut last batch,
and the window, computed independently from the raw JSON."""
from __future__ import annotations

import gzip
import json

import pytest

from anemoi_tp.report import build_report

from conftest import load, shared_trace

BATCH = "[pl][profile]run_training_batch"
FETCH = "[pl][profile][_TrainingEpochLoop].train_dataloader_next"


def _ns(doc, us):
    return doc.get("baseTimeNanoseconds", 0) + round(us * 1000)


@pytest.mark.parametrize("name", ["lightning_cpu_workers0.pt.trace.json.gz",
                                  "lightning_cpu_workers2.pt.trace.json.gz",
                                  "lightning_cpu_checkpointing.pt.trace.json.gz"])
def test_batches_window_and_cut_batch(name):
    path = shared_trace(name)
    with gzip.open(path) as f:
        doc = json.load(f)
    ev = doc["traceEvents"]
    rwe = next(_ns(doc, e["ts"]) for e in ev if e.get("name") == "Record Window End")
    batches = sorted((_ns(doc, e["ts"]), _ns(doc, e["ts"]) + round(e["dur"] * 1000), e["tid"])
                     for e in ev if e.get("name") == BATCH)
    fetches = [(_ns(doc, e["ts"]), _ns(doc, e["ts"]) + round(e["dur"] * 1000), e["tid"])
               for e in ev if e.get("name") == FETCH]
    complete = [b for b in batches if b[1] < rwe]
    assert len(complete) == len(batches) - 1  # the last one ends at Record Window End
    prev_end = None
    starts = []
    for s, e, tid in complete:
        before = [f for f in fetches if f[2] == tid and f[1] <= s and (prev_end is None or f[0] >= prev_end)]
        starts.append(min([s] + [f[0] for f in before]))
        prev_end = e
    # no GPU work on a CPU trace: batch ends are the ranges' ends
    expected_total = complete[-1][1] - starts[0]

    con, _ = load(path)
    rep = build_report(con)
    r = rep["ranks"][0]
    assert r["batches"] == len(complete)
    assert con.execute("SELECT total_ns FROM analysis_window").fetchone()[0] == expected_total
    assert r["gpu_idle_s"] is None and "gpu" in r["missing"]
    phases = {p["name"]: p["duration_s"] for p in r["phases"]}
    assert sum(phases.values()) == pytest.approx(expected_total / 1e9, abs=1e-9)
    assert phases["forward"] > 0 and phases["backward"] > 0 and phases["data_loader"] > 0
