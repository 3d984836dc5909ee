-- analysis/gpu_time.sql (version 2): GPU busy, idle, time per class and overlap, per rank.
-- Reads: gpu_activities, analysis_window, host_ranges.   Used by: overview, findings.
--
-- DESIGN.md: GPU activity (kernels, memcpy, memset of the rank) is clipped to the analysis
-- window. Active = length of the union of all activity; idle = total − active. Each class's
-- time is the length of its union. Overlap = length of (union of communication) ∩ (union of
-- computation). Data loader = union of data-loader host ranges in the window.
-- Computed by one sweep over activity starts and ends: between two consecutive instants the
-- number of running activities of each class is constant.
--
-- @table gpu_time          one row per rank with a window
-- @column rank             rank
-- @column total_ns         window length, ns
-- @column active_ns        union of all GPU activity, ns
-- @column idle_ns          total − active, ns
-- @column computation_ns   union of computation kernels, ns
-- @column communication_ns union of communication kernels, ns
-- @column memory_ns        union of memcpy / memset, ns
-- @column overlap_ns       communication ∩ computation, ns
-- @column data_loader_ns   union of data-loader host ranges, ns
-- @column activities       GPU activities in the window (clipped ones included)
CREATE OR REPLACE TEMP TABLE gt_activities AS
SELECT rank, class, ts, ts + dur AS end_ts FROM gpu_activities;
CREATE OR REPLACE TEMP TABLE gt_loader_ranges AS
SELECT rank, 'data_loader' AS grp, ts, end_ts FROM host_ranges WHERE kind = 'data_loader';
CREATE OR REPLACE TEMP TABLE gt_loader AS SELECT * FROM clip_to_window(gt_loader_ranges);

CREATE OR REPLACE TABLE gpu_time AS
WITH clipped AS (SELECT * FROM clip_to_window(gt_activities)),
points AS (
    SELECT rank, t, sum(comp) AS comp, sum(comm) AS comm, sum(mem) AS mem
    FROM (
        SELECT rank, ts AS t, (class = 'computation')::INT AS comp,
               (class = 'communication')::INT AS comm, (class = 'memory')::INT AS mem
        FROM clipped
        UNION ALL
        SELECT rank, end_ts, -(class = 'computation')::INT, -(class = 'communication')::INT,
               -(class = 'memory')::INT
        FROM clipped
    )
    GROUP BY rank, t
),
segments AS (
    SELECT rank, t,
           lead(t) OVER w - t AS len,
           sum(comp) OVER w_run AS comp, sum(comm) OVER w_run AS comm, sum(mem) OVER w_run AS mem
    FROM points
    WINDOW w AS (PARTITION BY rank ORDER BY t),
           w_run AS (PARTITION BY rank ORDER BY t ROWS UNBOUNDED PRECEDING)
),
sums AS (
    SELECT rank,
           sum(len) FILTER (WHERE comp + comm + mem > 0) AS active_ns,
           sum(len) FILTER (WHERE comp > 0) AS computation_ns,
           sum(len) FILTER (WHERE comm > 0) AS communication_ns,
           sum(len) FILTER (WHERE mem > 0) AS memory_ns,
           sum(len) FILTER (WHERE comp > 0 AND comm > 0) AS overlap_ns
    FROM segments WHERE len IS NOT NULL
    GROUP BY rank
),
loader_union AS (
    SELECT rank, sum(end_ts - ts) AS data_loader_ns
    FROM busy_islands(gt_loader) GROUP BY rank
)
SELECT w.rank, w.total_ns,
       coalesce(s.active_ns, 0) AS active_ns,
       w.total_ns - coalesce(s.active_ns, 0) AS idle_ns,
       coalesce(s.computation_ns, 0) AS computation_ns,
       coalesce(s.communication_ns, 0) AS communication_ns,
       coalesce(s.memory_ns, 0) AS memory_ns,
       coalesce(s.overlap_ns, 0) AS overlap_ns,
       coalesce(l.data_loader_ns, 0) AS data_loader_ns,
       (SELECT count(*) FROM clipped c WHERE c.rank = w.rank) AS activities
FROM analysis_window w
LEFT JOIN sums s USING (rank)
LEFT JOIN loader_union l USING (rank)
WHERE w.ts IS NOT NULL
ORDER BY w.rank;
