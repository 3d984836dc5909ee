-- intervals/islands.sql (version 4): busy islands (unions of intervals), their edges, the gaps between;
-- which intervals overlap those of another table.
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

-- island_edges(t): the islands of busy_islands(t) as their edges, for sweeps: one row at each
-- island's start (edge +1) and one at its end (edge -1). Here grp must be an integer (the
-- caller numbers its groups). One sort per rank, no grouping: cheaper than busy_islands on
-- millions of rows. The running end is kept as one number, grp · 2^64 + end, so that a
-- window over the whole rank still keeps groups apart (an earlier group's value is smaller).
-- The windows share one total order (rows equal in it are interchangeable).
--
-- @column rank         rank
-- @column grp          the group
-- @column t            the edge's time, ns
-- @column edge         +1 island start, -1 island end
CREATE OR REPLACE MACRO island_edges(t) AS TABLE
WITH runs AS MATERIALIZED (
    SELECT rank, grp, ts, grp::HUGEINT * 18446744073709551616 AS base,
           -- the furthest end of this group's earlier intervals (smaller: none; touching joins)
           max(grp::HUGEINT * 18446744073709551616 + end_ts)
               OVER (PARTITION BY rank ORDER BY grp, ts, end_ts ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS end_before,
           max(grp::HUGEINT * 18446744073709551616 + end_ts)
               OVER (PARTITION BY rank ORDER BY grp, ts, end_ts ROWS UNBOUNDED PRECEDING) AS end_upto,
           lead(grp::HUGEINT * 18446744073709551616 + ts) OVER (PARTITION BY rank ORDER BY grp, ts, end_ts) AS next_start
    FROM query_table(t) WHERE end_ts > ts
)
SELECT rank, grp, ts AS t, 1 AS edge FROM runs
WHERE end_before IS NULL OR end_before < base + ts
UNION ALL
SELECT rank, grp, (end_upto - base)::BIGINT, -1 FROM runs
WHERE next_start IS NULL OR next_start > end_upto;

-- lone_intervals(t): the intervals of table t (columns rank, ts, end_ts) that overlap no other
-- interval of their rank (touching is not overlapping). Such an interval is the only one
-- running over its length, so a sweep over concurrent work can leave it out. Two equal
-- intervals overlap, so (rank, ts, end_ts) names a lone interval.
--
-- @column rank         rank
-- @column ts           start, ns
-- @column end_ts       end, ns
CREATE OR REPLACE MACRO lone_intervals(t) AS TABLE
SELECT rank, ts, end_ts FROM (
    SELECT rank, ts, end_ts,
           max(end_ts) OVER (PARTITION BY rank ORDER BY ts, end_ts
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS end_before,
           lead(ts) OVER (PARTITION BY rank ORDER BY ts, end_ts) AS next_start
    FROM query_table(t) WHERE end_ts > ts
)
WHERE (end_before IS NULL OR end_before <= ts) AND (next_start IS NULL OR next_start >= end_ts);

-- overlap_flags(t, r): each row of table t (columns rank, ts, end_ts, any others) and whether it
-- overlaps an interval of table r (columns rank, ts, end_ts) of its rank (r.ts < end_ts AND
-- r.end_ts > ts: touching is not overlapping). One ASOF look-up per row, not a range join: r
-- overlaps [ts, end_ts) iff among its intervals starting before end_ts the furthest end (reach)
-- lies past ts.
--
-- @column meets        whether the row overlaps an interval of r
CREATE OR REPLACE MACRO overlap_flags(t, r) AS TABLE
SELECT x.*, coalesce(d.reach > x.ts, false) AS meets
FROM query_table(t) x
ASOF LEFT JOIN (
    SELECT rank, ts, max(max(end_ts)) OVER (PARTITION BY rank ORDER BY ts ROWS UNBOUNDED PRECEDING) AS reach
    FROM query_table(r) GROUP BY rank, ts
) d ON d.rank = x.rank AND x.end_ts > d.ts;
