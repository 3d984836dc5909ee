-- analysis/operator_stats.sql (version 5): CPU operators by self (exclusive) time, per rank.
-- Reads: events, is_operator, interval_tracks, analysis_window.   Used by: reports, compare.
--
-- Operators are complete events that is_operator (analysis/range_candidates.sql) takes: cpu_op
-- / Operator, but for the module ranges written as cpu_op (op_ranges). On each thread, the op
-- boundaries (every start and end, and the window's ends) cut time into segments; a segment
-- belongs to the innermost op open over it (intervals/innermost.sql, the one order of
-- intervals/order.sql), so nested ops' self times on a thread never overlap and sum to the
-- time any op is open. Only segments inside the window count. Calls: ops overlapping the
-- window; total: their summed durations clipped to the window (inclusive: an op nested in one
-- of the same name counts twice).
--
-- @table operator_stats one row per (rank, operator name)
-- @column rank         rank
-- @column name         operator name
-- @column calls        ops overlapping the window
-- @column self_ns      time it is the innermost open op on its thread, in the window, ns
-- @column total_ns     summed (inclusive) durations clipped to the window, ns
-- @column mean_self_ns self_ns / calls, ns
CREATE OR REPLACE TEMP TABLE os_ops AS
SELECT e.event_id AS range_id, e.event_id, e.rank, e.name, e.ts, e.ts + e.dur AS end_ts,
       t.thread_no, tkey(t.thread_no, e.ts) AS ks, tkey(t.thread_no, e.ts + e.dur) AS ke
FROM events e JOIN interval_tracks t USING (rank, pid, tid)
JOIN analysis_window w ON w.rank = e.rank
WHERE e.ph = 'X' AND is_operator(e.cat, e.name) AND e.dur > 0
  AND w.ts IS NOT NULL AND e.ts < w.end_ts AND e.ts + e.dur > w.ts;

-- segment starts: every boundary of the thread's ops and the window ends, up to the next one.
-- One sorted pass over the boundaries: at a time t several rows may meet; the last in this
-- order gets the segment (the others length 0). depth (ops open) counts every row up to it and
-- its peers (the default frame), so it does not depend on the order among equal rows. A segment starting where an op starts belongs
-- to the innermost op starting there (intervals/order.sql: any op open at t that started
-- earlier is outer), sorted last: the shortest, then the later in the file. Other segments
-- need the innermost_enclosing search, and only where an op is open (depth > 0).
CREATE OR REPLACE TEMP TABLE os_segments AS
WITH bounds AS (
    SELECT rank, thread_no, ts AS t, range_id AS starter, -end_ts AS neg_end, event_id, 1 AS dx FROM os_ops
    UNION ALL
    SELECT rank, thread_no, end_ts, NULL, NULL, NULL, -1 FROM os_ops
    UNION ALL
    SELECT o.rank, o.thread_no, unnest([w.ts, w.end_ts]), NULL, NULL, NULL, 0
    FROM (SELECT DISTINCT rank, thread_no FROM os_ops) o JOIN analysis_window w USING (rank)
)
SELECT rank, thread_no, t, starter, lead(t) OVER s - t AS len,
       sum(dx) OVER s AS depth
FROM bounds
WINDOW s AS (PARTITION BY rank, thread_no ORDER BY t, starter IS NOT NULL, neg_end, event_id);
CREATE OR REPLACE TEMP TABLE os_points AS
SELECT s.starter, tkey(s.thread_no, s.t) AS point_id, tkey(s.thread_no, s.t) AS k, s.len, s.depth
FROM os_segments s JOIN analysis_window w USING (rank)
WHERE s.len > 0 AND s.t >= w.ts AND s.t < w.end_ts;
CREATE OR REPLACE TEMP TABLE os_inner_points AS
SELECT point_id, k, len FROM os_points WHERE starter IS NULL AND depth > 0;
-- each segment with its owner op
CREATE OR REPLACE TEMP TABLE os_owned AS
SELECT starter AS range_id, len FROM os_points WHERE starter IS NOT NULL
UNION ALL
SELECT x.range_id, p.len
FROM innermost_enclosing(os_inner_points, os_ops) x JOIN os_inner_points p USING (point_id);

CREATE OR REPLACE TABLE operator_stats AS
WITH self AS (
    SELECT o.rank, o.name, sum(p.len)::BIGINT AS self_ns
    FROM os_owned p JOIN os_ops o USING (range_id)
    GROUP BY ALL
),
calls AS (
    SELECT o.rank, o.name, count(*) AS calls,
           sum(least(o.end_ts, w.end_ts) - greatest(o.ts, w.ts))::BIGINT AS total_ns
    FROM os_ops o JOIN analysis_window w USING (rank)
    GROUP BY ALL
)
SELECT c.rank, c.name, c.calls, coalesce(s.self_ns, 0) AS self_ns, c.total_ns,
       coalesce(s.self_ns, 0) / c.calls AS mean_self_ns
FROM calls c LEFT JOIN self s USING (rank, name)
ORDER BY c.rank, self_ns DESC, c.name;
