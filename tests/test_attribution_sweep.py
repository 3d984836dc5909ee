"""The attribution sweep (analysis/attribution.sql v4) and island_edges (intervals/islands.sql),
on small hand-built input tables whose answers are worked out by hand below."""
from __future__ import annotations

import pytest

from anemoi_tp.database import connect, run_sql

INTERVAL_FILES = ("intervals/order.sql", "intervals/clip.sql", "intervals/islands.sql",
                  "intervals/innermost.sql")


def _con():
    con = connect()
    for f in INTERVAL_FILES:
        run_sql(con, f)
    return con


def test_island_edges_touching_nested_and_groups_apart():
    con = _con()
    # group 1: [0,10) and [10,20) touch (one island), [5,8) nested, [30,40) apart, a duplicate
    # of it; group 2 (same times as group 1's first island) is its own island
    con.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        (0, 1, 0, 10), (0, 1, 10, 20), (0, 1, 5, 8), (0, 1, 30, 40), (0, 1, 30, 40),
        (0, 2, 0, 20), (0, 2, 3, 3), (1, 1, 100, 150)) v(rank, grp, ts, end_ts)""")
    got = con.execute("SELECT rank, grp, t, edge FROM island_edges(t) ORDER BY ALL").fetchall()
    assert got == [(0, 1, 0, 1), (0, 1, 20, -1), (0, 1, 30, 1), (0, 1, 40, -1),
                   (0, 2, 0, 1), (0, 2, 20, -1), (1, 1, 100, 1), (1, 1, 150, -1)]
    # the same islands as busy_islands
    islands = con.execute("SELECT rank, grp, ts, end_ts FROM busy_islands(t) ORDER BY ALL").fetchall()
    assert islands == [(0, 1, 0, 20), (0, 1, 30, 40), (0, 2, 0, 20), (1, 1, 100, 150)]


def test_lone_intervals_touching_is_not_overlapping():
    con = _con()
    con.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
        (0, 0, 10), (0, 10, 20), (0, 30, 40), (0, 35, 45), (0, 50, 60), (0, 50, 60),
        (0, 70, 80), (0, 90, 90), (1, 35, 45)) v(rank, ts, end_ts)""")
    got = con.execute("SELECT rank, ts, end_ts FROM lone_intervals(t) ORDER BY ALL").fetchall()
    # [30,40) and [35,45) overlap, the two [50,60) overlap, [90,90) is empty; rank 1 apart
    assert got == [(0, 0, 10), (0, 10, 20), (0, 70, 80), (1, 35, 45)]


def _attribution(activities, dim="phase"):
    con = _con()
    # window [1000, 1100) on rank 0; no host ranges, no modules
    con.execute("CREATE TABLE analysis_window AS SELECT 0 AS rank, 1000::BIGINT AS ts, 1100::BIGINT AS end_ts")
    con.execute("""CREATE TABLE host_ranges (rank INTEGER, range_id BIGINT, kind VARCHAR, label VARCHAR,
                   module_group VARCHAR, direction VARCHAR, ts BIGINT, end_ts BIGINT)""")
    con.execute("CREATE TABLE module_layers (path VARCHAR, layer VARCHAR)")
    con.execute("""CREATE TABLE gpu_owners (activity_id BIGINT, rank INTEGER, class VARCHAR, ts BIGINT,
                   end_ts BIGINT, phase VARCHAR, module_path VARCHAR, module_group VARCHAR,
                   direction VARCHAR, annotation_id BIGINT)""")
    con.executemany("INSERT INTO gpu_owners VALUES (?, 0, ?, ?, ?, ?, NULL, ?, ?, NULL)",
                    [a if len(a) == 7 else (*a, None, "fwd") for a in activities])
    run_sql(con, "analysis/attribution.sql")
    return {r[0]: r[1:] for r in con.execute(
        "SELECT owner, duration_ns, share_ns, idle_ns, comm_ns, gpu_ns, overlapped_ns "
        "FROM attribution WHERE dim = ?", [dim]).fetchall()}


def test_three_owners_share_thirds():
    # forward [0,30), backward [10,40) (communication), optimizer [20,50), from 1000 on:
    # k = 1, 2, 3, 2, 1 on the five 10 ns stretches, then idle [1050, 1100)
    got = _attribution([(1, "computation", 1000, 1030, "forward"),
                        (2, "communication", 1010, 1040, "backward"),
                        (3, "computation", 1020, 1050, "optimizer")])
    fwd, bwd, opt, idle = got["forward"], got["backward"], got["optimizer"], got["elsewhere"]
    assert fwd[1] == pytest.approx(10 + 5 + 10 / 3, rel=1e-15)
    assert bwd[1] == pytest.approx(5 + 10 / 3 + 5, rel=1e-15)
    assert opt[1] == pytest.approx(10 / 3 + 5 + 10, rel=1e-15)
    assert bwd[3] == pytest.approx(5 + 10 / 3 + 5, rel=1e-15)  # all of backward's is comm
    assert fwd[3] == 0 and opt[3] == 0
    assert [fwd[4], bwd[4], opt[4]] == [30, 30, 30]            # gpu_ns: own union
    assert [fwd[5], bwd[5], opt[5]] == [20, 30, 20]            # overlapped_ns
    assert idle[0] == 50 and idle[2] == 50                     # idle, no host range: elsewhere


def test_halves_are_exact_and_touching_work_of_one_owner_is_one_island():
    # forward [0,10) and [10,20) touch: one island; backward [5,15): k = 2 on [5,15)
    got = _attribution([(1, "computation", 1000, 1010, "forward"),
                        (2, "computation", 1010, 1020, "forward"),
                        (3, "computation", 1005, 1015, "backward")])
    assert got["forward"][1] == 15.0 and got["backward"][1] == 5.0   # exactly
    assert got["forward"][4] == 20 and got["forward"][5] == 10
    assert got["elsewhere"][2] == 80


LONE_AND_CONCURRENT = [
    (1, "computation", 1000, 1010, "forward"),       # alone
    (2, "communication", 1020, 1040, "forward"),     # with backward over [1030, 1040)
    (3, "computation", 1030, 1050, "backward", "processor", "bwd"),
    (4, "computation", 1060, 1070, "optimizer"),     # alone, touches the next one
    (5, "computation", 1070, 1080, "forward"),       # alone
]


def test_lone_work_and_concurrent_work_add_up():
    got = _attribution(LONE_AND_CONCURRENT)
    fwd, bwd, opt, idle = got["forward"], got["backward"], got["optimizer"], got["elsewhere"]
    assert fwd[1] == 10 + 10 + 5 + 10 and bwd[1] == 5 + 10 and opt[1] == 10
    assert fwd[3] == 10 + 5 and bwd[3] == 0          # forward's [1020,1040) is communication
    assert [fwd[4], bwd[4], opt[4]] == [40, 20, 10]
    assert [fwd[5], bwd[5], opt[5]] == [10, 10, 0]
    assert idle[2] == 100 - 60                        # [1010,1020), [1050,1060), [1080,1100)


def test_module_dir_idle_is_the_window_less_its_own_work():
    # only backward's activity has a module group: alone in that dimension, k = 1 over it
    got = _attribution(LONE_AND_CONCURRENT, dim="module_dir")
    assert got["processor bwd"][1] == 20 and got["processor bwd"][5] == 0
    assert got["elsewhere"][2] == 100 - 20
