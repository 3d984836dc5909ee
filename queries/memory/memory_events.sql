-- memory/memory_events.sql (version 3): memory over time from `[memory]` events.
-- Reads: events, batches, analysis_window, host_ranges (after the analyses).
-- Used by: `anemoi-tp memory`, reports.
-- `profile_memory=True` traces record one `[memory]` instant per allocation / free with
-- args Bytes (negative on free), Total Allocated, Total Reserved, Device Type (0 CPU, 1 CUDA),
-- Device Id. Growth is charged to the innermost phase and module range open on the
-- allocating thread at that instant (intervals/order.sql), else 'elsewhere'.
--
-- @table memory_timeline   one row per [memory] event
-- @column rank             rank
-- @column device           'cpu' or 'cuda:<Device Id>'
-- @column pid              process
-- @column tid              thread
-- @column ts               when, ns
-- @column bytes            Bytes: allocated (> 0) or freed (< 0)
-- @column total_allocated  Total Allocated after the event
-- @column total_reserved   Total Reserved after the event
CREATE OR REPLACE TABLE memory_timeline AS
SELECT rank,
       CASE TRY_CAST(args ->> 'Device Type' AS INTEGER) WHEN 0 THEN 'cpu'
            WHEN 1 THEN 'cuda:' || coalesce(args ->> 'Device Id', '?')
            ELSE 'type ' || coalesce(args ->> 'Device Type', '?') || ':' || coalesce(args ->> 'Device Id', '?') END AS device,
       pid, tid, ts,
       TRY_CAST(args ->> 'Bytes' AS BIGINT) AS bytes,
       TRY_CAST(args ->> 'Total Allocated' AS BIGINT) AS total_allocated,
       TRY_CAST(args ->> 'Total Reserved' AS BIGINT) AS total_reserved
FROM events
WHERE name = '[memory]' AND ph IN ('i', 'I');

-- @table memory_peaks      per (rank, device): the largest totals, over the whole trace
-- @column rank             rank
-- @column device           cpu | cuda:N
-- @column events           [memory] events
-- @column peak_allocated   max Total Allocated
-- @column peak_ts          when it was first reached, ns
-- @column peak_reserved    max Total Reserved
-- @column allocated_bytes  Σ Bytes of allocations
-- @column freed_bytes      Σ −Bytes of frees
CREATE OR REPLACE TABLE memory_peaks AS
SELECT rank, device, count(*) AS events, max(total_allocated) AS peak_allocated,
       arg_min(ts, (-total_allocated, ts)) AS peak_ts, max(total_reserved) AS peak_reserved,
       coalesce(sum(bytes) FILTER (WHERE bytes > 0), 0) AS allocated_bytes,
       coalesce(-sum(bytes) FILTER (WHERE bytes < 0), 0) AS freed_bytes
FROM memory_timeline GROUP BY rank, device ORDER BY rank, device;

-- @table memory_batch_peaks one row per (complete batch, device)
-- @column rank             rank
-- @column batch            batch number
-- @column device           cpu | cuda:N
-- @column peak_allocated   max Total Allocated during the batch
-- @column allocated_bytes  bytes allocated during the batch (churn)
-- @column net_bytes        allocated − freed during the batch
CREATE OR REPLACE TABLE memory_batch_peaks AS
SELECT b.rank, b.batch, m.device, max(m.total_allocated) AS peak_allocated,
       coalesce(sum(m.bytes) FILTER (WHERE m.bytes > 0), 0) AS allocated_bytes,
       coalesce(sum(m.bytes), 0) AS net_bytes
FROM batches b JOIN memory_timeline m ON m.rank = b.rank AND m.ts >= b.ts AND m.ts < b.end_ts
WHERE b.complete
GROUP BY b.rank, b.batch, m.device ORDER BY b.rank, b.batch, m.device;

-- scratch: events and ranges keyed by (thread, time) for the inequality join
-- ([memory] instants are not complete events: their threads may have no track number yet)
CREATE OR REPLACE TEMP TABLE mem_tracks AS
SELECT rank, pid, tid, coalesce(t.thread_no, -row_number() OVER (ORDER BY rank, pid, tid)) AS n
FROM (SELECT DISTINCT rank, pid, tid FROM memory_timeline) m
LEFT JOIN interval_tracks t USING (rank, pid, tid);
CREATE OR REPLACE TEMP TABLE mem_keyed AS
SELECT m.*, row_number() OVER () AS point_id, tkey(t.n, m.ts) AS k
FROM memory_timeline m JOIN mem_tracks t USING (rank, pid, tid)
JOIN analysis_window w ON w.rank = m.rank AND m.ts >= w.ts AND m.ts < w.end_ts;
CREATE OR REPLACE TEMP TABLE mem_phase_ranges AS
SELECT h.range_id, h.range_id AS event_id, h.label, h.ts, h.end_ts,
       tkey(t.n, h.ts) AS ks, tkey(t.n, h.end_ts) AS ke
FROM host_ranges h JOIN mem_tracks t USING (rank, pid, tid) WHERE h.kind = 'phase';
CREATE OR REPLACE TEMP TABLE mem_module_ranges AS
SELECT h.range_id, h.range_id AS event_id, coalesce(h.module_group, 'elsewhere') AS label, h.ts,
       h.end_ts, tkey(t.n, h.ts) AS ks, tkey(t.n, h.end_ts) AS ke
FROM host_ranges h JOIN mem_tracks t USING (rank, pid, tid) WHERE h.kind = 'module';

-- @table memory_growth     net bytes allocated in the window, per owner
-- @column rank             rank
-- @column device           cpu | cuda:N
-- @column dim              'phase' or 'module'
-- @column owner            phase or module group ('elsewhere': no range open)
-- @column allocated_bytes  Σ Bytes of its allocations
-- @column freed_bytes      Σ −Bytes of its frees
-- @column net_bytes        allocated − freed: how much its work grew memory
CREATE OR REPLACE TABLE memory_growth AS
WITH phase_of AS (
    SELECT x.point_id AS id, r.label AS owner
    FROM innermost_enclosing(mem_keyed, mem_phase_ranges) x JOIN mem_phase_ranges r USING (range_id)
),
module_of AS (
    SELECT x.point_id AS id, r.label AS owner
    FROM innermost_enclosing(mem_keyed, mem_module_ranges) x JOIN mem_module_ranges r USING (range_id)
),
owned AS (
    SELECT m.rank, m.device, 'phase' AS dim, coalesce(p.owner, 'elsewhere') AS owner, m.bytes
    FROM mem_keyed m LEFT JOIN phase_of p ON p.id = m.point_id
    UNION ALL
    SELECT m.rank, m.device, 'module', coalesce(o.owner, 'elsewhere'), m.bytes
    FROM mem_keyed m LEFT JOIN module_of o ON o.id = m.point_id
)
SELECT rank, device, dim, owner,
       coalesce(sum(bytes) FILTER (WHERE bytes > 0), 0) AS allocated_bytes,
       coalesce(-sum(bytes) FILTER (WHERE bytes < 0), 0) AS freed_bytes,
       coalesce(sum(bytes), 0) AS net_bytes
FROM owned GROUP BY ALL ORDER BY rank, device, dim, net_bytes DESC, owner;
