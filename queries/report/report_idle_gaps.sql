-- report/report_idle_gaps.sql (version 1): the largest GPU idle gap of each rank, for the report's links.
-- Reads: gpu_activities, analysis_window.   Used by: report/report_links.sql.
--
-- Per rank (the ranks' maps make it, pipeline/rankmap.py: at 64 ranks the gaps of every GPU
-- activity cost the report seconds): the longest stretch of the window between two stretches of
-- GPU activity (busy_gaps: none before the first or after the last); of equally long ones, the
-- earliest. Ranks without two separate stretches of GPU activity have no row.
--
-- @table report_idle_gaps  one row per rank
-- @column rank             rank
-- @column ts               gap start, ns
-- @column len              gap length, ns
CREATE OR REPLACE TEMP TABLE rig_activities AS
SELECT rank, 'gpu' AS grp, ts, ts + dur AS end_ts FROM gpu_activities;
CREATE OR REPLACE TEMP TABLE rig_busy AS SELECT * FROM clip_to_window(rig_activities);
CREATE OR REPLACE TABLE report_idle_gaps AS
SELECT rank, arg_max(ts, (end_ts - ts, -ts)) AS ts, max(end_ts - ts) AS len
FROM busy_gaps(rig_busy) GROUP BY rank
ORDER BY rank;
