-- perfetto/events.sql (version 1): PerfettoSQL, run inside the trace processor: its tables
-- as rows of the canonical trace_events (see ingest/schema.sql).
-- Reads (trace processor): slice, thread_track, thread, process_track, process, args, flow,
-- counter, counter_track.   Used by: anemoi_tp/ingest/perfetto_loader.py.
--
-- Slices are complete events ('X'); Perfetto imports instant events as slices of zero
-- duration, so a zero-length slice without category (or 'cpu_instant_event', Kineto's
-- [memory] events) is an instant ('i'). Flows become an 's' row at the slice they leave and
-- an 'f' row at the slice they reach (ids are Perfetto's; flows missing an end are not kept
-- by Perfetto, its stats count them). Args are rebuilt as a flat JSON object: nested keys
-- keep Perfetto's flattened names ("grid[0]").
--
-- @column ph     X | i | s | f | C
-- @column cat    category
-- @column name   name
-- @column pid    process id (Perfetto's numbering for non-numeric pids)
-- @column tid    thread id
-- @column ts     ns as Perfetto numbers them (the JSON µs · 1000; baseTimeNanoseconds not added)
-- @column dur    ns
-- @column args   JSON object text
-- @column id     flow id
-- @column bp     flow binding point
-- @column s      instant scope
WITH owner AS (
    SELECT s.id AS slice_id, t.tid, p.pid
    FROM slice s
    LEFT JOIN thread_track tt ON tt.id = s.track_id
    LEFT JOIN thread t USING (utid)
    LEFT JOIN process_track pt ON pt.id = s.track_id
    LEFT JOIN process p ON p.upid = coalesce(t.upid, pt.upid)
)
SELECT CASE WHEN s.dur = 0 AND (s.category IS NULL OR s.category = 'cpu_instant_event') THEN 'i'
            ELSE 'X' END AS ph,
       s.category AS cat, s.name, o.pid, o.tid, s.ts,
       CASE WHEN s.dur = 0 AND (s.category IS NULL OR s.category = 'cpu_instant_event') THEN NULL
            ELSE s.dur END AS dur,
       (SELECT json_group_object(substr(a.key, 6), coalesce(a.int_value, a.string_value, a.real_value))
        FROM args a WHERE a.arg_set_id = s.arg_set_id AND a.key GLOB 'args.*') AS args,
       NULL AS id, NULL AS bp, NULL AS s
FROM slice s JOIN owner o ON o.slice_id = s.id
UNION ALL
SELECT 's', 'flow', 'flow', o.pid, o.tid, s.ts, NULL, NULL, CAST(f.id AS TEXT), NULL, NULL
FROM flow f JOIN slice s ON s.id = f.slice_out JOIN owner o ON o.slice_id = s.id
UNION ALL
SELECT 'f', 'flow', 'flow', o.pid, o.tid, s.ts, NULL, NULL, CAST(f.id AS TEXT), 'e', NULL
FROM flow f JOIN slice s ON s.id = f.slice_in JOIN owner o ON o.slice_id = s.id
UNION ALL
SELECT 'C', NULL, t.name, NULL, NULL, c.ts, NULL, json_object('value', c.value), NULL, NULL, NULL
FROM counter c JOIN counter_track t ON t.id = c.track_id
