"""Every shared real trace: per-(ph, cat) event counts equal the file's, counted by json."""
from __future__ import annotations

import collections
import gzip
import json

import pytest

from conftest import load, shared_trace, shared_trace_names

NAMES = shared_trace_names() or ["(shared traces absent)"]


@pytest.mark.parametrize("name", NAMES)
def test_counts_per_phase_and_category_match_the_file(name):
    path = shared_trace(name)
    with gzip.open(path) as f:
        doc = json.load(f)
    expected = collections.Counter((e.get("ph"), e.get("cat")) for e in doc["traceEvents"])
    con, result = load(path)
    got = {(ph, cat): n for ph, cat, n in
           con.execute("SELECT ph, cat, count(*) FROM events GROUP BY ALL").fetchall()}
    assert got == dict(expected)
    assert result.skipped == 0
    assert con.execute("SELECT count(*) FROM ingest_issues").fetchone()[0] == 0


@pytest.mark.parametrize("name", NAMES)
def test_gpu_activities_are_the_files_kernels_memcpys_memsets(name):
    path = shared_trace(name)
    with gzip.open(path) as f:
        doc = json.load(f)
    gpu = [e for e in doc["traceEvents"] if e.get("ph") == "X" and e.get("cat") in
           ("kernel", "gpu_memcpy", "gpu_memset", "Kernel", "Memcpy", "Memset")]
    runtime = {(e["args"]["correlation"]) for e in doc["traceEvents"]
               if e.get("ph") == "X" and e.get("cat") in ("cuda_runtime", "cuda_driver", "Runtime")
               and "correlation" in e.get("args", {})}
    launched = sum(1 for e in gpu if e.get("args", {}).get("correlation") in runtime)
    total_dur_ns = sum(round(e["dur"] * 1000) for e in gpu)
    con, _ = load(path)
    n, n_launched, dur = con.execute(
        "SELECT count(*), count(launch_name), sum(dur) FROM gpu_activities").fetchone()
    assert (n, n_launched, dur or 0) == (len(gpu), launched, total_dur_ns)


def test_v100_ranks_and_devices():
    con, _ = load(shared_trace("hta_v100_rank1of2_memory.json.gz"))
    assert con.execute("SELECT rank, rank_source, world_size, backend FROM ranks").fetchall() == [
        (1, "distributedInfo", 2, "nccl")]
    rows = con.execute("SELECT device, name, total_memory_bytes, compute_capability, num_sms, "
                       "warp_size FROM devices WHERE device = 0").fetchall()
    assert rows == [(0, "Tesla V100-SXM2-32GB", 34089730048, "7.0", 80, 32)]
    # 2020 NCCL AllReduce kernels (SOURCES.md)
    assert con.execute("SELECT count(*) FROM gpu_activities WHERE class = 'communication'"
                       ).fetchone()[0] == 2020


def test_b200_top_level_versions():
    con, _ = load(shared_trace("tracelens_b200_rank0of8.json.gz"))
    row = con.execute("SELECT rank, world_size, cupti_version, cuda_runtime_version, "
                      "cuda_driver_version, nccl_version, trace_id FROM ranks").fetchone()
    assert row == (0, 8, 28, 12090, 13000, "2.27.5", "77C6C16CEF784657A94763DE3FE086C3")


def test_2021_schema_streams_from_args():
    con, _ = load(shared_trace("kineto_resnet50_v100_workers0.pt.trace.json.gz"))
    # 2021 files write GPU tids as "stream 7"; the stream comes from args.stream
    assert con.execute("SELECT DISTINCT stream FROM gpu_activities").fetchall() == [(7,)]
    assert con.execute("SELECT rank_source FROM ranks").fetchone()[0] == "file order"
