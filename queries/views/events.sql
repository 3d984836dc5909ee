-- views/events.sql (version 3): every usable trace event.
-- Reads: trace_events.   Used by: all analyses.
--
-- @view events         one row per trace event of every phase type; events with an issue are
--                      left out here and counted in ingest_issues
-- @column event_id     the event's position in the trace set (file order, then order in the
--                      file): the last tie-break of "innermost" (intervals/order.sql)
-- @column rank         rank of the trace file
-- @column file_id      trace_files.file_id
-- @column ph           phase type (X, B, E, i, I, C, s, t, f, M, …)
-- @column cat          category (NULL where the event has none)
-- @column name         event name
-- @column pid          process id as text (GPU events: the device)
-- @column tid          thread id as text (GPU events: the stream)
-- @column ts           start, integer ns on the common clock
-- @column dur          duration in ns (NULL for events without one)
-- @column args         args as JSON
-- @column id           flow / async id
-- @column bp           flow binding point
-- @column s            instant scope
CREATE OR REPLACE VIEW events AS
SELECT rowid + event_base() AS event_id, rank, file_id, ph, cat, name, pid, tid, ts, dur, args, id, bp, s
FROM trace_events
WHERE issue IS NULL;
