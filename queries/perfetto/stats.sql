-- perfetto/stats.sql (version 1): PerfettoSQL: what the trace processor dropped or flagged.
-- Reads (trace processor): stats.   Used by: anemoi_tp/ingest/perfetto_loader.py -> ingest_notes.
-- Errors and data losses, and the import stats about slices, flows and JSON; timings left out.
--
-- @column name         stat name (e.g. slice_drop_overlapping_complete_event)
-- @column severity     info | error | data_loss
-- @column value        count
-- @column description  Perfetto's description
SELECT name, severity, value, description
FROM stats
WHERE value > 0
  AND (severity IN ('error', 'data_loss')
       OR name GLOB 'slice_*' OR name GLOB 'flow_*' OR (name GLOB 'json_*' AND name <> 'json_display_time_unit'))
ORDER BY name
