"""Several files of one process are segments of one rank; other files of a folder are ignored."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import warnings

import pytest

from anemoi_tp.ingest.kineto import IngestWarning
from anemoi_tp.rules.run import setup_rules

from conftest import load, shared_trace, write_trace

DIST0 = {"rank": 0, "world_size": 1}


def X(name, ts, dur, pid=13216, tid=1, cat="cpu_op"):
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "anemoi_tp", *args], capture_output=True,
                          text=True, timeout=300)


def _load_quiet(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IngestWarning)
        con, result = load(path)
    return con, result, [str(w.message) for w in caught]


def test_anemoi_profiler_folder_is_one_rank_of_two_segments_and_the_csvs_are_ignored():
    folder = shared_trace("anemoi_cpu_profile_stock")
    traces = sorted(folder.glob("*.pt.trace.json.gz"))
    assert len(traces) == 2
    expected = []  # events per file, counted from the JSON itself
    for t in traces:
        with gzip.open(t) as f:
            expected.append(len(json.load(f)["traceEvents"]))
    con, result, warned = _load_quiet(folder)
    assert con.execute("SELECT rank, segments, files, host, pid, events_read FROM ranks").fetchall() == [
        (0, 2, [str(t) for t in traces], "vm", 13216, sum(expected))]
    assert con.execute("SELECT file_id, rank, events_read FROM trace_files ORDER BY file_id").fetchall() == [
        (0, 0, expected[0]), (1, 0, expected[1])]
    # both files' events are in, on rank 0, the second export after the first
    spans = con.execute("SELECT file_id, min(ts), max(ts) FROM events WHERE ph = 'X' "
                        "GROUP BY file_id ORDER BY file_id").fetchall()
    assert [s[0] for s in spans] == [0, 1] and spans[0][2] < spans[1][1]
    csvs = sorted(str(p) for p in folder.glob("*_profiler.csv"))
    assert len(csvs) == 3
    notes = con.execute("SELECT file, issue FROM ingest_issues WHERE issue LIKE 'ignored%' "
                        "ORDER BY file").fetchall()
    assert [n[0] for n in notes] == csvs
    assert all(f"{c}: ignored: not a trace file" in "\n".join(warned) for c in csvs)


def test_two_files_of_one_host_and_pid_are_segments_of_one_rank(tmp_path):
    # the teardown export is named with the smaller number: segments go by time, not by name;
    # each segment has its own baseTimeNanoseconds (ts is on the common clock after loading)
    a = write_trace(tmp_path / "node1_4242.None.900.pt.trace.json",
                    [X("training_step", 100, 50), X("aten::mm", 110, 10)],
                    distributedInfo=DIST0, baseTimeNanoseconds=1_000_000)
    b = write_trace(tmp_path / "node1_4242.None.100.pt.trace.json",
                    [X("teardown", 20, 5)], distributedInfo=DIST0, baseTimeNanoseconds=1_200_000)
    con, result, warned = _load_quiet(tmp_path)
    assert warned == []
    assert result.ranks == [0, 0]
    # a: 1_000_000 + 100 µs = 1_100_000 ns .. 1_150_000; b: 1_200_000 + 20_000 = 1_220_000 ..
    assert con.execute("SELECT path, start_ns, end_ns FROM trace_files ORDER BY file_id").fetchall() == [
        (str(b), 1_220_000, 1_225_000), (str(a), 1_100_000, 1_150_000)]
    row = con.execute("SELECT rank, file, segments, files, host, pid, base_time_ns, json_bytes, "
                      "events_read FROM ranks").fetchall()
    assert row == [(0, str(a), 2, [str(a), str(b)], "node1", 4242, 1_000_000,
                    len(a.read_bytes()) + len(b.read_bytes()), 3)]
    assert con.execute("SELECT name, ts FROM events ORDER BY ts").fetchall() == [
        ("training_step", 1_100_000), ("aten::mm", 1_110_000), ("teardown", 1_220_000)]
    # a link into the teardown opens the teardown file, timed as the UI numbers that file
    setup_rules(con)
    url = con.execute("SELECT perfetto_url(0, 1_221_000, 1_222_000)").fetchone()[0]
    assert "node1_4242.None.100.pt.trace.json&visStart=21000&visEnd=22000" in url
    url = con.execute("SELECT perfetto_url(0, 1_120_000, 1_130_000)").fetchone()[0]
    assert "node1_4242.None.900.pt.trace.json&visStart=120000&visEnd=130000" in url
    # between the segments: the one started before
    url = con.execute("SELECT perfetto_url(0, 1_160_000, 1_170_000)").fetchone()[0]
    assert "node1_4242.None.900.pt.trace.json&visStart=160000" in url


def test_without_distributed_info_files_of_one_process_still_make_one_rank(tmp_path):
    write_trace(tmp_path / "h_7.None.1.pt.trace.json", [X("a", 1, 1, pid=7)])
    write_trace(tmp_path / "h_7.None.2.pt.trace.json", [X("b", 10, 1, pid=7)])
    write_trace(tmp_path / "h_8.None.3.pt.trace.json", [X("c", 1, 1, pid=8)])
    con, result, _ = _load_quiet(tmp_path)
    assert result.ranks == [0, 0, 1]
    assert con.execute("SELECT rank, segments, pid FROM ranks").fetchall() == [(0, 2, 7), (1, 1, 8)]


def test_files_named_without_pid_are_segments_when_host_key_and_main_pid_agree(tmp_path):
    write_trace(tmp_path / "a.json", [X("a", 1, 1, pid=55), X("a2", 2, 1, pid=55)],
                distributedInfo=DIST0, host_name="n1")
    write_trace(tmp_path / "b.json", [X("b", 10, 1, pid=55)], distributedInfo=DIST0, host_name="n1")
    con, _, _ = _load_quiet(tmp_path)
    assert con.execute("SELECT rank, segments, host, pid FROM ranks").fetchall() == [(0, 2, "n1", 55)]


@pytest.mark.parametrize("case", ["pids in names", "main pids", "hosts", "overlap"])
def test_two_processes_claiming_one_rank_are_an_error_naming_both_files(tmp_path, case):
    if case == "pids in names":
        first = write_trace(tmp_path / "n_1.None.1.pt.trace.json", [X("a", 1, 1)], distributedInfo=DIST0)
        second = write_trace(tmp_path / "n_2.None.1.pt.trace.json", [X("a", 10, 1)], distributedInfo=DIST0)
        why = "pids 1 and 2"
    elif case == "main pids":  # known only once the events are in
        first = write_trace(tmp_path / "a.json", [X("a", 1, 1, pid=5)], distributedInfo=DIST0, host_name="n")
        second = write_trace(tmp_path / "b.json", [X("a", 10, 1, pid=6)], distributedInfo=DIST0, host_name="n")
        why = "pids 5 and 6"
    elif case == "hosts":
        first = write_trace(tmp_path / "n1_7.None.1.pt.trace.json", [X("a", 1, 1)], distributedInfo=DIST0)
        second = write_trace(tmp_path / "n2_7.None.1.pt.trace.json", [X("a", 10, 1)], distributedInfo=DIST0)
        why = "hosts n1 and n2"
    else:  # one process, but the same time twice (a copied file)
        first = write_trace(tmp_path / "n_7.None.1.pt.trace.json", [X("a", 1, 10)], distributedInfo=DIST0)
        second = write_trace(tmp_path / "n_7.None.2.pt.trace.json", [X("a", 5, 10)], distributedInfo=DIST0)
        why = "overlap"
    r = run("load", str(tmp_path), "-o", str(tmp_path / "out.duckdb"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"error: {second}: duplicate rank 0: {first} ")
    assert why in lines[0]


def test_json_files_that_are_no_traces_are_ignored_with_a_note(tmp_path):
    t = write_trace(tmp_path / "trace.json", [X("a", 1, 1)], distributedInfo=DIST0)
    (tmp_path / "metrics.json").write_text('{"loss": [0.5, 0.4], "step": 2}')
    (tmp_path / "report.json").write_text(json.dumps({"tool": {"name": "anemoi-tp"}, "ranks": []}))
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    (tmp_path / "notes.txt").write_text("hello")
    con, result, warned = _load_quiet(tmp_path)
    assert result.files == [t]
    assert con.execute("SELECT rank, file, issue, events FROM ingest_issues").fetchall() == [
        (None, str(tmp_path / "list.json"),
         "ignored: not a trace file (a JSON array of values that are not events)", None),
        (None, str(tmp_path / "metrics.json"), "ignored: not a trace file (a JSON object without traceEvents)", None),
        (None, str(tmp_path / "notes.txt"), "ignored: not a trace file (not named *.json or *.json.gz)", None),
        (None, str(tmp_path / "report.json"), "ignored: not a trace file (a JSON object without traceEvents)", None)]
    assert len(warned) == 4 and f"{tmp_path / 'metrics.json'}: ignored" in "\n".join(warned)


@pytest.mark.parametrize("broken", ["truncated", "bad gzip"])
def test_a_broken_trace_in_a_folder_is_still_an_error(tmp_path, broken):
    write_trace(tmp_path / "good.json", [X("a", 1, 1)], distributedInfo=DIST0)
    if broken == "truncated":
        bad = tmp_path / "bad.json"
        bad.write_text('{"traceEvents": [{"ph": "X", "ts": 1, "dur": 1}, {"ph": "X", "na')
    else:
        bad = tmp_path / "bad.json.gz"
        data = gzip.compress(json.dumps({"traceEvents": [X("a", i, 1) for i in range(2000)]}).encode())
        bad.write_bytes(data[: len(data) // 2])
    r = run("load", str(tmp_path), "-o", str(tmp_path / "out.duckdb"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert str(bad) in r.stderr
