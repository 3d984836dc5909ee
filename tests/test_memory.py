"""Memory: hand-built snapshots with known byte totals, hostile pickles, [memory] events."""
from __future__ import annotations

import gzip
import json
import os
import pickle

import pytest

from anemoi_tp.database import connect
from anemoi_tp.errors import InputError
from anemoi_tp.ingest.snapshot import load_snapshot, read_snapshot
from anemoi_tp.report.memory import memory_section

from builders import BATCH, ENC, GEMM, TRAIN, TraceBuilder
from conftest import load, shared_trace, write_trace
from test_cli import run

MiB = 1 << 20


def frames(fn, name="forward"):
    return [{"filename": "/site-packages/torch/nn/modules/linear.py", "line": 125, "name": "forward"},
            {"filename": fn, "line": 42, "name": name}]


def snapshot() -> dict:
    enc = "/work/anemoi/models/layers/encoder.py"
    proc = "/work/anemoi/models/layers/processor.py"
    return {
        "segments": [
            {"device": 0, "address": 1 << 30, "total_size": 4 * MiB, "stream": 0, "segment_type": "large",
             "segment_pool_id": (0, 0), "blocks": [
                 {"size": 2 * MiB, "requested_size": 2_000_000, "state": "active_allocated", "frames": frames(proc)},
                 {"size": 1 * MiB, "requested_size": 1 * MiB, "state": "active_pending_free", "frames": []},
                 {"size": 1 * MiB, "requested_size": 0, "state": "inactive", "frames": []}]},
            {"device": 0, "address": 2 << 30, "total_size": 2 * MiB, "stream": 0, "segment_type": "small",
             "segment_pool_id": (0, 0), "blocks": [
                 {"size": 512, "requested_size": 500, "state": "active_allocated", "frames": frames(enc)},
                 {"size": 2 * MiB - 512, "requested_size": 0, "state": "inactive", "frames": []}]},
        ],
        "device_traces": [[
            {"action": "segment_alloc", "addr": 1 << 30, "size": 4 * MiB, "stream": 0, "time_us": 100, "frames": []},
            {"action": "alloc", "addr": 1, "size": 3 * MiB, "stream": 0, "time_us": 110, "frames": frames(enc)},
            {"action": "alloc", "addr": 2, "size": 2 * MiB, "stream": 0, "time_us": 120, "frames": frames(proc)},
            {"action": "free_requested", "addr": 1, "size": 3 * MiB, "stream": 0, "time_us": 130, "frames": []},
            {"action": "free_completed", "addr": 1, "size": 3 * MiB, "stream": 0, "time_us": 131, "frames": []},
            {"action": "oom", "addr": 0, "size": 80 * MiB, "stream": 0, "time_us": 140, "device_free": 5 * MiB,
             "frames": frames(proc)},
        ]],
    }


def test_snapshot_byte_totals_are_exact(tmp_path):
    path = tmp_path / "memory_snapshot.pickle"
    path.write_bytes(pickle.dumps(snapshot()))
    con = connect()
    load_snapshot(con, path)
    mem = memory_section(con)
    (dev,) = mem["snapshots"][0]["devices"]
    assert (dev["reserved_bytes"], dev["allocated_bytes"], dev["requested_bytes"], dev["pending_free_bytes"],
            dev["inactive_bytes"]) == (6 * MiB, 2 * MiB + 512, 2_000_500, MiB, 3 * MiB - 512)
    assert dev["fragmentation_pct"] == pytest.approx(100 * (3 * MiB - 512) / (6 * MiB))
    pools = {p["segment_type"]: p for p in mem["snapshots"][0]["pools"]}
    assert (pools["large"]["allocated_bytes"], pools["small"]["largest_free_bytes"]) == (2 * MiB, 2 * MiB - 512)
    (peak,) = mem["snapshots"][0]["peak"]
    # live now: 2 MiB + 512 allocated + 1 MiB pending free = 3 MiB + 512; the history's net is
    # +3 +2 −3 = +2 MiB, so before it: 1 MiB + 512; peak after the second alloc: +5 MiB
    assert (peak["start_allocated"], peak["peak_allocated"], peak["peak_time_us"]) == (
        MiB + 512, 6 * MiB + 512, 120)
    assert peak["peak_frame"] == "/work/anemoi/models/layers/processor.py:42 forward"
    assert (peak["start_reserved"], peak["peak_reserved"]) == (2 * MiB, 6 * MiB)
    sites = mem["snapshots"][0]["sites"]
    assert [(s["module"], s["bytes"]) for s in sites] == [("processor", 2 * MiB), ("encoder", 512)]
    (oom,) = mem["snapshots"][0]["ooms"]
    assert (oom["size"], oom["device_free"], oom["time_us"]) == (80 * MiB, 5 * MiB, 140)
    (churn,) = mem["snapshots"][0]["churn"]
    assert (churn["allocs"], churn["alloc_bytes"], churn["frees"], churn["freed_bytes"]) == (2, 5 * MiB, 1, 3 * MiB)


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['EVIL_MARKER']}",))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    path = tmp_path / "memory_snapshot.pickle"
    path.write_bytes(pickle.dumps({"segments": [], "x": Evil()}))
    with pytest.raises(InputError, match="could run code"):
        read_snapshot(path)
    r = run("memory", str(path))
    assert r.returncode == 2 and "refused, nothing was executed" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("data,words", [
    (b"", "empty file"),
    (b"\x80\x04\x95", "not a readable pickle"),
    (pickle.dumps([1, 2, 3]), "not a memory snapshot"),
])
def test_bad_snapshots(tmp_path, data, words):
    path = tmp_path / "s.pickle"
    path.write_bytes(data)
    with pytest.raises(InputError, match=words):
        read_snapshot(path)


def test_memory_cli_on_a_snapshot(tmp_path):
    path = tmp_path / "memory_snapshot.pickle"
    path.write_bytes(pickle.dumps(snapshot()))
    r = run("memory", str(path), "-f", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["snapshots"][0]["devices"][0]["reserved_bytes"] == 6 * MiB
    assert "Snapshot" in run("memory", str(path)).stdout


def test_report_picks_up_the_snapshot_beside_the_traces(tmp_path):
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 100).kernel(GEMM, 1, 2, 50)
    write_trace(tmp_path / "host_1.None.1.pt.trace.json", b.events)
    (tmp_path / "memory_snapshot.pickle").write_bytes(pickle.dumps(snapshot()))
    rep = json.loads(run("report", str(tmp_path), "-f", "json").stdout)
    assert rep["memory"]["snapshots"][0]["devices"][0]["allocated_bytes"] == 2 * MiB + 512
    assert "no [memory] events" in rep["memory"]["missing"]["events"]


def test_memory_events_growth_by_phase_and_module(tmp_path):
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 0, 60).range(ENC, 10, 30).kernel(GEMM, 1, 2, 90)
    for ts, nbytes, total in ((5, 100, 100), (15, 1000, 1100), (20, -100, 1000), (70, 50, 1050)):
        b.events.append({"ph": "i", "cat": "cpu_instant_event", "s": "t", "name": "[memory]", "pid": 1,
                         "tid": 1, "ts": ts, "args": {"Total Reserved": 4096, "Total Allocated": total,
                                                      "Bytes": nbytes, "Device Id": 0, "Device Type": 1}})
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    from anemoi_tp.report import build_report
    ev = build_report(con)["memory"]["events"]
    assert [(p["device"], p["peak_allocated"], p["peak_ts"]) for p in ev["peaks"]] == [("cuda:0", 1100, 15_000)]
    g = {(x["dim"], x["owner"]): x["net_bytes"] for x in ev["growth"]}
    # events at 5, 15, 20 µs fall in training_step (forward), 15 and 20 in the encoder range;
    # the one at 70 µs is outside both
    assert g == {("phase", "forward"): 1000, ("phase", "elsewhere"): 50,
                 ("module", "encoder"): 900, ("module", "elsewhere"): 150}
    assert [(p["batch"], p["peak_allocated"]) for p in ev["batch_peaks"]] == [(1, 1100)]


def test_v100_memory_peak_matches_the_raw_events():
    path = shared_trace("hta_v100_rank1of2_memory.json.gz")
    with gzip.open(path) as f:
        doc = json.load(f)
    mem = [e["args"] for e in doc["traceEvents"] if e.get("name") == "[memory]"]
    expected = max(a["Total Allocated"] for a in mem if a.get("Device Type") == 1)
    count = sum(1 for a in mem if a.get("Device Type") == 1)
    con, _ = load(path)
    from anemoi_tp.report import build_report
    peaks = {p["device"]: p for p in build_report(con)["memory"]["events"]["peaks"]}
    assert peaks["cuda:1"]["peak_allocated"] == expected
    assert peaks["cuda:1"]["events"] == count


def test_oom_in_a_snapshot_is_a_finding(tmp_path):
    """A snapshot beside the traces with one `oom` action (80 MiB requested, 5 MiB free, in
    processor.py) gives one critical memory_oom finding in the report, in every format."""
    b = TraceBuilder().range(BATCH, 0, 100).range(TRAIN, 1, 50).kernel(GEMM, 2, 5, 40)
    write_trace(tmp_path / "run" / "t.json", b.events, distributedInfo={"rank": 0, "world_size": 1})
    (tmp_path / "run" / "memory_snapshot.pickle").write_bytes(pickle.dumps(snapshot()))
    r = run("report", str(tmp_path / "run"), "-f", "json")
    assert r.returncode == 0 and r.stderr == "", r.stderr  # the pickle is no "ignored file"
    rep = json.loads(r.stdout)
    ooms = [f for f in rep["findings"] if f["rule"] == "memory_oom"]
    assert len(ooms) == 1
    (f,) = ooms
    assert (f["severity"], f["value"], f["ranks"]) == ("critical", 1, [])
    assert f["evidence"] == ("memory_snapshot.pickle, device 0: 1 out-of-memory event(s); the largest "
                             "request 80.0 MiB with 5.0 MiB free, at "
                             "/work/anemoi/models/layers/processor.py:42 forward")
    for fmt in ("text", "markdown", "html"):
        text = run("report", str(tmp_path / "run"), "-f", fmt).stdout
        assert "memory_oom" in text and "80.0 MiB" in text, fmt
