"""The Python API (anemoi_tp.load -> Trace), analysis tables stored by `load -o`, export, and
MLflow logging. Expected values come from hand-built traces (tests/builders.py, the numbers of
tests/test_analyses.py's main_trace) or from the raw trace JSON."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from test_analyses import main_trace

import anemoi_tp
from anemoi_tp.analysis import query_versions
from anemoi_tp.catalog import PUBLIC, relations
from anemoi_tp.errors import InputError
from anemoi_tp.persist import PERSISTED_FILES

from builders import GEMM, TraceBuilder
from conftest import write_trace
from test_cli import run

US = 1e-6
ROOT = Path(__file__).resolve().parents[1]
# main_trace's batches, by hand (tests/test_analyses.py): (batch, ts, end_ts, complete), ns
MAIN_BATCHES = [(1, 0, 100_000, True), (2, 100_000, 210_000, True), (None, 220_000, 300_000, False)]
# main_trace: 7 kernels (K1 … K7), each with one cudaLaunchKernel
MAIN_KERNELS = 7


@pytest.fixture(scope="module")
def main_path(tmp_path_factory) -> Path:
    return write_trace(tmp_path_factory.mktemp("main") / "t.json", main_trace(), baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})


@pytest.fixture(scope="module")
def main_db(main_path, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("db") / "run.duckdb"
    r = run("load", str(main_path), "-o", str(db))
    assert r.returncode == 0, r.stderr
    return db


def _cli_json(*args: str) -> str:
    r = run("report", *args, "-f", "json")
    assert r.returncode == 0, r.stderr
    return r.stdout


# -- the Python API ----------------------------------------------------------------------------

def test_sql_table_and_findings_are_dataframes_with_the_hand_numbers(main_path):
    with anemoi_tp.load(main_path) as t:
        got = t.sql("SELECT batch, ts, end_ts, complete FROM batches ORDER BY ts")
        rows = got.astype(object).where(got.notna(), None).itertuples(index=False)
        assert [tuple(row) for row in rows] == MAIN_BATCHES
        gt = t.table("gpu_time")
        assert (int(gt.active_ns[0]), int(gt.idle_ns[0]), int(gt.overlap_ns[0])) == (50_000, 160_000, 15_000)
        assert int(t.sql("SELECT count(*) AS n FROM gpu_activities WHERE rank = $r", {"r": 0}).n[0]) == MAIN_KERNELS
        f = t.findings()
        assert list(f.columns[:3]) == ["rule", "severity", "rank"]
        per_rank = t.findings(per_rank=True)
        assert set(per_rank["rank"]) <= {0}
        with pytest.raises(InputError, match="no table or view named 'nope'"):
            t.table("nope")
        with pytest.raises(InputError, match="query failed"):
            t.sql("SELECT * FROM nope")
    assert t.con is None
    with pytest.raises(InputError, match="closed"):
        t.sql("SELECT 1")


def test_report_is_the_cli_json_byte_for_byte_and_options_recompute(main_path):
    cli = _cli_json(str(main_path))
    cli_strict = _cli_json(str(main_path), "--threshold", "missing_annotations.pct_unattributed=1")
    assert cli != cli_strict  # the option matters on this trace, so the test below can fail
    with anemoi_tp.load(main_path) as t:
        r = t.report()
        assert json.dumps(r, indent=2) + "\n" == cli
        assert r["ranks"][0]["throughput_it_s"] == pytest.approx(2 / (210 * US))
        strict = t.report(thresholds={"missing_annotations.pct_unattributed": 1})
        assert json.dumps(strict, indent=2) + "\n" == cli_strict
        assert json.dumps(t.report(), indent=2) + "\n" == cli  # back to the defaults


def test_load_checks_its_input(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        anemoi_tp.load(tmp_path / "absent.json")
    with pytest.raises(InputError, match="RULE.NAME=NUMBER"):
        anemoi_tp.load(tmp_path, thresholds=["oops"])


def test_perfetto_sql_counts_the_slices_of_the_json(main_path):
    # Perfetto's JSON importer makes a slice of every complete event and every instant
    doc = json.loads(main_path.read_text())
    expected = sum(e["ph"] in ("X", "i") for e in doc["traceEvents"])
    with anemoi_tp.load(main_path) as t:
        got = t.perfetto("SELECT count(*) AS n FROM slice")
        assert int(got.n[0]) == expected


def test_the_example_notebook_runs_end_to_end(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the test extra (nbformat) is not installed")
    nbclient = pytest.importorskip("nbclient", reason="the test extra (nbclient) is not installed")
    pytest.importorskip("ipykernel", reason="the test extra (ipykernel) is not installed")
    nb = nbformat.read(ROOT / "examples/quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    last = "".join(o.get("text", "") for o in nb.cells[-2].outputs if o.get("output_type") == "stream")
    # the notebook generates DemoConfig(ranks=4, batches=3): slow data loading on rank 2
    rank0 = next(p for p in (tmp_path / "quickstart-demo").glob("*.json")
                 if json.loads(p.read_text())["distributedInfo"]["rank"] == 0)
    slices = sum(e["ph"] in ("X", "i") for e in json.loads(rank0.read_text())["traceEvents"])
    assert last == (f"ranks 4 | complete batches [3, 3, 3, 3] | data_loader_stall on [2] | "
                    f"perfetto slices of rank 0 {slices}\n")


# -- analysis tables stored by `load -o` --------------------------------------------------------

def test_a_loaded_file_answers_queries_on_analysis_tables(main_db):
    r = run("query", str(main_db), "SELECT batch, ts, end_ts, complete FROM batches ORDER BY ts",
            "-f", "json")
    assert r.returncode == 0, r.stderr
    assert [tuple(x.values()) for x in json.loads(r.stdout)] == MAIN_BATCHES
    con = duckdb.connect(str(main_db), read_only=True)
    try:
        stored = con.execute("SELECT file, version FROM analysis_versions").fetchall()
    finally:
        con.close()
    current = query_versions()
    assert stored == [(f, current[f]) for f in PERSISTED_FILES]
    assert "analysis/batches.sql" in dict(stored) and "rules/_setup.sql" in dict(stored)


def test_stored_tables_are_documented_with_their_real_columns(main_db):
    from test_query_docs import doc_problems

    docs = {n: r for n, r in relations().items()
            if r.file in PERSISTED_FILES or r.file.startswith(("persist/", "views/", "ingest/"))
            or r.file == "memory/schema.sql"}  # the rules make the (empty) snapshot tables
    con = duckdb.connect(str(main_db), read_only=True)
    try:
        # documented, but TEMP: it lives while the analyses run
        assert doc_problems(con, docs, {"range_candidates": "a TEMP table",
                                        "op_ranges": "a TEMP table"}) == []
    finally:
        con.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_report_on_the_file_equals_the_trace_and_reuses_or_recomputes(main_path, main_db, tmp_path):
    trace_json = _cli_json(str(main_path))
    assert _cli_json(str(main_db)) == trace_json
    # a copy whose stored findings are gone: reused, the report has none; a stale version or an
    # option (even one equal to the default) recomputes them, in memory
    tampered = tmp_path / "tampered.duckdb"
    shutil.copy(main_db, tampered)
    con = duckdb.connect(str(tampered))
    con.execute("DELETE FROM findings")
    con.close()
    assert json.loads(trace_json)["findings"]  # else the tampering could not show
    assert json.loads(_cli_json(str(tampered)))["findings"] == []
    before = _digest(tampered)
    assert _cli_json(str(tampered), "--threshold", "straggler.wait_pct=5") == trace_json
    with anemoi_tp.load(tampered) as t:
        assert t.stored_analyses == (True, "stored analyses are current")
        assert t.report()["findings"] == []
        assert json.dumps(t.report(thresholds={"straggler.wait_pct": 5}), indent=2) + "\n" == trace_json
        assert t.report()["findings"] == json.loads(trace_json)["findings"]  # computed, not stored
    assert _digest(tampered) == before  # the user's file is never rewritten
    con = duckdb.connect(str(tampered))
    con.execute("UPDATE analysis_versions SET version = version - 1 WHERE file = 'analysis/batches.sql'")
    con.close()
    assert _cli_json(str(tampered)) == trace_json
    with anemoi_tp.load(tampered) as t:
        ok, why = t.stored_analyses
        assert not ok and "analysis/batches.sql" in why


# -- export ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trip(main_path, tmp_path, fmt):
    out = tmp_path / "out"
    r = run("export", str(main_path), "-o", str(out), "--format", fmt)
    assert r.returncode == 0, r.stderr
    names = {p.name.removesuffix(f".{fmt}") for p in out.iterdir()}
    assert set(PUBLIC) <= names
    assert {"batches", "analysis_window", "gpu_time", "gpu_owners", "attribution", "annotation_stats",
            "collective_matches", "findings", "rule_status"} <= names
    con = anemoi_tp.load(main_path)
    try:
        for name in sorted(names):
            path = out / f"{name}.{fmt}"
            if fmt == "csv":
                with open(path, newline="") as f:
                    rows = list(csv.reader(f))
                header, n = rows[0], len(rows) - 1
            else:
                import pyarrow.parquet as pq
                table = pq.read_table(path)
                header, n = table.column_names, table.num_rows
            assert n == int(con.sql(f'SELECT count(*) AS n FROM "{name}"').n[0]), name
            assert header == list(con.sql(f'SELECT * FROM "{name}" LIMIT 0').columns), name
    finally:
        con.close()
    # the hand counts: 7 kernels, 3 batch ranges (one cut)
    if fmt == "csv":
        assert sum(1 for _ in open(out / "gpu_activities.csv")) - 1 == MAIN_KERNELS
        assert sum(1 for _ in open(out / "batches.csv")) - 1 == len(MAIN_BATCHES)
    again = run("export", str(main_path), "-o", str(out), "--format", fmt)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "--force" in again.stderr
    assert again.stderr.count("\n") == 1


# -- MLflow ------------------------------------------------------------------------------------

def test_metrics_leave_out_missing_numbers_and_tag_why(tmp_path):
    from anemoi_tp.tracking import report_metrics, report_tags

    b = TraceBuilder().kernel(GEMM, 1, 2, 12).kernel(GEMM, 13, 20, 30)  # no batch ranges
    path = write_trace(tmp_path / "k.json", b.events, baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    with anemoi_tp.load(path) as t:
        data = t.report()
    m = report_metrics(data)
    assert "rank0/throughput_it_s" not in m and "mean/throughput_it_s" not in m
    assert "rank0/overlap_pct_of_comm" not in m  # no communication: no share of it
    # the window is the trace's span, launch at 1 µs to the end of the last kernel at 30 µs;
    # the GPU is idle in [1, 2) and [12, 20)
    assert m["rank0/total_s"] == pytest.approx(29 * US)
    assert m["rank0/gpu_idle_pct"] == pytest.approx(100 * 9 / 29)
    assert m["rank0/comm_pct"] == 0.0
    assert report_tags(data)["missing.rank0.throughput"].startswith("no batches")


@pytest.fixture
def mlflow():
    return pytest.importorskip("mlflow", reason="mlflow (the anemoi-tp[mlflow] extra) is not installed")


def _client(mlflow, uri: str):
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads file stores only then
    return mlflow.tracking.MlflowClient(tracking_uri=uri)


def test_report_logs_metrics_and_artifacts_to_an_mlflow_file_store(main_path, tmp_path, mlflow, monkeypatch):
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "r.json"
    r = run("report", str(main_path), "-o", str(out), "--mlflow", uri)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("logged to MLflow run ")
    client = _client(mlflow, uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    got = runs[0]
    m = got.data.metrics
    assert m["rank0/throughput_it_s"] == pytest.approx(2 / (210 * US))
    assert m["rank0/gpu_idle_pct"] == pytest.approx(100 * 160 / 210)
    assert m["rank0/comm_pct"] == pytest.approx(100 * 20 / 210)
    assert m["rank0/overlap_pct_of_comm"] == pytest.approx(75.0)
    assert m["mean/gpu_idle_pct"] == pytest.approx(100 * 160 / 210)  # one rank
    report = json.loads(out.read_text())
    for sev in ("critical", "warning", "info"):
        assert m[f"findings/{sev}"] == sum(f["severity"] == sev for f in report["findings"])
    assert m["findings/total"] == len(report["findings"])
    phases = {p["name"]: p["pct"] for p in report["ranks"][0]["phases"]}
    assert m["rank0/phase/forward_pct"] == pytest.approx(phases["forward"])
    arts = sorted(a.path for a in client.list_artifacts(got.info.run_id, "anemoi-tp"))
    assert arts == ["anemoi-tp/report.html", "anemoi-tp/report.json"]
    local = client.download_artifacts(got.info.run_id, "anemoi-tp", str(tmp_path / "dl"))
    assert Path(local, "report.json").read_text() == out.read_text()
    assert Path(local, "report.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_trace_report_logs_into_the_active_run(main_path, tmp_path, mlflow):
    uri = (tmp_path / "mlruns").as_uri()
    client = _client(mlflow, uri)
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as active, anemoi_tp.load(main_path) as t:
        t.report(mlflow=True)
        run_id = active.info.run_id
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [x.info.run_id for x in runs] == [run_id]
    assert runs[0].data.metrics["rank0/batches"] == 2


def test_mlflow_missing_is_one_line_and_exit_2(main_path, tmp_path):
    fake = tmp_path / "no-mlflow" / "mlflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not installed here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")]))
    import subprocess
    import sys
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "anemoi_tp", "report", str(main_path), "-o", str(out),
                        "--mlflow"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2
    assert r.stderr == "error: MLflow logging needs the mlflow package: pip install 'anemoi-tp[mlflow]'\n"
    assert not out.exists()
