"""The SQL files' own documentation holds: headers, versions against queries/VERSIONS.json, and
every documented table / view with exactly the columns (names and order) DuckDB gives it after
the whole pipeline (load, analyses, rules, report views, memory) on two trace sets."""
from __future__ import annotations

import pickle
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import duckdb
import pytest

from anemoi_tp.catalog import MANIFEST, Relation, header, manifest_problems, read_manifest, relations, update_manifest
from anemoi_tp.database import connect, run_sql
from anemoi_tp.demo.generate import DemoConfig, generate_trace_set
from anemoi_tp.ingest import load_traces
from anemoi_tp.ingest.snapshot import load_snapshot
from anemoi_tp.report import build_report
from anemoi_tp.resources import resource_dir

from builders import ALLREDUCE, BATCH, ENC, FETCH, GEMM, OPT, PROC, TRAIN, TraceBuilder
from conftest import write_trace

QUERIES = resource_dir("queries")

# Documented relations that exist only under a condition, with the reason; every other
# documented relation must exist after the pipeline.
CONDITIONAL = {
    name: "made only when a memory snapshot is loaded (ingest/snapshot.py load_snapshot)"
    for name in ("memory_snapshots", "mem_segments", "mem_blocks", "mem_trace", "mem_pool_summary",
                 "mem_device_summary", "mem_peak", "mem_largest", "mem_sites", "mem_ooms",
                 "mem_churn", "section_snapshot_devices", "section_snapshot_sites",
                 "section_snapshot_ooms")
}
# made by each rank's map (anemoi_tp/pipeline/rankmap.py), not where one database holds the set:
# its documented columns are checked in tests/test_pipeline.py
MAP_ONLY = {"rule_candidates": "made by the ranks' maps only (tests/test_pipeline.py checks it)"}
CONDITIONAL.update(MAP_ONLY)


# -- headers and versions ------------------------------------------------------------------

def test_every_sql_file_header_names_its_path_and_an_integer_version():
    problems = [p for f in sorted(QUERIES.rglob("*.sql")) if (p := header(f, QUERIES)[1])]
    assert not problems, "\n".join(problems)


def test_header_check_rejects_a_wrong_name_and_a_missing_version(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.sql").write_text("-- a/y.sql (version 3): something\nSELECT 1;\n")
    (tmp_path / "a/z.sql").write_text("-- a/z.sql: no version\nSELECT 1;\n")
    (tmp_path / "a/ok.sql").write_text("-- a/ok.sql (version 12): fine\n")
    assert header(tmp_path / "a/x.sql", tmp_path) == (3, "a/x.sql: its header names a/y.sql")
    assert header(tmp_path / "a/z.sql", tmp_path) == (
        None, "a/z.sql: first line must be `-- a/z.sql (version N): what it is`")
    assert header(tmp_path / "a/ok.sql", tmp_path) == (12, None)


def test_the_manifest_matches_the_query_files():
    bump, refresh = manifest_problems()
    assert not bump, ("a query file changed without a version bump (any change of content needs "
                      "one):\n" + "\n".join(bump))
    assert not refresh, f"queries/{MANIFEST} is out of date:\n" + "\n".join(refresh)


def _set_version(path: Path, version: int) -> None:
    text = path.read_text()
    path.write_text(re.sub(r"\(version \d+\)", f"(version {version})", text, count=1))


def test_the_manifest_check_catches_unbumped_changes_and_stale_entries(tmp_path):
    root = tmp_path / "queries"
    shutil.copytree(QUERIES, root)
    update_manifest(root, force=True)  # the copy starts clean even while the real one is stale
    assert manifest_problems(root) == ([], [])
    f = root / "analysis/batches.sql"
    v = header(f, root)[0]
    saved = (root / MANIFEST).read_text()

    f.write_text(f.read_text() + "-- a comment is a change too\n")
    bump, refresh = manifest_problems(root)
    assert refresh == []
    assert len(bump) == 1 and bump[0].startswith("analysis/batches.sql: content changed but it is "
                                                 f"still version {v}: set `(version {v + 1})`")
    # the refresh refuses while a change has no bump, and leaves the manifest alone
    assert update_manifest(root) == bump
    assert (root / MANIFEST).read_text() == saved

    _set_version(f, v + 1)
    assert manifest_problems(root) == ([], [
        f"analysis/batches.sql: version {v + 1}, {MANIFEST} still has {v}: "
        "run `python -m anemoi_tp.catalog --update-manifest`"])
    assert update_manifest(root) == []
    assert read_manifest(root)["analysis/batches.sql"]["version"] == v + 1
    assert manifest_problems(root) == ([], [])

    _set_version(f, v)
    assert manifest_problems(root)[0] == [
        f"analysis/batches.sql: version {v} is below the {MANIFEST} entry's {v + 1}: "
        "versions only go up"]
    _set_version(f, v + 1)

    (root / "rules/straggler.sql").unlink()
    (root / "rules/new_rule.sql").write_text("-- rules/new_rule.sql (version 1): new\nSELECT 1;\n")
    assert manifest_problems(root) == ([], [
        "rules/new_rule.sql: new file, not in VERSIONS.json: run "
        "`python -m anemoi_tp.catalog --update-manifest`",
        "rules/straggler.sql: listed in VERSIONS.json but the file is gone: run "
        "`python -m anemoi_tp.catalog --update-manifest`"])
    assert update_manifest(root) == []
    assert "rules/straggler.sql" not in read_manifest(root)
    assert manifest_problems(root) == ([], [])


def test_the_manifest_command_exits_0_when_current_and_2_naming_the_file_otherwise(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "anemoi_tp.catalog"], capture_output=True, text=True)
    bump, refresh = manifest_problems()
    if bump or refresh:  # stale here: the command must say so, file by file
        assert ok.returncode == 2 and ok.stderr.count("\n") == len(bump) + len(refresh)
    else:
        assert (ok.returncode, ok.stdout) == (0, f"{MANIFEST}: up to date\n")


# -- documented columns against the real ones ---------------------------------------------

def _documented_names() -> dict[str, list[str]]:
    """name -> the files that document it (relations() keeps only the last)."""
    tag = re.compile(r"^--\s*@(?:view|table)\s+(\S+)")
    out: dict[str, list[str]] = {}
    for f in sorted(QUERIES.rglob("*.sql")):
        for line in f.read_text().splitlines():
            if m := tag.match(line):
                out.setdefault(m.group(1), []).append(f.relative_to(QUERIES).as_posix())
    return out


def test_each_relation_is_documented_once():
    twice = {n: fs for n, fs in _documented_names().items() if len(fs) > 1}
    assert not twice


def real_relations(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, bool, list[str]]]:
    """name -> (kind, temporary, columns in order) of every table and view in ``con``."""
    out: dict[str, tuple[str, bool, list[str]]] = {}
    for name, kind, temp, cols in con.execute("""
            WITH rel AS (
                SELECT database_name, schema_name, table_name AS name, 'table' AS kind, temporary
                FROM duckdb_tables() WHERE NOT internal
                UNION ALL
                SELECT database_name, schema_name, view_name, 'view', temporary
                FROM duckdb_views() WHERE NOT internal)
            SELECT r.name, r.kind, r.temporary, list(c.column_name ORDER BY c.column_index)
            FROM rel r JOIN duckdb_columns() c
              ON c.database_name = r.database_name AND c.schema_name = r.schema_name
             AND c.table_name = r.name
            GROUP BY ALL""").fetchall():
        out[name] = (kind, temp, cols)
    return out


def doc_problems(con: duckdb.DuckDBPyConnection, docs: dict[str, Relation],
                 conditional: dict[str, str]) -> list[str]:
    """Where the documentation and the database of ``con`` disagree, one line each."""
    real = real_relations(con)
    problems = []
    for name, doc in sorted(docs.items()):
        where = f"queries/{doc.file} @{doc.kind} {name}"
        if name not in real:
            if name not in conditional:
                problems.append(f"{where}: not in the database after the pipeline (fix the doc, "
                                "or list it in CONDITIONAL with the reason)")
            continue
        kind, _, cols = real[name]
        documented = [c for c, _ in doc.columns]
        if kind != doc.kind:
            problems.append(f"{where}: it is a {kind}")
        if cols != documented:
            extra = [c for c in documented if c not in cols]
            absent = [c for c in cols if c not in documented]
            what = "; ".join(([f"undocumented {absent}"] if absent else []) +
                             ([f"documented but absent {extra}"] if extra else [])) or "order differs"
            problems.append(f"{where}: {what}; real columns in order: {', '.join(cols)}")
    for name, (kind, temp, _) in sorted(real.items()):
        if name not in docs and not temp and not name.startswith("_"):
            problems.append(f"{kind} {name}: not documented (scratch tables are TEMP or _-prefixed)")
    return problems


def test_doc_problems_sees_order_missing_extra_kind_and_undocumented():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a INT, b INT); CREATE VIEW v AS SELECT 1 AS x;"
                "CREATE TABLE loose (y INT); CREATE TEMP TABLE scratch (z INT);"
                "CREATE TABLE _own (z INT)")
    docs = {"t": Relation("t", "table", "", "f.sql", [("b", ""), ("a", "")]),
            "v": Relation("v", "table", "", "g.sql", [("x", ""), ("w", "")]),
            "gone": Relation("gone", "view", "", "h.sql", []),
            "maybe": Relation("maybe", "view", "", "h.sql", [])}
    assert doc_problems(con, docs, {"maybe": "sometimes"}) == [
        "queries/h.sql @view gone: not in the database after the pipeline (fix the doc, or list "
        "it in CONDITIONAL with the reason)",
        "queries/f.sql @table t: order differs; real columns in order: a, b",
        "queries/g.sql @table v: it is a view",
        "queries/g.sql @table v: documented but absent ['w']; real columns in order: x",
        "table loose: not documented (scratch tables are TEMP or _-prefixed)"]


MiB = 1 << 20


def _snapshot() -> dict:
    """A minimal torch.cuda.memory._dump_snapshot() result: one segment, one history event."""
    frame = [{"filename": "/x/model.py", "line": 1, "name": "forward"}]
    return {"segments": [{"device": 0, "address": 1 << 30, "total_size": 2 * MiB, "stream": 0,
                          "segment_type": "large", "segment_pool_id": (0, 0), "blocks": [
                              {"size": MiB, "requested_size": MiB, "state": "active_allocated",
                               "frames": frame},
                              {"size": MiB, "requested_size": 0, "state": "inactive", "frames": []}]}],
            "device_traces": [[{"action": "alloc", "addr": 1 << 30, "size": MiB, "stream": 0,
                                "time_us": 5, "frames": frame}]]}


def _hand_rank(rank: int) -> list[dict]:
    """Two batches with phases, modules, a GEMM, an all-reduce, [memory] events, a launch
    whose correlation id has two runtime calls (the dedupe path) and an event with an issue."""
    b = TraceBuilder()
    for off in (0, 200):
        b.range(FETCH, off, off + 10).range(BATCH, off + 10, off + 150).range(OPT, off + 11, off + 149)
        b.range(TRAIN, off + 12, off + 60).range(ENC, off + 13, off + 30).range(PROC, off + 31, off + 50)
        b.op("aten::addmm", off + 14, off + 16, seq=off + 1)
        b.kernel(GEMM, off + 15, off + 20, off + 40)
        b.kernel(ALLREDUCE, off + 61, off + 70 + 5 * rank, off + 100, stream=20)
    b.events.append(dict(b.events[-2], ts=b.events[-2]["ts"] + 0.5))  # same correlation again
    for ts, nbytes, total in ((14, 1000, 1000), (40, -500, 500)):
        b.events.append({"ph": "i", "cat": "cpu_instant_event", "s": "t", "name": "[memory]",
                         "pid": 1, "tid": 1, "ts": ts,
                         "args": {"Total Reserved": 4096, "Total Allocated": total, "Bytes": nbytes,
                                  "Device Id": 0, "Device Type": 1}})
    b.events.append({"ph": "X", "cat": "cpu_op", "name": "bad", "pid": 1, "tid": 1, "ts": 5,
                     "dur": "not a number"})
    b.window_end(400)
    return b.events


def _pipeline(trace_dir: Path, snapshot: Path | None) -> duckdb.DuckDBPyConnection:
    """load + analyses + rules + report views (+ memory), as `anemoi-tp report` runs them."""
    con = connect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the skipped bad event is warned about; expected here
        load_traces(con, trace_dir)
    if snapshot:
        load_snapshot(con, snapshot)
    build_report(con)
    run_sql(con, "persist/analysis_versions.sql")  # what `load -o FILE` adds (persist.py)
    return con


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory) -> dict[str, duckdb.DuckDBPyConnection]:
    d = tmp_path_factory.mktemp("docs")
    generate_trace_set(d / "demo", DemoConfig(ranks=2, batches=2, processor_blocks=1))
    snap = d / "memory_snapshot.pickle"
    snap.write_bytes(pickle.dumps(_snapshot()))
    for rank in (0, 1):
        write_trace(d / f"hand/host_{rank}.None.1.pt.trace.json", _hand_rank(rank),
                    distributedInfo={"rank": rank, "world_size": 2, "backend": "nccl"},
                    deviceProperties=[{"id": 0, "name": "GPU", "numSms": 108}])
    return {"demo set + snapshot": _pipeline(d / "demo", snap),
            "hand-built, no snapshot": _pipeline(d / "hand", None)}


@pytest.mark.parametrize("which", ["demo set + snapshot", "hand-built, no snapshot"])
def test_documented_columns_are_the_real_ones(pipelines, which):
    problems = doc_problems(pipelines[which], relations(), CONDITIONAL)
    assert not problems, f"on the {which}:\n" + "\n".join(problems)


def test_the_hand_built_trace_reaches_the_conditional_paths(pipelines):
    con = pipelines["hand-built, no snapshot"]
    # 10 rows before ingest/gpu_launch_dedupe.sql (one launch has two runtime calls), 8 after;
    # the bad event of each rank was skipped; the [memory] events are in
    assert con.execute("SELECT count(*), count(DISTINCT activity_id) FROM gpu_activities"
                       ).fetchone() == (8, 8)
    assert con.execute("SELECT count(*) FROM trace_events WHERE issue IS NOT NULL").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM memory_timeline").fetchone() == (4,)


def test_every_conditional_relation_is_checked_somewhere(pipelines):
    seen = set().union(*(real_relations(con) for con in pipelines.values()))
    docs = relations()
    assert sorted(n for n in CONDITIONAL if n not in MAP_ONLY and (n not in seen or n not in docs)) == []
