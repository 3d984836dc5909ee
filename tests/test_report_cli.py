"""`anemoi-tp report` and `anemoi-tp demo` as a user runs them."""
from __future__ import annotations

import json
import re

import pytest
from test_analyses import main_trace

from builders import BATCH, GEMM, TRAIN, TraceBuilder
from conftest import write_trace
from test_cli import run


@pytest.fixture
def trace(tmp_path):
    return write_trace(tmp_path / "t.json", main_trace(), baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})


def test_json_report_has_the_stable_keys(trace, tmp_path):
    out = tmp_path / "r.json"
    r = run("report", str(trace), "-o", str(out))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["tool"]["name"] == "anemoi-tp"
    assert rep["queries"]["analysis/attribution.sql"] == 6
    rank = rep["ranks"][0]
    assert set(rank) >= {"rank", "batches", "total_s", "throughput_it_s", "gpu_active_s", "gpu_idle_s",
                         "gpu_idle_pct", "comm_pct", "gpu_time", "overlap", "phases", "modules",
                         "module_gpu", "annotations"}
    assert set(rank["gpu_time"]) == {"computation_s", "communication_s", "memory_ops_s", "data_loader_s"}
    assert set(rank["overlap"]) == {"overlap_s", "pct_of_total", "pct_of_comm", "pct_of_comp"}
    assert rank["gpu_idle_s"] == pytest.approx(160e-6)
    assert [p["name"] for p in rank["phases"]] == ["forward", "backward", "optimizer", "data_loader",
                                                   "elsewhere"]
    assert set(rep) >= {"collectives", "metadata", "devices", "findings"}


def test_text_report_sections(trace):
    r = run("report", str(trace), "--detailed")
    assert r.returncode == 0, r.stderr
    for title in ("Performance overview", "Trace metadata", "Phase breakdown", "Module breakdown",
                  "GPU time breakdown", "Top annotations by GPU time"):
        assert f"\n{title}\n" in "\n" + r.stdout
    assert re.search(r"\n0 +forward .* 60\.6\n", r.stdout)  # forward: 20 of its 33 µs communicate
    assert re.search(r"\n— +collectives +needs the traces of two or more ranks", r.stdout)


def test_loaded_database_gives_the_same_report(trace, tmp_path):
    db = tmp_path / "t.duckdb"
    r = run("load", str(trace), "-o", str(db))
    assert r.returncode == 0, r.stderr
    # each run's exit status and stderr are checked, so that a failure says why
    ra, rb = run("report", str(trace), "-f", "json"), run("report", str(db), "-f", "json")
    assert (ra.returncode, rb.returncode) == (0, 0), ra.stderr + rb.stderr
    assert json.loads(ra.stdout)["ranks"] == json.loads(rb.stdout)["ranks"]


def test_config_file_patterns(tmp_path):
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range("step", 20, 60).kernel(GEMM, 21, 30, 40)
    trace = write_trace(tmp_path / "t.json", b.events)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[patterns]\nbatch = ['^step$']\n")
    rep = json.loads(run("report", str(trace), "-f", "json", "--config", str(cfg)).stdout)
    assert rep["ranks"][0]["total_s"] == pytest.approx(40e-6)
    rep = json.loads(run("report", str(trace), "-f", "json", "--batch", "^step$").stdout)
    assert rep["ranks"][0]["total_s"] == pytest.approx(40e-6)


@pytest.mark.parametrize("content,words", [
    ("[patterns\n", "not valid TOML"),
    ("[patterns]\nbatches = ['x']\n", "unknown pattern kind"),
    ("[patterns]\nbatch = ['(']\n", "bad batch pattern"),
])
def test_bad_config_is_bad_input(tmp_path, content, words):
    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(TRAIN, 1, 50)
    trace = write_trace(tmp_path / "t.json", b.events)
    cfg = tmp_path / "c.toml"
    cfg.write_text(content)
    out = tmp_path / "r.json"
    r = run("report", str(trace), "--config", str(cfg), "-o", str(out))
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_demo_runs_and_reports_the_planted_ranks(tmp_path):
    r = run("demo", "-o", str(tmp_path / "demo"), "--batches", "3", "-f", "json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert [x["rank"] for x in rep["ranks"]] == [0, 1, 2, 3]
    assert all(x["batches"] == 3 for x in rep["ranks"])
    # rank 1's GPU is slower (DemoConfig.straggler_rank): the others wait for it at every all-reduce
    assert rep["collectives"]["AllReduce"]["straggler_rank"] == 1
    strag = [f for f in rep["findings"] if f["rule"] == "straggler"]
    assert [f["rank"] for f in strag] == [1]
    # 3 batches x (4 all-gathers + 6 all-reduces); rank 2, loading data slowly, arrives last at
    # each batch's first all-gather, rank 1 at the rest
    assert strag[0]["evidence"].startswith("rank 1 arrives last at 27 of 30 collectives;")
    # rank 2 loads data 6x slower (DemoConfig.slow_rank)
    assert [f["rank"] for f in rep["findings"] if f["rule"] == "data_loader_stall"] == [2]
    dl = {x["rank"]: next(p for p in x["phases"] if p["name"] == "data_loader")["duration_s"]
          for x in rep["ranks"]}
    assert dl[2] > 3 * max(dl[0], dl[1], dl[3])


def test_thresholds_from_options_and_toml(tmp_path):
    b = TraceBuilder()
    b.range("[pl][profile][_TrainingEpochLoop].train_dataloader_next", 0, 40)
    b.range(BATCH, 40, 100).range(TRAIN, 41, 99).kernel(GEMM, 41, 42, 100)
    trace = write_trace(tmp_path / "t.json", b.events)
    rules = lambda r: {f["rule"] for f in json.loads(r.stdout)["findings"]}  # noqa: E731
    assert "data_loader_stall" in rules(run("report", str(trace), "-f", "json"))
    assert "data_loader_stall" not in rules(
        run("report", str(trace), "-f", "json", "--threshold", "data_loader_stall.pct_of_total=50"))
    cfg = tmp_path / "c.toml"
    cfg.write_text("[thresholds]\ndata_loader_stall = { pct_of_total = 50 }\n")
    assert "data_loader_stall" not in rules(run("report", str(trace), "-f", "json", "--config", str(cfg)))
    r = run("report", str(trace), "--threshold", "nope.x=1")
    assert r.returncode == 2 and "unknown threshold nope.x" in r.stderr
    r = run("report", str(trace))
    assert r.stdout.startswith("Findings (worst first)\n") and "[CRITICAL] data_loader_stall" in r.stdout


def test_the_readme_config_example_works(tmp_path):
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    toml = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    trace = write_trace(tmp_path / "t.json", main_trace(), baseTimeNanoseconds=0)
    rep = json.loads(run("report", str(trace), "-f", "json", "--config", str(cfg)).stdout)
    # phases named in the file are replaced one by one; the others keep their defaults
    phases = {p["name"]: p["duration_s"] for p in rep["ranks"][0]["phases"]}
    assert phases["data_loader"] == pytest.approx(20e-6) and phases["optimizer"] == pytest.approx(20e-6)
    dl = [f for f in rep["findings"] if f["rule"] == "data_loader_stall"]
    assert [f["threshold"] for f in dl] == [5.0]  # 20/210 = 9.5 %: fires only with the file's 5 %
