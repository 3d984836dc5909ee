-- ingest/finish.sql (version 1): per-file facts computed once all events are in.
-- Reads: trace_events.   Writes: trace_files.events_read, trace_files.main_pid.
UPDATE trace_files f
SET events_read = c.n, main_pid = c.main_pid
FROM (
    SELECT file_id, count(*) AS n,
           mode(TRY_CAST(pid AS BIGINT)) FILTER (
               WHERE cat IN ('cpu_op', 'Operator', 'user_annotation', 'python_function')) AS main_pid
    FROM trace_events GROUP BY file_id
) c
WHERE f.file_id = c.file_id;
