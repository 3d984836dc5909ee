"""rules/_setup.sql's clear_of_data_loader(t): which gaps overlap a data-loader range, by hand."""
from __future__ import annotations

from anemoi_tp.rules.run import setup_rules

from conftest import EVENTS, load, write_trace


def test_clear_of_data_loader_by_hand(tmp_path):
    # a loaded trace for the tables _setup.sql reads; host_ranges by hand (no analyses)
    con, _ = load(write_trace(tmp_path / "t.json", EVENTS))
    con.execute("CREATE TABLE host_ranges (rank INTEGER, kind VARCHAR, ts BIGINT, end_ts BIGINT)")
    # rank 0's data loading: [10,20), an instant at 30, [50,100) holding [55,60), and two
    # ranges starting together at 200 (ends 205 and 230); an annotation that must not count
    con.execute("""INSERT INTO host_ranges VALUES (0, 'data_loader', 10, 20), (0, 'data_loader', 30, 30),
                   (0, 'data_loader', 50, 100), (0, 'data_loader', 55, 60),
                   (0, 'data_loader', 200, 205), (0, 'data_loader', 200, 230),
                   (0, 'annotation', 40, 45)""")
    setup_rules(con)
    con.execute("""CREATE TABLE gaps AS SELECT * FROM (VALUES
        (0, 0, 10),     -- ends where [10,20) starts: clear
        (0, 20, 25),    -- starts where [10,20) ends: clear
        (0, 25, 35),    -- holds the instant at 30: overlaps
        (0, 15, 16),    -- inside [10,20): overlaps
        (0, 40, 45),    -- between ranges (the annotation does not count): clear
        (0, 70, 80),    -- after [55,60) ends but inside [50,100): overlaps
        (0, 100, 110),  -- starts where [50,100) ends: clear
        (0, 210, 220),  -- inside [200,230), not [200,205): overlaps
        (1, 15, 16)     -- rank 1 loads no data: clear
    ) v(rank, ts, end_ts)""")
    kept = con.execute("SELECT rank, ts, end_ts FROM clear_of_data_loader(gaps) ORDER BY rank, ts").fetchall()
    assert kept == [(0, 0, 10), (0, 20, 25), (0, 40, 45), (0, 100, 110), (1, 15, 16)]
