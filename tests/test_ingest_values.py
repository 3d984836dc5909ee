"""Hand-built small traces whose values are known: ns, ranks, the correlation join, flows."""
from __future__ import annotations

import json
import warnings

import pytest

from anemoi_tp.errors import InputError
from anemoi_tp.ingest.kineto import IngestWarning

from conftest import load, write_trace


def X(name, ts, dur, cat="cpu_op", pid=100, tid=100, **args):
    e = {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur}
    if args:
        e["args"] = args
    return e


def test_float_and_integer_microseconds_become_exact_nanoseconds(tmp_path):
    base = 1790857026000000000
    path = write_trace(tmp_path / "a.json", [
        X("float_us", 4845180208151.641, 340.024),  # a new-Kineto relative ts, 3 decimals
        X("small", 0.001, 0.5),
    ], baseTimeNanoseconds=base)
    con, _ = load(path)
    rows = con.execute("SELECT name, ts, dur FROM events WHERE ph = 'X' ORDER BY name").fetchall()
    # 1790857026000000000 + 4845180208151641 = 1795702206208151641 (by hand)
    assert rows == [("float_us", 1795702206208151641, 340024),
                    ("small", 1790857026000000001, 500)]


def test_epoch_integer_microseconds_keep_every_nanosecond(tmp_path):
    # HTA-era traces: epoch µs as integers, no baseTimeNanoseconds. 1682725898236567 µs is
    # 1682725898236567000 ns; through a DOUBLE times 1000 it would come out 1682725898236566784.
    path = write_trace(tmp_path / "a.json", [X("epoch", 1682725898236567, 68)])
    con, _ = load(path)
    assert con.execute("SELECT ts, dur FROM events WHERE name = 'epoch'").fetchone() == (
        1682725898236567000, 68000)


def test_ranks_come_from_distributed_info_and_share_one_clock(tmp_path):
    # The file named first is rank 1; its base is 1 ms earlier, its ts 1000 µs later:
    # both events happen at the same instant, 1000000000000005000 ns.
    write_trace(tmp_path / "a_host_1.json", [X("step", 1005.0, 1.0)],
                baseTimeNanoseconds=999_999_999_999_000_000,
                distributedInfo={"backend": "nccl", "rank": 1, "world_size": 2})
    write_trace(tmp_path / "b_host_2.json", [X("step", 5.0, 1.0)],
                baseTimeNanoseconds=1_000_000_000_000_000_000,
                distributedInfo={"backend": "nccl", "rank": 0, "world_size": 2})
    con, result = load(tmp_path)
    assert con.execute("SELECT rank, ts FROM events WHERE name = 'step' ORDER BY rank").fetchall() == [
        (0, 1_000_000_000_000_005_000), (1, 1_000_000_000_000_005_000)]
    assert con.execute("SELECT rank, file, rank_source FROM ranks").fetchall() == [
        (0, str(tmp_path / "b_host_2.json"), "distributedInfo"),
        (1, str(tmp_path / "a_host_1.json"), "distributedInfo")]
    assert result.rank_source == "distributedInfo"


def test_without_distributed_info_ranks_follow_file_order_and_say_so(tmp_path):
    write_trace(tmp_path / "x1.json", [X("a", 1, 1)])
    write_trace(tmp_path / "x0.json", [X("b", 1, 1)])
    with pytest.warns(IngestWarning, match="file order"):
        con, result = load(tmp_path)
    assert con.execute("SELECT rank, file, rank_source FROM ranks").fetchall() == [
        (0, str(tmp_path / "x0.json"), "file order"), (1, str(tmp_path / "x1.json"), "file order")]


def test_anemoi_file_names_give_host_and_pid(tmp_path):
    write_trace(tmp_path / "ac6-306_123456.None.1795702187230505140.pt.trace.json",
                [X("a", 1, 1, pid=999)], distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(tmp_path)
    assert con.execute("SELECT host, pid FROM ranks").fetchone() == ("ac6-306", 123456)


def test_gpu_activities_join_their_launch_by_correlation_not_by_flows(tmp_path):
    events = [
        X("cudaLaunchKernel", 10.0, 5.0, cat="cuda_runtime", tid=101, correlation=7, cbid=211),
        X("cudaMemcpyAsync", 20.0, 3.0, cat="cuda_runtime", tid=100, correlation=8),
        X("ampere_sgemm", 30.0, 12.5, cat="kernel", pid=0, tid=7, correlation=7, device=0, stream=7,
          **{"External id": 42}),
        X("Memcpy HtoD (Pinned -> Device)", 45.0, 2.0, cat="gpu_memcpy", pid=0, tid=7,
          correlation=8, device=0, stream=7),
        X("ncclDevKernel_AllReduce_Sum_f32_RING_LL", 50.0, 100.0, cat="kernel", pid=0, tid=24,
          correlation=99, device=0, stream=24),  # its launch is not in the trace
        # an ac2g flow that (wrongly) points the sgemm at the memcpy call: must be ignored
        {"ph": "s", "id": 7, "pid": 100, "tid": 100, "ts": 20.0, "cat": "ac2g", "name": "ac2g"},
        {"ph": "f", "id": 7, "pid": 0, "tid": 7, "ts": 30.0, "cat": "ac2g", "name": "ac2g", "bp": "e"},
        # an orphan flow end, as real traces hold thousands of
        {"ph": "f", "id": 555, "pid": 0, "tid": 7, "ts": 45.0, "cat": "ac2g", "name": "ac2g", "bp": "e"},
        # a flow start without end
        {"ph": "s", "id": 556, "pid": 100, "tid": 100, "ts": 46.0, "cat": "fwdbwd", "name": "fwdbwd"},
    ]
    con, _ = load(write_trace(tmp_path / "t.json", events, baseTimeNanoseconds=0))
    rows = con.execute("""SELECT name, kind, class, device, stream, ts, dur, correlation,
                                 external_id, launch_name, launch_ts, launch_tid
                          FROM gpu_activities ORDER BY ts""").fetchall()
    assert rows == [
        ("ampere_sgemm", "kernel", "computation", 0, 7, 30000, 12500, 7, 42, "cudaLaunchKernel",
         10000, "101"),
        ("Memcpy HtoD (Pinned -> Device)", "memcpy", "memory", 0, 7, 45000, 2000, 8, None,
         "cudaMemcpyAsync", 20000, "100"),
        ("ncclDevKernel_AllReduce_Sum_f32_RING_LL", "kernel", "communication", 0, 24, 50000,
         100000, 99, None, None, None, None),
    ]
    flows = con.execute("SELECT cat, id, status, start_ts, end_ts FROM flows ORDER BY id").fetchall()
    assert flows == [("ac2g", "555", "no start", None, 45000),
                     ("fwdbwd", "556", "no end", 46000, None),
                     ("ac2g", "7", "paired", 20000, 30000)]


def test_a_correlation_id_written_twice_gives_one_activity_launched_by_the_earliest_call(tmp_path):
    events = [
        X("cudaLaunchKernel", 10.0, 5.0, cat="cuda_runtime", tid=101, correlation=3),
        X("cuLaunchKernel", 12.0, 1.0, cat="cuda_driver", tid=101, correlation=3),
        X("cudaLaunchKernel", 30.0, 2.0, cat="cuda_runtime", tid=101, correlation=4),
        X("k3", 20.0, 4.0, cat="kernel", pid=0, tid=7, correlation=3, device=0, stream=7),
        X("k4", 40.0, 4.0, cat="kernel", pid=0, tid=7, correlation=4, device=0, stream=7),
    ]
    con, _ = load(write_trace(tmp_path / "t.json", events, baseTimeNanoseconds=0))
    assert con.execute("SELECT name, launch_name, launch_ts, launch_dur FROM gpu_activities "
                       "ORDER BY ts").fetchall() == [
        ("k3", "cudaLaunchKernel", 10000, 5000), ("k4", "cudaLaunchKernel", 30000, 2000)]


def test_2021_schema_categories_and_string_tids(tmp_path):
    events = [
        X("cudaLaunchKernel", 1.0, 2.0, cat="Runtime", tid="25738", correlation=5,
          **{"external id": 9}),
        X("volta_sgemm", 4.0, 3.0, cat="Kernel", pid=0, tid="stream 7", correlation=5, device=0,
          stream=7, **{"external id": 9}),
        X("Memset (Device)", 8.0, 1.0, cat="Memset", pid=0, tid="stream 7", correlation=6),
        {"ph": "i", "s": "t", "name": "[memory]", "pid": 25738, "tid": 25738, "ts": 2.0,
         "args": {"Device Type": 0, "Device Id": -1, "Bytes": 4}},  # no cat
        {"ph": "i", "s": "g", "name": "Record Window End", "pid": "", "tid": "", "ts": 10.0},
    ]
    con, _ = load(write_trace(tmp_path / "t.json", events))
    assert con.execute("SELECT name, kind, stream, external_id, launch_name FROM gpu_activities "
                       "ORDER BY ts").fetchall() == [
        ("volta_sgemm", "kernel", 7, 9, "cudaLaunchKernel"),
        ("Memset (Device)", "memset", 7, None, None)]  # stream from "stream 7"
    assert con.execute("SELECT cat, pid, tid FROM events WHERE ph = 'i' ORDER BY ts").fetchall() == [
        (None, "25738", "25738"), (None, "", "")]


def test_bare_array_form_and_gzip(tmp_path):
    p = tmp_path / "bare.json.gz"
    import gzip
    with gzip.open(p, "wt") as f:
        json.dump([X("a", 1.0, 2.0), X("b", 3.0, 4.0)], f)
    con, _ = load(p)
    assert con.execute("SELECT name, ts, dur FROM events ORDER BY ts").fetchall() == [
        ("a", 1000, 2000), ("b", 3000, 4000)]


def test_keys_after_the_array_including_lists_are_metadata(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"schemaVersion": 1, "traceEvents": [{"ph": "X", "name": "a", "pid": 1, '
                    '"tid": 1, "ts": 1, "dur": 1, "args": {"dims": [[1, 2]]}}], '
                    '"INFO": [{"x": [1]}, "]"], "traceName": "t ] x", "baseTimeNanoseconds": 5000}')
    con, _ = load(path)
    assert con.execute("SELECT ts FROM events").fetchall() == [(6000,)]
    meta = json.loads(con.execute("SELECT metadata FROM ranks").fetchone()[0])
    assert meta["INFO"] == [{"x": [1]}, "]"] and meta["traceName"] == "t ] x"


def test_impossible_events_are_skipped_counted_and_warned(tmp_path):
    events = [
        X("good", 1.0, 1.0),
        X("negative", 2.0, -1.0),
        {"ph": "X", "name": "no_ts", "pid": 1, "tid": 1, "dur": 1.0},
        {"ph": "X", "name": "no_dur", "pid": 1, "tid": 1, "ts": 3.0},
        {"ph": "X", "name": "text_ts", "pid": 1, "tid": 1, "ts": "soon", "dur": 1.0},
        {"name": "no_ph", "pid": 1, "tid": 1, "ts": 4.0},
        {"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": "python"}},  # M may lack ts
    ]
    with pytest.warns(IngestWarning, match="skipped"):
        con, result = load(write_trace(tmp_path / "t.json", events))
    assert con.execute("SELECT name FROM events ORDER BY name").fetchall() == [
        ("good",), ("process_name",)]
    assert con.execute("SELECT issue, events, example FROM ingest_issues ORDER BY issue").fetchall() == [
        ("complete event without dur", 1, "no_dur"), ("missing ph", 1, "no_ph"),
        ("missing ts", 1, "no_ts"), ("negative dur", 1, "negative"),
        ("ts is not a number", 1, "text_ts")]
    assert (result.events, result.skipped) == (2, 5)


def test_a_file_with_nothing_usable_is_an_error(tmp_path):
    path = write_trace(tmp_path / "t.json", [{"ph": "X", "name": "a", "dur": -1, "ts": 1}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match="no usable trace events") as err:
            load(path)
    assert err.value.path == str(path)


def test_parts_cut_inside_nested_lists_fall_back_to_whole_files(tmp_path):
    # args holding lists of objects put '}, {' inside events; with tiny parts, cuts land there
    events = [X(f"op{i}", float(i), 1.0, shapes=[{"a": [i]}, {"b": i}]) for i in range(200)]
    path = write_trace(tmp_path / "t.json", events)
    con, _ = load(path, part_bytes=64)
    assert con.execute("SELECT count(*), sum(ts) FROM events").fetchone() == (
        200, sum(i * 1000 for i in range(200)))


def test_many_parts_lose_and_duplicate_nothing(tmp_path):
    events = [X(f"op{i}", float(i), 1.0) for i in range(1000)]
    path = write_trace(tmp_path / "t.json", events)
    con, _ = load(path, part_bytes=2000)
    assert con.execute("SELECT count(*), count(DISTINCT name) FROM events").fetchone() == (1000, 1000)


def test_devices_view_reads_device_properties(tmp_path):
    props = [{"id": 0, "name": "AMD Radeon Graphics", "totalGlobalMem": 68702699520,
              "computeMajor": 9, "computeMinor": 0, "maxThreadsPerBlock": 1024,
              "warpSize": 64, "numSms": 104, "maxSharedMemoryPerMultiProcessor": 65536}]
    con, _ = load(write_trace(tmp_path / "t.json", [X("a", 1, 1)], deviceProperties=props))
    assert con.execute("SELECT device, name, total_memory_bytes, compute_capability, num_sms, "
                       "warp_size, shared_mem_per_sm FROM devices").fetchall() == [
        (0, "AMD Radeon Graphics", 68702699520, "9.0", 104, 64, 65536)]
