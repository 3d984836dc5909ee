-- ingest/perfetto_events.sql (version 2): append one file's Perfetto rows to trace_events.
-- Reads: $path (newline-delimited JSON of perfetto/events.sql rows), $file_id, $rank,
--        $base_ns.   Writes: trace_events (the same columns as kineto_events.sql).
-- No hive partitioning: key=value segments of the temporary path must not become columns.
INSERT INTO trace_events
SELECT $file_id, $rank, ph, cat, name, CAST(pid AS VARCHAR), CAST(tid AS VARCHAR),
       ts + $base_ns, dur, args, id, bp, s, NULL
FROM read_json($path, format = 'newline_delimited',
               columns = {ph: 'VARCHAR', cat: 'VARCHAR', name: 'VARCHAR', pid: 'BIGINT', tid: 'BIGINT',
                          ts: 'BIGINT', dur: 'BIGINT', args: 'JSON', id: 'VARCHAR', bp: 'VARCHAR',
                          s: 'VARCHAR'},
               hive_partitioning = false);
