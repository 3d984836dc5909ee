-- ingest/schema.sql (version 3): the canonical tables that ingestion fills.
-- Reads: nothing.   Filled by: ingest/kineto_events.sql (default engine), the Python loader.
--
-- @table trace_files   one row per loaded trace file; a rank has one file, or several
--                      (segments: files of one process, e.g. Anemoi's training and teardown
--                      exports, that claim the same rank)
-- @column file_id      index of the file in load order
-- @column rank         rank: distributedInfo.rank, else the file's position in load order
--                      (files named for one host and pid, Anemoi-style, count once)
-- @column rank_source  'distributedInfo' or 'file order' (where the file names no rank)
-- @column path         the file as given
-- @column json_bytes   size of the uncompressed JSON document
-- @column base_time_ns baseTimeNanoseconds (0 where absent: ts is then epoch µs already)
-- @column metadata     every top-level key except traceEvents and deviceProperties, as JSON
-- @column device_properties  the deviceProperties array, as JSON
-- @column events_read  events in the file's traceEvents array
-- @column name_host    host from an Anemoi file name (<host>_<pid>.None.<ns>.pt.trace.json)
-- @column name_pid     pid from such a file name
-- @column main_pid     the pid with the most CPU events (set after loading)
-- @column start_ns     start of the file's first event (not counting ph M), ns, common clock
-- @column end_ns       end of its last event, ns, common clock
CREATE TABLE IF NOT EXISTS trace_files (
    file_id INTEGER PRIMARY KEY,
    rank INTEGER NOT NULL,
    rank_source VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    json_bytes BIGINT,
    base_time_ns BIGINT NOT NULL,
    metadata JSON,
    device_properties JSON,
    events_read BIGINT,
    name_host VARCHAR,
    name_pid BIGINT,
    main_pid BIGINT,
    start_ns BIGINT,
    end_ns BIGINT
);

-- @table trace_events  one row per trace event of every phase type, before validation.
-- Public view: events (which leaves out the rows with an issue).
-- @column file_id      trace_files.file_id
-- @column rank         rank of the file
-- @column ph           phase type as written (X, B, E, i, I, C, s, t, f, M, …)
-- @column cat          category, NULL where the event has none
-- @column name         event name
-- @column pid          process id as text ('' and labels like 'Spans' occur)
-- @column tid          thread id as text (GPU events: the stream; '' and labels occur)
-- @column ts           start, integer ns on the common clock (baseTimeNanoseconds + ts µs · 1000)
-- @column dur          duration in ns; NULL for events without one
-- @column args         the args object as JSON (the hot keys are typed where they are used:
--                      gpu_activities, the analyses)
-- @column id           flow / async id as text
-- @column bp           flow binding point ('e' = enclosing slice)
-- @column s            instant scope (t, p, g)
-- @column issue        why the event is unusable; NULL for good events
CREATE TABLE IF NOT EXISTS trace_events (
    file_id INTEGER,
    rank INTEGER,
    ph VARCHAR,
    cat VARCHAR,
    name VARCHAR,
    pid VARCHAR,
    tid VARCHAR,
    ts BIGINT,
    dur BIGINT,
    args JSON,
    id VARCHAR,
    bp VARCHAR,
    s VARCHAR,
    issue VARCHAR
);

-- @table ingest_notes  file-level notes written by the loaders (files of the trace folder
--                      that were ignored, engine drops such as Perfetto's stats)
-- @column rank         rank of the file (NULL: no rank, e.g. an ignored file)
-- @column engine       'kineto' or 'perfetto'
-- @column issue        what happened
-- @column events       how many events it concerns (NULL: not about events)
-- @column example      one affected event or detail
-- @column file         the file it is about (NULL: the whole trace set)
CREATE TABLE IF NOT EXISTS ingest_notes (
    rank INTEGER, engine VARCHAR, issue VARCHAR, events BIGINT, example VARCHAR, file VARCHAR
);

-- event_base(): added to trace_events.rowid to make event ids (events.event_id,
-- gpu_activities.event_row / activity_id). 0 where one database holds the whole set; the map
-- of one rank (anemoi_tp/pipeline/rankmap.py) replaces it with its first file_id · 2^40, so
-- the ids of a set's ranks, each loaded on its own, never collide and keep (file, file order).
CREATE MACRO IF NOT EXISTS event_base() AS 0;
