-- intervals/clip.sql (version 1): intervals clipped to their rank's analysis window.
-- Reads: analysis_window and the table given.   Used by: gpu_time, attribution, rules, report.
--
-- clip_to_window(t): the rows of table t (columns rank, ts, end_ts, any others) that overlap
-- their rank's window, with ts and end_ts cut to it; ranks without a window have no rows.
-- Intervals of length 0 overlap nothing and are left out.
--
-- @column ts           max(start, window start), ns
-- @column end_ts       min(end, window end), ns
CREATE OR REPLACE MACRO clip_to_window(t) AS TABLE
SELECT x.* REPLACE (greatest(x.ts, w.ts) AS ts, least(x.end_ts, w.end_ts) AS end_ts)
FROM query_table(t) x JOIN analysis_window w ON w.rank = x.rank
WHERE w.ts IS NOT NULL AND x.ts < w.end_ts AND x.end_ts > w.ts AND x.end_ts > x.ts;
