-- ingest/gpu_activities.sql (version 3): GPU activities joined to their launching call.
-- Reads: trace_events, kernel_class_patterns.   Used by: every GPU time analysis.
--
-- The launch is found by (file, correlation id) among runtime/driver calls, not through ac2g
-- flows: real traces hold thousands of flow ends whose start is missing. Where a file has
-- several runtime calls with one correlation id (not seen in practice) an activity gets a row
-- for each; the loader sees more rows than activities and runs gpu_launch_dedupe.sql, which
-- keeps the earliest call. (Deduplicating every time cost a quarter of this query.)
--
-- @table gpu_activities  one row per kernel, memcpy or memset
-- @column activity_id  unique id of the activity: its row id in trace_events (unique, not
--                      consecutive)
-- @column rank         rank of the trace file
-- @column file_id      trace_files.file_id
-- @column kind         'kernel', 'memcpy' or 'memset'
-- @column class        'computation', 'communication' (kernel_class_patterns) or 'memory'
-- @column name         kernel name or memcpy/memset description
-- @column cat          category as written ('kernel' or 2021's 'Kernel', …)
-- @column device       GPU index (args.device, else the event's pid)
-- @column stream       stream id (args.stream, else the number in the event's tid)
-- @column ts           start, ns on the common clock
-- @column dur          duration, ns
-- @column correlation  args.correlation
-- @column external_id  args."External id" (2021: "external id"): the CPU op that launched it
-- @column launch_name  name of the runtime/driver call that launched it (NULL: not found)
-- @column launch_ts    start of that call, ns
-- @column launch_dur   its duration, ns
-- @column launch_pid   its pid
-- @column launch_tid   its thread
-- @column event_row    rowid + event_base() of the activity in trace_events; its args (grid, block, bytes,
--                      occupancy, …) are in the view gpu_activity_args (not copied here: at
--                      ~300 bytes an activity, copying them took 12 % of a load)
CREATE OR REPLACE TABLE gpu_activities AS
-- the hot args are typed here, for these rows only (json_transform: NULL where a value has
-- another type, e.g. AMD's "stream": "0x0" on runtime calls)
WITH acts AS (
    SELECT rowid + event_base() AS event_row, file_id, rank, cat, name, pid, tid, ts, dur,
           json_transform(args, '{"correlation": "BIGINT", "External id": "BIGINT",
                                  "device": "INTEGER", "stream": "BIGINT"}') AS hot,
           -- 2021 files (capitalised categories) write "external id"; struct keys are
           -- case-insensitive, so it cannot be one more key of the json_transform
           CASE WHEN cat IN ('Kernel', 'Memcpy', 'Memset')
                THEN TRY_CAST(args ->> 'external id' AS BIGINT) END AS external_id_2021
    FROM trace_events
    WHERE issue IS NULL AND ph = 'X'
      AND cat IN ('kernel', 'gpu_memcpy', 'gpu_memset', 'Kernel', 'Memcpy', 'Memset')
),
launches AS (
    SELECT file_id, name, ts, dur, pid, tid,
           json_transform(args, '{"correlation": "BIGINT"}').correlation AS correlation
    FROM trace_events
    WHERE issue IS NULL AND ph = 'X'
      AND cat IN ('cuda_runtime', 'cuda_driver', 'Runtime', 'Driver')
),
-- patterns are matched once per distinct kernel name, not once per kernel
comm_names AS (
    SELECT DISTINCT n.name
    FROM (SELECT DISTINCT name FROM trace_events
          WHERE issue IS NULL AND ph = 'X' AND cat IN ('kernel', 'Kernel')) n
    JOIN kernel_class_patterns p
      ON p.class = 'communication' AND regexp_matches(n.name, '(?i)' || p.pattern)
)
SELECT
    a.event_row AS activity_id,  -- numbering the rows instead was a single-threaded pass
    a.rank, a.file_id,
    CASE WHEN a.cat IN ('kernel', 'Kernel') THEN 'kernel'
         WHEN a.cat IN ('gpu_memcpy', 'Memcpy') THEN 'memcpy'
         ELSE 'memset' END AS kind,
    CASE WHEN a.cat NOT IN ('kernel', 'Kernel') THEN 'memory'
         WHEN c.name IS NOT NULL THEN 'communication'
         ELSE 'computation' END AS class,
    a.name, a.cat,
    coalesce(a.hot.device, TRY_CAST(a.pid AS INTEGER)) AS device,
    CASE WHEN a.hot.stream IS NOT NULL THEN a.hot.stream
         ELSE TRY_CAST(regexp_extract(a.tid, '(\d+)\s*$', 1) AS BIGINT) END AS stream,
    a.ts, a.dur, a.hot.correlation AS correlation,
    coalesce(a.hot."External id", a.external_id_2021) AS external_id,
    l.name AS launch_name, l.ts AS launch_ts, l.dur AS launch_dur,
    l.pid AS launch_pid, l.tid AS launch_tid,
    a.event_row
FROM acts a
LEFT JOIN launches l ON l.file_id = a.file_id AND l.correlation = a.hot.correlation
LEFT JOIN comm_names c ON c.name = a.name;
