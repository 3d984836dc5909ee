-- ingest/finish.sql (version 2): per-file facts computed once all events are in.
-- Reads: trace_events.   Writes: trace_files.events_read, main_pid, start_ns, end_ns.
-- start_ns / end_ns: the span of the file's usable events other than metadata (ph M), on the
-- common clock; segments of one rank are told apart by it (perfetto_url, ranks).
UPDATE trace_files f
SET events_read = c.n, main_pid = c.main_pid, start_ns = c.start_ns, end_ns = c.end_ns
FROM (
    SELECT file_id, count(*) AS n,
           mode(TRY_CAST(pid AS BIGINT)) FILTER (
               WHERE cat IN ('cpu_op', 'Operator', 'user_annotation', 'python_function')) AS main_pid,
           min(ts) FILTER (WHERE issue IS NULL AND ph <> 'M') AS start_ns,
           max(ts + coalesce(dur, 0)) FILTER (WHERE issue IS NULL AND ph <> 'M') AS end_ns
    FROM trace_events GROUP BY file_id
) c
WHERE f.file_id = c.file_id;
