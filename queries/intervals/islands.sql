-- intervals/islands.sql (version 1): busy islands (unions of intervals) and the gaps between.
-- Reads: the table given.   Used by: gpu_time, attribution, rules, report.
--
-- busy_islands(t): table t has columns rank, grp (any value: what is unioned together), ts,
-- end_ts. One row per maximal stretch covered by t's intervals of one (rank, grp); touching
-- intervals (end = next start) join one island.
--
-- @column rank         rank
-- @column grp          the group
-- @column ts           island start, ns
-- @column end_ts       island end, ns
-- @column intervals    how many intervals it joins
CREATE OR REPLACE MACRO busy_islands(t) AS TABLE
SELECT rank, grp, min(ts) AS ts, max(end_ts) AS end_ts, count(*) AS intervals
FROM (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR ts > prev_end THEN 1 ELSE 0 END)
                  OVER (PARTITION BY rank, grp ORDER BY ts, end_ts ROWS UNBOUNDED PRECEDING) AS island
    FROM (
        SELECT rank, grp, ts, end_ts,
               max(end_ts) OVER (PARTITION BY rank, grp ORDER BY ts, end_ts
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
        FROM query_table(t) WHERE end_ts > ts
    )
)
GROUP BY rank, grp, island;

-- busy_gaps(t): the gaps between consecutive islands of one (rank, grp) of table t (same
-- columns as busy_islands); nothing before the first or after the last island.
--
-- @column rank         rank
-- @column grp          the group
-- @column ts           gap start (an island's end), ns
-- @column end_ts       gap end (the next island's start), ns
CREATE OR REPLACE MACRO busy_gaps(t) AS TABLE
SELECT rank, grp, ts, end_ts FROM (
    SELECT rank, grp, end_ts AS ts, lead(ts) OVER (PARTITION BY rank, grp ORDER BY ts) AS end_ts
    FROM busy_islands(t)
)
WHERE end_ts IS NOT NULL;
