-- ingest/gpu_launch_dedupe.sql (version 1): one launch per GPU activity.
-- Reads: gpu_activities.   Run by the loader only when gpu_activities.sql gave an activity
-- several rows (a file with several runtime calls of one correlation id): the earliest call
-- is kept as the launch.
CREATE OR REPLACE TABLE gpu_activities AS
SELECT * FROM gpu_activities
QUALIFY row_number() OVER (PARTITION BY activity_id ORDER BY launch_ts, launch_dur) = 1;
