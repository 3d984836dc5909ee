-- views/gpu_activity_args.sql (version 2): the args of each GPU activity.
-- Reads: gpu_activities, trace_events.   Used by: rules (occupancy, memcpy bytes), users.
--
-- @view gpu_activity_args one row per GPU activity
-- @column activity_id  gpu_activities.activity_id
-- @column args         its args as JSON (grid, block, registers per thread, shared memory,
--                      est. achieved occupancy %, bytes, memory bandwidth (GB/s), …)
CREATE OR REPLACE VIEW gpu_activity_args AS
SELECT g.activity_id, t.args
FROM gpu_activities g JOIN trace_events t ON t.rowid + event_base() = g.event_row;
