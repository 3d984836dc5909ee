-- ingest/perfetto_events.sql (version 1): append one file's Perfetto rows to trace_events.
-- Reads: $path (newline-delimited JSON of perfetto/events.sql rows), $file_id, $rank,
--        $base_ns.   Writes: trace_events (same columns and hot args as kineto_events.sql).
INSERT INTO trace_events
SELECT $file_id, $rank, ph, cat, name, CAST(pid AS VARCHAR), CAST(tid AS VARCHAR),
       ts + $base_ns, dur, args, id, bp, s,
       TRY_CAST(args ->> 'correlation' AS BIGINT),
       TRY_CAST(coalesce(args ->> 'External id', args ->> 'external id') AS BIGINT),
       TRY_CAST(args ->> 'device' AS INTEGER),
       TRY_CAST(args ->> 'stream' AS BIGINT),
       NULL
FROM read_json($path, format = 'newline_delimited',
               columns = {ph: 'VARCHAR', cat: 'VARCHAR', name: 'VARCHAR', pid: 'BIGINT', tid: 'BIGINT',
                          ts: 'BIGINT', dur: 'BIGINT', args: 'JSON', id: 'VARCHAR', bp: 'VARCHAR',
                          s: 'VARCHAR'});
