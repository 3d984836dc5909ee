-- analysis/rank_facts.sql (version 1): what each rank's trace holds, counted once where the rank is.
-- Reads: ranks, analysis_window, gpu_activities, host_ranges, gpu_owners.
-- Used by: report/report_views.sql (which numbers are missing, and why), rules/_rank_inputs.sql.
--
-- Each rank's map makes it from the rank's own tables, so the reduce and the report read one
-- row per rank instead of scanning every rank's activities and ranges again for each view
-- that asks whether a rank has any.
--
-- @table rank_facts          one row per rank
-- @column rank               rank
-- @column gpu_activities     GPU activities (kernels, memcpy, memset) in the trace
-- @column gpu_in_window      GPU activities overlapping the analysis window (0 without a window)
-- @column data_loader_ranges host ranges of kind data_loader
-- @column phase_ranges       host ranges of kind phase
-- @column module_ranges      host ranges of kind module
-- @column owned_by_phase     GPU activities whose phase (gpu_owners) is not 'elsewhere'
CREATE OR REPLACE TABLE rank_facts AS
WITH g AS (
    SELECT a.rank, count(*) AS n,
           count(*) FILTER (WHERE w.ts IS NOT NULL AND a.ts < w.end_ts AND a.ts + a.dur > w.ts) AS in_window
    FROM gpu_activities a LEFT JOIN analysis_window w USING (rank) GROUP BY a.rank
),
h AS (
    SELECT rank, count(*) FILTER (WHERE kind = 'data_loader') AS data_loader,
           count(*) FILTER (WHERE kind = 'phase') AS phase,
           count(*) FILTER (WHERE kind = 'module') AS module
    FROM host_ranges GROUP BY rank
),
o AS (SELECT rank, count(*) AS n FROM gpu_owners WHERE phase <> 'elsewhere' GROUP BY rank)
SELECT r.rank, coalesce(g.n, 0) AS gpu_activities, coalesce(g.in_window, 0) AS gpu_in_window,
       coalesce(h.data_loader, 0) AS data_loader_ranges, coalesce(h.phase, 0) AS phase_ranges,
       coalesce(h.module, 0) AS module_ranges, coalesce(o.n, 0) AS owned_by_phase
FROM ranks r LEFT JOIN g USING (rank) LEFT JOIN h USING (rank) LEFT JOIN o USING (rank)
ORDER BY r.rank;
