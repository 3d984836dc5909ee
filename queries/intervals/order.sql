-- intervals/order.sql (version 1): the one order of nested ranges, and track keys.
-- Reads: nothing.   Used by: every file that picks an innermost range or joins on tracks.
--
-- DESIGN.md: "innermost" is a total order, never a random pick among ties (Kineto timestamps
-- are µs-quantised, so nested ranges often start, or start and end, in the same µs): the
-- range that starts later is inner; at equal start, the one that ends first; at equal start
-- and end, the one later in the file (the larger event_id). innermost_order(ts, end_ts,
-- event_id) is a key that sorts by that order: arg_max(x, innermost_order(…)) picks the
-- innermost range's x, deterministically.
CREATE OR REPLACE MACRO innermost_order(ts, end_ts, event_id) AS
    {'start': ts, 'neg_end': -end_ts, 'event_id': event_id};

-- tkey(n, t): one sortable key for "time t on track n" (a thread, a process, a rank). A range
-- join written on such keys has inequality conditions only, which DuckDB runs as a fast
-- inequality join; with an equality on the track beside the inequalities it would pair every
-- point with every range of its track. ts are epoch ns (< 1e19), so tracks never mix.
CREATE OR REPLACE MACRO tkey(n, t) AS n::HUGEINT * 10000000000000000000 + t;
