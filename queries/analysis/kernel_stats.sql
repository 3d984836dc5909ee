-- analysis/kernel_stats.sql (version 1): GPU time per kernel name, per rank (the top-N table).
-- Reads: gpu_owners, gpu_activities, gpu_time.   Used by: reports, compare.
--
-- Activities (kernels, memcpy, memset) clipped to the window (intervals/clip.sql); calls are
-- those overlapping it, times their clipped durations. share_pct is of GPU active time (the
-- union of all activity): concurrent kernels each count in full, so shares can sum past 100.
-- Owner: of the phases (module paths) owning the name's activities, the one with the most of
-- its time; ties go to the name that sorts first. Module NULL: none of its time has a module.
--
-- @table kernel_stats  one row per (rank, kernel name)
-- @column rank         rank
-- @column name         kernel (activity) name
-- @column class        computation | communication | memory
-- @column calls        activities in the window
-- @column total_ns     summed duration, ns
-- @column mean_ns      total / calls, ns
-- @column max_ns       longest, ns
-- @column share_pct    total / GPU active time × 100
-- @column phase        the phase owning most of its time
-- @column module       the module path owning most of its time (NULL: none)
CREATE OR REPLACE TEMP TABLE ks_owned AS
SELECT o.rank, a.name, o.class, o.phase, o.module_path, o.ts, o.end_ts
FROM gpu_owners o JOIN gpu_activities a USING (activity_id);

CREATE OR REPLACE TABLE kernel_stats AS
WITH clipped AS (SELECT *, end_ts - ts AS d FROM clip_to_window(ks_owned)),
top_phase AS (
    SELECT rank, name, arg_min(phase, (-t, phase)) AS phase
    FROM (SELECT rank, name, phase, sum(d) AS t FROM clipped GROUP BY ALL) GROUP BY ALL
),
top_module AS (
    SELECT rank, name, arg_min(module_path, (-t, module_path)) AS module
    FROM (SELECT rank, name, module_path, sum(d) AS t FROM clipped
          WHERE module_path IS NOT NULL GROUP BY ALL) GROUP BY ALL
),
main AS (
    SELECT rank, name, min(class) AS class, count(*) AS calls, sum(d)::BIGINT AS total_ns,
           sum(d) / count(*) AS mean_ns, max(d) AS max_ns
    FROM clipped GROUP BY ALL
)
SELECT m.rank, m.name, m.class, m.calls, m.total_ns, m.mean_ns, m.max_ns,
       100.0 * m.total_ns / nullif(g.active_ns, 0) AS share_pct, p.phase, q.module
FROM main m
LEFT JOIN gpu_time g USING (rank)
LEFT JOIN top_phase p USING (rank, name)
LEFT JOIN top_module q USING (rank, name)
ORDER BY m.rank, m.total_ns DESC, m.name;
