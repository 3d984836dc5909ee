"""The pipeline (per-rank maps, the cache, the reduce; anemoi_tp/pipeline): the same report
whether the ranks are loaded together or apart, in this process, on Dask workers, through a
scheduler, or from the cache; the cache survives other thresholds and a killed run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anemoi_tp.database import connect
from anemoi_tp.demo import DemoConfig, generate_trace_set
from anemoi_tp.ingest import load_traces
from anemoi_tp.report import build_report
from anemoi_tp.session import report_json

CFG = DemoConfig(ranks=3, batches=3, seed=3, processor_blocks=2)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pipeline") / "demo"
    generate_trace_set(out, CFG)
    return out


def cli(*args: str, cache: Path | None = None, group_mb: int = 0, **kw) -> subprocess.CompletedProcess:
    # group_mb 0: a map per rank (the demo's small ranks would otherwise share one map)
    env = dict(os.environ, ANEMOI_TP_GROUP_MB=str(group_mb))
    if cache is not None:
        env["ANEMOI_TP_CACHE"] = str(cache)
    return subprocess.run([sys.executable, "-m", "anemoi_tp", *args], capture_output=True, text=True,
                          env=env, **kw)


def whole_set_json(trace: Path, thresholds: dict | None = None) -> str:
    """The reference: every rank in one database, every analysis and rule on it (no maps)."""
    con = connect()
    load_traces(con, trace)
    return report_json(build_report(con, thresholds=thresholds, top=25))


def report(trace: Path, cache: Path, *extra: str, group_mb: int = 0) -> str:
    r = cli("report", str(trace), "-f", "json", *extra, cache=cache, group_mb=group_mb)
    assert r.returncode == 0, r.stderr
    return r.stdout


def entries(cache: Path) -> list[Path]:
    """The rank entries (their entry.json), without the raw events' entries."""
    return sorted(p for p in (cache / "v1" / "ranks").glob("*/entry.json") if not p.parent.name.endswith("-events"))


def events_entries(cache: Path) -> list[Path]:
    return sorted((cache / "v1" / "ranks").glob("*-events/entry.json"))


def test_ranks_loaded_apart_report_what_the_whole_set_reports(demo, tmp_path):
    # Every analysis is per rank or in the reduce: the set's report equals the one computed
    # with all ranks in one database (event ids differ, and no reported number depends on them)
    assert report(demo, tmp_path / "c") == whole_set_json(demo)
    assert len(entries(tmp_path / "c")) == CFG.ranks
    # small ranks mapped together (the default for ranks under 96 MB): the same report, one entry
    assert report(demo, tmp_path / "g", group_mb=96) == whole_set_json(demo)
    assert [json.loads(p.read_text())["ranks"] for p in entries(tmp_path / "g")] == [[0, 1, 2]]


def test_in_process_workers_scheduler_and_cache_give_one_report(demo, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    first = report(demo, tmp_path / "a", "--no-cache")
    assert not (tmp_path / "a").exists() or not entries(tmp_path / "a")  # --no-cache keeps nothing
    assert report(demo, tmp_path / "b", "--workers", "2") == first
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert report(demo, tmp_path / "c", "--scheduler", cluster.scheduler_address) == first
    made = [(p, p.stat().st_mtime_ns) for p in entries(tmp_path / "b")]
    assert len(made) == CFG.ranks
    assert report(demo, tmp_path / "b") == first  # from the cache: no entry written again
    assert [(p, p.stat().st_mtime_ns) for p in entries(tmp_path / "b")] == made


def test_another_threshold_reuses_the_ranks_and_applies_like_the_rules(demo, tmp_path):
    cache = tmp_path / "c"
    report(demo, cache)
    n = len(entries(cache))
    # lower 'fires' thresholds: more findings, from the cached ranks' candidates
    out = report(demo, cache, "--threshold", "host_bound.pct_of_total=0.1",
                 "--threshold", "data_loader_stall.pct_of_total=0.5",
                 "--threshold", "missing_annotations.pct_unattributed=0")
    assert len(entries(cache)) == n
    ref = whole_set_json(demo, {"host_bound": {"pct_of_total": 0.1},
                                "data_loader_stall": {"pct_of_total": 0.5},
                                "missing_annotations": {"pct_unattributed": 0}})
    assert out == ref
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert {"data_loader_stall", "missing_annotations"} <= rules
    # a threshold that decides what a rank measures is part of its key: new entries
    report(demo, cache, "--threshold", "low_occupancy.occupancy_pct=60")
    assert len(entries(cache)) == 2 * n


def test_a_killed_run_leaves_no_entry_and_the_next_run_is_clean(tmp_path):
    trace = tmp_path / "big"
    generate_trace_set(trace, DemoConfig(ranks=2, batches=60, seed=1))
    cache = tmp_path / "c"
    env = dict(os.environ, ANEMOI_TP_CACHE=str(cache), ANEMOI_TP_GROUP_MB="0")
    p = subprocess.Popen([sys.executable, "-m", "anemoi_tp", "report", str(trace), "-f", "json",
                          "-o", str(tmp_path / "r.json")], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    deadline = time.time() + 60
    tmp = cache / "v1" / "tmp"
    while time.time() < deadline and not (tmp.is_dir() and any(tmp.iterdir())):
        time.sleep(0.02)
    assert tmp.is_dir() and any(tmp.iterdir()), "the map never started writing"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert list(tmp.iterdir())  # the killed run's half entry, under its temporary name
    assert all((d / "entry.json").is_file() for d in (cache / "v1" / "ranks").iterdir())
    assert not (tmp_path / "r.json").exists()
    out = report(trace, cache)
    assert not list(tmp.iterdir())  # swept: its pid is gone
    assert len(entries(cache)) == 2
    assert out == whole_set_json(trace)


def test_workers_without_dask_is_one_line_exit_2(demo, tmp_path):
    code = ("import sys; sys.modules['distributed'] = None; sys.argv = ['anemoi-tp', 'report', "
            f"{str(demo)!r}, '--workers', '2', '--no-cache']; from anemoi_tp.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, ANEMOI_TP_GROUP_MB="0"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "error: --workers / --scheduler need Dask: pip install 'anemoi-tp[dask]' (dask and distributed)"]


def test_cache_info_and_clear(demo, tmp_path):
    cache = tmp_path / "c"
    report(demo, cache)
    info = cli("cache", "info", cache=cache)
    assert info.returncode == 0 and f": {CFG.ranks} rank entries," in info.stdout
    cleared = cli("cache", "clear", cache=cache)
    assert cleared.stdout.startswith(f"removed {CFG.ranks} rank entries")
    assert entries(cache) == []


def test_the_rule_candidates_of_a_map_have_their_documented_columns(demo, tmp_path):
    import duckdb

    from anemoi_tp.catalog import relations

    report(demo, tmp_path / "c")
    entry = entries(tmp_path / "c")[0].parent
    cols = [d[0] for d in duckdb.sql(f"SELECT * FROM '{entry / 'rule_candidates.parquet'}'").description]
    assert cols == [c for c, _ in relations()["rule_candidates"].columns]
    findings = [c for c, _ in relations()["findings"].columns]
    assert cols == findings  # rules/_candidates.sql inserts them as findings, column for column


def test_a_cache_folder_named_like_hive_partitions_changes_nothing(demo, tmp_path):
    # DuckDB reads key=value path segments as columns unless told not to
    odd = tmp_path / "rank=7" / "ts=1" / "name=x" / "file_id=9"
    assert report(demo, odd) == whole_set_json(demo)


def test_the_views_the_reduce_derives_equal_the_whole_sets(demo, tmp_path):
    # flows is not in the entries: the reduce pairs each file's flow events itself (the
    # demo's ranks each have ac2g and fwdbwd flows); the rows must be the whole set's
    from anemoi_tp.pipeline import RunOptions
    from anemoi_tp.pipeline.reduce import DERIVED
    from anemoi_tp.session import open_set

    con = connect()
    load_traces(con, demo)
    ref = con.execute("SELECT * FROM flows ORDER BY ALL").fetchall()
    assert {r[2] for r in ref} == {"ac2g", "fwdbwd"} and len({r[0] for r in ref}) == CFG.ranks
    src = open_set(demo, RunOptions(progress=False, cache_dir=str(tmp_path / "c")))
    try:
        assert src.con.execute("SELECT * FROM flows ORDER BY ALL").fetchall() == ref
    finally:
        src.close()
    assert all(not (e.parent / f"{n}.parquet").exists() for e in entries(tmp_path / "c") for n in DERIVED)


def test_a_file_is_hashed_again_only_when_it_changed(tmp_path, monkeypatch):
    import xxhash

    from anemoi_tp.pipeline import cache as cache_mod

    hashed = []
    real = cache_mod.content_key
    monkeypatch.setattr(cache_mod, "content_key", lambda p: hashed.append(p) or real(p))
    cache = cache_mod.Cache.open(tmp_path / "c")
    f = tmp_path / "rank0.json"
    f.write_bytes(b"a" * 100)
    # just written: hashed every time (a write in the same mtime tick would not show)
    assert cache.content_key(f) == cache.content_key(f) == xxhash.xxh3_128(b"a" * 100).hexdigest() + "-100"
    assert len(hashed) == 2
    old = time.time_ns() - 60 * 10**9
    os.utime(f, ns=(old, old))
    cache.content_key(f)
    assert cache.content_key(f) == xxhash.xxh3_128(b"a" * 100).hexdigest() + "-100"
    assert len(hashed) == 3  # settled: the second look-up is remembered
    # the same size and mtime, other bytes: the ctime moved, so it is hashed again
    f.write_bytes(b"b" * 100)
    os.utime(f, ns=(old, old))
    assert cache.content_key(f) == xxhash.xxh3_128(b"b" * 100).hexdigest() + "-100"
    assert len(hashed) == 4
    # a temporary cache (--no-cache) remembers nothing
    temporary = cache_mod.Cache.open(enabled=False)
    try:
        assert temporary.content_key(f) == xxhash.xxh3_128(b"b" * 100).hexdigest() + "-100"
    finally:
        temporary.close()
    assert len(hashed) == 5


def test_the_raw_events_are_mapped_for_sql_only_and_then_kept(demo, tmp_path):
    con = connect()
    load_traces(con, demo)
    # (event ids differ: a map numbers from its first file's id; they stay unique)
    want = con.execute("SELECT count(*), count(DISTINCT rank), count(DISTINCT event_id), sum(dur) "
                       "FROM events").fetchone()
    flows = con.execute("SELECT count(*) FROM flows WHERE status = 'paired'").fetchone()[0]
    assert want[1] == CFG.ranks and flows > 0
    sql = ("SELECT (SELECT count(*) FROM events), (SELECT count(DISTINCT rank) FROM events), "
           "(SELECT count(DISTINCT event_id) FROM events), (SELECT sum(dur) FROM events), "
           "(SELECT count(*) FROM flows WHERE status = 'paired')")
    expected = ",".join(map(str, (*want, flows)))

    # a report reads no raw events: its maps write none
    cache = tmp_path / "c"
    report(demo, cache)
    ranks_before = entries(cache)
    assert len(ranks_before) == CFG.ranks and events_entries(cache) == []
    # SQL of the user's may read them: the ranks are loaded again for them alone, once
    r = cli("query", str(demo), sql, "-f", "csv", cache=cache)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == expected
    assert entries(cache) == ranks_before and len(events_entries(cache)) == CFG.ranks
    parts = [json.loads(p.read_text())["relations"] for p in events_entries(cache)]
    assert all(list(p) == ["events"] for p in parts) and sum(p["events"] for p in parts) == want[0]
    # on a new cache a query maps the analyses and the events together (one load per rank)
    fresh = tmp_path / "f"
    r = cli("query", str(demo), sql, "-f", "csv", cache=fresh)
    assert r.stdout.splitlines()[-1] == expected
    assert len(entries(fresh)) == len(events_entries(fresh)) == CFG.ranks
    info = cli("cache", "info", cache=fresh)
    assert f": {CFG.ranks} rank entries, {CFG.ranks} of raw events," in info.stdout
    assert cli("cache", "clear", cache=fresh).stdout.startswith(f"removed {CFG.ranks} rank entries")


def test_a_map_that_loads_a_rank_again_for_its_events_is_not_counted_cached(demo, tmp_path):
    from anemoi_tp.analysis import query_versions
    from anemoi_tp.pipeline.cache import Cache
    from anemoi_tp.pipeline.plan import make_plan
    from anemoi_tp.pipeline.progress import fully_cached
    from anemoi_tp.pipeline.rankmap import map_rank

    root = tmp_path / "c"
    task = make_plan(demo, Cache.open(str(root), enabled=True)).tasks[0]
    versions = query_versions()
    first = map_rank(task, str(root), False, versions)           # a report's map: no events
    assert not first["cached"] and "events_entry" not in first and not fully_cached(first)
    again = map_rank(task, str(root), False, versions, events=True)  # a query's: events loaded anew
    assert again["cached"] and not again["events_entry"]["cached"] and not fully_cached(again)
    last = map_rank(task, str(root), False, versions, events=True)
    assert last["cached"] and last["events_entry"]["cached"] and fully_cached(last)


def test_a_stopped_run_stops_its_running_maps_and_starts_no_more(tmp_path):
    # 4 ranks mapped 2 at a time in threads: on SIGTERM the maps running are interrupted (one
    # may just have finished), the others never start (before, every map ran to its end
    # first); no temporary entry is left
    trace = tmp_path / "big"
    generate_trace_set(trace, DemoConfig(ranks=4, batches=300, seed=1))
    cache = tmp_path / "c"
    env = dict(os.environ, ANEMOI_TP_CACHE=str(cache), ANEMOI_TP_GROUP_MB="0")
    code = ("import os; os.cpu_count = lambda: 2; from anemoi_tp.cli import main; import sys; "
            f"sys.argv = ['anemoi-tp', 'report', {str(trace)!r}, '-f', 'json', '-o', "
            f"{str(tmp_path / 'r.json')!r}]; main()")
    p = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tmp = cache / "v1" / "tmp"
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp.is_dir() and len(list(tmp.iterdir())) >= 2):
        time.sleep(0.02)
    assert tmp.is_dir() and len(list(tmp.iterdir())) >= 2, "two maps never ran at once"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 128 + signal.SIGTERM
    assert len(entries(cache)) <= 2 and list(tmp.iterdir()) == []
    assert not (tmp_path / "r.json").exists()
