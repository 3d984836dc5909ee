-- report/report_layers.sql (version 3): the window split per layer (module path at a depth).
-- Reads: attribution (dim 'layer'), owned_activity, analysis_window, host_ranges.   Used by: anemoi_tp/report.
--
-- One row per layer and direction (analysis/module_layers.sql picks the depth): its part of
-- the window (GPU time charged + GPU idle charged: the parts of a rank sum to its window),
-- its own GPU time, its communication and how much of that runs while computation (of any
-- owner) runs. "Which layer causes most GPU idle / communication" is this table sorted.
-- On a rank without GPU activity the GPU columns are NULL (not measured), the part is host time.
-- Ranks without module ranges have no rows: their split would be all 'elsewhere'.
--
-- @table report_layers     one row per (rank, layer, direction), 'elsewhere' last
-- @column rank             rank
-- @column layer            module path, or 'elsewhere' (no module)
-- @column direction        fwd | bwd (NULL for 'elsewhere')
-- @column duration_s       its part of the window, s
-- @column pct              duration / window × 100
-- @column gpu_s            union of its own GPU activity, s
-- @column idle_s           GPU idle charged to it (its host range was open), s
-- @column communication_s  union of its own communication activity, s
-- @column comm_overlap_s   part of communication_s during which computation runs, s
CREATE OR REPLACE TEMP TABLE rl_intervals AS
SELECT rank, {'owner': owner, 'comp': false} AS grp, ts, end_ts
FROM owned_activity WHERE dim = 'layer' AND class = 'communication'
UNION ALL
SELECT rank, {'owner': NULL, 'comp': true}, ts, end_ts
FROM owned_activity WHERE dim = 'layer' AND class = 'computation';
CREATE OR REPLACE TEMP TABLE rl_islands AS SELECT * FROM busy_islands(rl_intervals);

-- Overlap with computation, by a running total rather than pairing each communication island
-- with every computation island of its rank (quadratic): the computation islands of a rank
-- are disjoint, so comp(t) = computation time before t is the length of the islands that end
-- by t plus the part of the one open at t (ASOF: the last island starting at or before t),
-- and an island [ts, end_ts) of communication overlaps computation comp(end_ts) − comp(ts).
CREATE OR REPLACE TEMP TABLE rl_comp AS
SELECT rank, ts, end_ts,
       coalesce(sum(end_ts - ts) OVER (PARTITION BY rank ORDER BY ts
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_ns
FROM rl_islands WHERE grp.comp;
CREATE OR REPLACE TEMP TABLE rl_comm_overlap AS
WITH starts AS (
    SELECT c.rank, c.grp.owner AS owner, c.ts, c.end_ts,
           coalesce(p.before_ns + least(c.ts, p.end_ts) - p.ts, 0) AS comp_before_start
    FROM rl_islands c ASOF LEFT JOIN rl_comp p ON p.rank = c.rank AND p.ts <= c.ts
    WHERE NOT c.grp.comp
)
SELECT s.rank, s.owner,
       sum(coalesce(p.before_ns + least(s.end_ts, p.end_ts) - p.ts, 0) - s.comp_before_start) AS overlap_ns
FROM starts s ASOF LEFT JOIN rl_comp p ON p.rank = s.rank AND p.ts <= s.end_ts
GROUP BY ALL;

CREATE OR REPLACE TABLE report_layers AS
WITH comm AS (
    SELECT rank, grp.owner AS owner, sum(end_ts - ts) AS comm_ns
    FROM rl_islands WHERE NOT grp.comp GROUP BY ALL
),
overlap AS (SELECT * FROM rl_comm_overlap)
SELECT a.rank,
       CASE WHEN a.owner = 'elsewhere' THEN 'elsewhere' ELSE regexp_extract(a.owner, '^(.*) (fwd|bwd)$', 1) END AS layer,
       CASE WHEN a.owner = 'elsewhere' THEN NULL ELSE regexp_extract(a.owner, ' (fwd|bwd)$', 1) END AS direction,
       a.duration_ns / 1e9 AS duration_s,
       100.0 * a.duration_ns / w.total_ns AS pct,
       CASE WHEN gr.rank IS NOT NULL THEN a.gpu_ns / 1e9 END AS gpu_s,
       CASE WHEN gr.rank IS NOT NULL THEN a.idle_ns / 1e9 END AS idle_s,
       CASE WHEN gr.rank IS NOT NULL THEN coalesce(c.comm_ns, 0) / 1e9 END AS communication_s,
       CASE WHEN gr.rank IS NOT NULL THEN coalesce(o.overlap_ns, 0) / 1e9 END AS comm_overlap_s
FROM attribution a JOIN analysis_window w USING (rank)
LEFT JOIN (SELECT DISTINCT rank FROM gpu_activities) gr ON gr.rank = a.rank
LEFT JOIN comm c USING (rank, owner)
LEFT JOIN overlap o USING (rank, owner)
WHERE a.dim = 'layer' AND a.rank IN (SELECT rank FROM host_ranges WHERE kind = 'module')
ORDER BY a.rank, a.owner = 'elsewhere', a.duration_ns DESC, a.owner;
