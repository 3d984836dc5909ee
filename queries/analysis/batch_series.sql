-- analysis/batch_series.sql (version 2): the window cut into one slice per batch, with its numbers.
-- Reads: batches, analysis_window, gpu_activities, host_ranges.   Used by: reports, compare.
--
-- Batches (batches.sql) may overlap (a batch's GPU tail runs into the next fetch) or leave
-- gaps, so their own spans do not add up to the window. The series uses slices that
-- partition the window instead: slice i = [start of batch i, start of batch i + 1), the last
-- one up to the window end (complete batches only; a window without batches has no slices).
-- Within each slice: GPU active = union of GPU activity, idle = slice − active,
-- communication = union of communication kernels, data loader = union of data-loader host
-- ranges, each clipped to the slice (intervals/clip.sql, intervals/islands.sql). So, per rank,
-- Σ duration = the window's total, Σ gpu_idle = gpu_time.idle_ns, Σ communication =
-- gpu_time.communication_ns and Σ data_loader = gpu_time.data_loader_ns. A rank without any
-- GPU activity in its trace has NULL GPU numbers (not measured, not 0).
--
-- @table batch_series  one row per (rank, complete batch)
-- @column rank         rank
-- @column batch        batches.batch (1, 2, … in time order)
-- @column ts           slice start (the batch's start), ns
-- @column end_ts       slice end (the next batch's start, or the window end), ns
-- @column duration_ns  end_ts − ts
-- @column gpu_active_ns union of GPU activity in the slice, ns (NULL: the rank has no GPU activity)
-- @column gpu_idle_ns  duration − GPU active, ns (NULL: likewise)
-- @column communication_ns union of communication kernels in the slice, ns (NULL: likewise)
-- @column data_loader_ns union of data-loader host ranges in the slice, ns
CREATE OR REPLACE TEMP TABLE bs_slices AS
SELECT b.rank, b.batch, b.ts,
       coalesce(lead(b.ts) OVER (PARTITION BY b.rank ORDER BY b.batch), w.end_ts) AS end_ts
FROM batches b JOIN analysis_window w USING (rank)
WHERE b.complete AND w.source <> 'trace_span';

-- the unions, clipped to the window: what is summed per slice
CREATE OR REPLACE TEMP TABLE bs_intervals AS
SELECT rank, 'gpu' AS grp, ts, ts + dur AS end_ts FROM gpu_activities
UNION ALL
SELECT rank, 'communication', ts, ts + dur FROM gpu_activities WHERE class = 'communication'
UNION ALL
SELECT rank, 'data_loader', ts, end_ts FROM host_ranges WHERE kind = 'data_loader';
CREATE OR REPLACE TEMP TABLE bs_clipped AS SELECT * FROM clip_to_window(bs_intervals);
CREATE OR REPLACE TEMP TABLE bs_islands AS SELECT * FROM busy_islands(bs_clipped);

-- Per slice, the islands' time in it as a difference of running totals, not by pairing each
-- slice with every island of its rank: the islands of one (rank, grp) are disjoint, so
-- busy(t) = their time before t is the length of the islands starting before the last one at
-- or before t (ASOF) plus the part of that one before t, and a slice holds busy(end) − busy(ts).
CREATE OR REPLACE TEMP TABLE bs_running AS
SELECT rank, grp, ts, end_ts,
       coalesce(sum(end_ts - ts) OVER (PARTITION BY rank, grp ORDER BY ts
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_ns
FROM bs_islands;
CREATE OR REPLACE TEMP TABLE bs_bounds AS
SELECT s.rank, s.batch, g.grp, s.ts, s.end_ts
FROM bs_slices s CROSS JOIN (VALUES ('gpu'), ('communication'), ('data_loader')) g(grp);

CREATE OR REPLACE TEMP TABLE bs_parts AS
WITH starts AS (
    SELECT b.rank, b.batch, b.grp, b.end_ts, coalesce(r.before_ns + least(b.ts, r.end_ts) - r.ts, 0) AS at_start
    FROM bs_bounds b ASOF LEFT JOIN bs_running r ON r.rank = b.rank AND r.grp = b.grp AND b.ts >= r.ts
),
parts AS (
    SELECT b.rank, b.batch, b.grp,
           (coalesce(r.before_ns + least(b.end_ts, r.end_ts) - r.ts, 0) - b.at_start)::BIGINT AS ns
    FROM starts b ASOF LEFT JOIN bs_running r ON r.rank = b.rank AND r.grp = b.grp AND b.end_ts >= r.ts
)
SELECT * FROM parts;

CREATE OR REPLACE TABLE batch_series AS
SELECT s.rank, s.batch, s.ts, s.end_ts, s.end_ts - s.ts AS duration_ns,
       CASE WHEN gr.rank IS NOT NULL THEN coalesce(g.ns, 0) END AS gpu_active_ns,
       CASE WHEN gr.rank IS NOT NULL THEN s.end_ts - s.ts - coalesce(g.ns, 0) END AS gpu_idle_ns,
       CASE WHEN gr.rank IS NOT NULL THEN coalesce(c.ns, 0) END AS communication_ns,
       coalesce(d.ns, 0) AS data_loader_ns
FROM bs_slices s
LEFT JOIN (SELECT DISTINCT rank FROM gpu_activities) gr ON gr.rank = s.rank
LEFT JOIN bs_parts g ON g.rank = s.rank AND g.batch = s.batch AND g.grp = 'gpu'
LEFT JOIN bs_parts c ON c.rank = s.rank AND c.batch = s.batch AND c.grp = 'communication'
LEFT JOIN bs_parts d ON d.rank = s.rank AND d.batch = s.batch AND d.grp = 'data_loader'
ORDER BY s.rank, s.batch;
