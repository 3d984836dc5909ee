-- memory/snapshot_summary.sql (version 3): what a memory snapshot says, in exact bytes.
-- Reads: mem_segments, mem_blocks, mem_trace.   Used by: `anemoi-tp memory`, reports.
--
-- @view mem_pool_summary   one row per (snapshot, device, pool type, pool)
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column segment_type     small | large
-- @column pool             segment_pool_id
-- @column segments         segments
-- @column reserved_bytes   Σ segment total_size (what the caching allocator holds)
-- @column allocated_bytes  Σ size of active_allocated blocks
-- @column requested_bytes  Σ requested_size of active_allocated blocks
-- @column pending_free_bytes Σ size of active_pending_free blocks (freed, stream use pending)
-- @column inactive_bytes   Σ size of inactive (free) blocks inside segments
-- @column largest_free_bytes largest inactive block
-- @column fragmentation_pct inactive / reserved × 100: reserved memory not usable as one block
CREATE OR REPLACE VIEW mem_pool_summary AS
WITH seg AS (
    SELECT snapshot_id, device, segment_type, pool, count(*) AS segments, sum(total_size) AS reserved
    FROM mem_segments GROUP BY ALL
),
blk AS (
    SELECT snapshot_id, device, segment_type, pool,
           coalesce(sum(size) FILTER (WHERE state = 'active_allocated'), 0) AS allocated,
           coalesce(sum(requested_size) FILTER (WHERE state = 'active_allocated'), 0) AS requested,
           coalesce(sum(size) FILTER (WHERE state = 'active_pending_free'), 0) AS pending,
           coalesce(sum(size) FILTER (WHERE state = 'inactive'), 0) AS inactive,
           coalesce(max(size) FILTER (WHERE state = 'inactive'), 0) AS largest_free
    FROM mem_blocks GROUP BY ALL
)
SELECT s.snapshot_id, s.device, s.segment_type, s.pool, s.segments,
       s.reserved AS reserved_bytes, coalesce(b.allocated, 0) AS allocated_bytes,
       coalesce(b.requested, 0) AS requested_bytes, coalesce(b.pending, 0) AS pending_free_bytes,
       coalesce(b.inactive, 0) AS inactive_bytes, coalesce(b.largest_free, 0) AS largest_free_bytes,
       100.0 * coalesce(b.inactive, 0) / nullif(s.reserved, 0) AS fragmentation_pct
FROM seg s LEFT JOIN blk b USING (snapshot_id, device, segment_type, pool)
ORDER BY s.snapshot_id, s.device, s.segment_type, s.pool;

-- @view mem_device_summary  the pools of each device added up (mem_pool_summary's columns
--                           without segment_type and pool)
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column segments         segments
-- @column reserved_bytes   Σ segment total_size
-- @column allocated_bytes  Σ size of active_allocated blocks
-- @column requested_bytes  Σ requested_size of active_allocated blocks
-- @column pending_free_bytes Σ size of active_pending_free blocks
-- @column inactive_bytes   Σ size of inactive (free) blocks inside segments
-- @column largest_free_bytes largest inactive block of any pool
-- @column fragmentation_pct inactive / reserved × 100, over the device's pools
CREATE OR REPLACE VIEW mem_device_summary AS
SELECT snapshot_id, device, sum(segments) AS segments, sum(reserved_bytes) AS reserved_bytes,
       sum(allocated_bytes) AS allocated_bytes, sum(requested_bytes) AS requested_bytes,
       sum(pending_free_bytes) AS pending_free_bytes, sum(inactive_bytes) AS inactive_bytes,
       max(largest_free_bytes) AS largest_free_bytes,
       100.0 * sum(inactive_bytes) / nullif(sum(reserved_bytes), 0) AS fragmentation_pct
FROM mem_pool_summary GROUP BY snapshot_id, device ORDER BY snapshot_id, device;

-- @view mem_peak           peak allocated and reserved bytes over the recorded history
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column start_allocated  allocated bytes before the first recorded event: what is allocated
--                          at the snapshot minus the history's net allocations
-- @column peak_allocated   largest allocated total over the history
-- @column peak_time_us     when it was reached (time_us of that event)
-- @column peak_seq         its position in the history
-- @column peak_frame       the allocation that reached it (user frame, else top frame)
-- @column start_reserved   reserved bytes before the history (same reasoning, segments)
-- @column peak_reserved    largest reserved total over the history
CREATE OR REPLACE VIEW mem_peak AS
WITH now AS (
    SELECT b.snapshot_id, b.device,
           sum(b.size) FILTER (WHERE b.state IN ('active_allocated', 'active_pending_free')) AS allocated
    FROM mem_blocks b GROUP BY ALL
),
now_res AS (SELECT snapshot_id, device, sum(total_size) AS reserved FROM mem_segments GROUP BY ALL),
steps AS (
    SELECT snapshot_id, device, seq, time_us, coalesce(user_frame, top_frame) AS frame,
           CASE action WHEN 'alloc' THEN size WHEN 'free_completed' THEN -size ELSE 0 END AS d_alloc,
           CASE action WHEN 'segment_alloc' THEN size WHEN 'segment_map' THEN size
                       WHEN 'segment_free' THEN -size WHEN 'segment_unmap' THEN -size ELSE 0 END AS d_res
    FROM mem_trace
),
run AS (
    SELECT *, sum(d_alloc) OVER w AS alloc_run, sum(d_res) OVER w AS res_run,
           sum(d_alloc) OVER (PARTITION BY snapshot_id, device) AS alloc_net,
           sum(d_res) OVER (PARTITION BY snapshot_id, device) AS res_net
    FROM steps
    WINDOW w AS (PARTITION BY snapshot_id, device ORDER BY seq ROWS UNBOUNDED PRECEDING)
)
SELECT r.snapshot_id, r.device,
       coalesce(n.allocated, 0) - any_value(r.alloc_net) AS start_allocated,
       coalesce(n.allocated, 0) - any_value(r.alloc_net) + greatest(max(r.alloc_run), 0) AS peak_allocated,
       -- the peak is first reached at the smallest seq with the largest running total
       arg_max(r.time_us, (r.alloc_run, -r.seq)) AS peak_time_us,
       arg_max(r.seq, (r.alloc_run, -r.seq)) AS peak_seq,
       arg_max(r.frame, (r.alloc_run, -r.seq)) AS peak_frame,
       coalesce(nr.reserved, 0) - any_value(r.res_net) AS start_reserved,
       coalesce(nr.reserved, 0) - any_value(r.res_net) + greatest(max(r.res_run), 0) AS peak_reserved
FROM run r
LEFT JOIN now n USING (snapshot_id, device)
LEFT JOIN now_res nr USING (snapshot_id, device)
GROUP BY r.snapshot_id, r.device, n.allocated, nr.reserved
ORDER BY r.snapshot_id, r.device;

-- mem_frame_module(frame): the module group a frame text ('file:line function') names.
-- Class names first: mapper.py's functions (run_processor_chunk…) serve both mappers.
CREATE OR REPLACE MACRO mem_frame_module(frame) AS CASE
    WHEN regexp_matches(frame, 'ForwardMapper') THEN 'encoder'
    WHEN regexp_matches(frame, 'BackwardMapper') THEN 'decoder'
    WHEN regexp_matches(frame, '(GNN|Transformer)Processor') THEN 'processor'
    WHEN regexp_matches(frame, '(^|/)mapper\.py:') THEN NULL
    ELSE nullif(regexp_extract(frame, '(encoder|processor|decoder)', 1), '')
END;

-- @view mem_largest        live allocations, largest first
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column size             bytes
-- @column requested_size   bytes asked for
-- @column segment_type     pool type
-- @column site             where it was allocated (user frame, else top frame)
-- @column module           encoder | processor | decoder when the frame names one: a class
--                          (…ForwardMapper → encoder, …BackwardMapper → decoder, GNN… /
--                          …TransformerProcessor… → processor), else the words in the file or
--                          function name; NULL for Anemoi's mapper.py without a class name
--                          (it holds both mappers)
CREATE OR REPLACE VIEW mem_largest AS
SELECT snapshot_id, device, size, requested_size, segment_type,
       coalesce(user_frame, top_frame, 'unknown') AS site,
       mem_frame_module(coalesce(user_frame, top_frame, '')) AS module
FROM mem_blocks WHERE state = 'active_allocated'
ORDER BY size DESC;

-- @view mem_sites          live allocations grouped by allocation site
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column site             user frame, else top frame
-- @column module           encoder | processor | decoder when the frames name one
-- @column blocks           live blocks allocated there
-- @column bytes            their bytes
CREATE OR REPLACE VIEW mem_sites AS
SELECT snapshot_id, device, site, min(module) AS module, count(*) AS blocks, sum(size) AS bytes
FROM mem_largest GROUP BY snapshot_id, device, site
ORDER BY bytes DESC;

-- @view mem_ooms           out-of-memory events in the history
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column time_us          when
-- @column size             bytes that could not be allocated
-- @column device_free      free device memory then
-- @column site             where
CREATE OR REPLACE VIEW mem_ooms AS
SELECT snapshot_id, device, time_us, size, device_free, coalesce(user_frame, top_frame) AS site
FROM mem_trace WHERE action = 'oom' ORDER BY snapshot_id, device, seq;

-- @view mem_churn          allocation traffic in the history
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column allocs           alloc events
-- @column alloc_bytes      bytes allocated
-- @column frees            free_completed events
-- @column freed_bytes      bytes freed
-- @column segment_allocs   cudaMalloc calls (segment_alloc)
-- @column span_s           time covered by the history, s
-- @column alloc_bytes_per_s alloc_bytes / span_s
CREATE OR REPLACE VIEW mem_churn AS
SELECT snapshot_id, device,
       count(*) FILTER (WHERE action = 'alloc') AS allocs,
       coalesce(sum(size) FILTER (WHERE action = 'alloc'), 0) AS alloc_bytes,
       count(*) FILTER (WHERE action = 'free_completed') AS frees,
       coalesce(sum(size) FILTER (WHERE action = 'free_completed'), 0) AS freed_bytes,
       count(*) FILTER (WHERE action = 'segment_alloc') AS segment_allocs,
       (max(time_us) - min(time_us)) / 1e6 AS span_s,
       coalesce(sum(size) FILTER (WHERE action = 'alloc'), 0)
           / nullif((max(time_us) - min(time_us)) / 1e6, 0) AS alloc_bytes_per_s
FROM mem_trace GROUP BY snapshot_id, device ORDER BY snapshot_id, device;
