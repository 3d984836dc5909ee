-- rules/memory_oom.sql (version 1): an out-of-memory event in a memory snapshot.
-- Reads: mem_trace, memory_snapshots (memory/schema.sql: empty without a snapshot).
-- Writes: findings.
-- One finding per snapshot file and device with `oom` actions in its allocator history: the
-- number of them, the largest failed request, the free memory then and where (user frame,
-- else top frame; of the largest, ties: the earliest). A snapshot carries no rank: rank NULL.
-- Always critical (threshold 1 event): the run died or came close.
INSERT INTO findings
WITH o AS (
    SELECT t.snapshot_id, t.device, count(*) AS n,
           arg_max(t.size, (t.size, -t.seq)) AS size,
           arg_max(t.device_free, (t.size, -t.seq)) AS free,
           arg_max(coalesce(t.user_frame, t.top_frame, 'no frame'), (t.size, -t.seq)) AS site
    FROM mem_trace t WHERE t.action = 'oom' GROUP BY t.snapshot_id, t.device
)
SELECT 'memory_oom', 'critical', NULL, 'memory snapshot', 'oom_events', o.n, 1,
       printf('%s, device %d: %d out-of-memory event(s); the largest request %.1f MiB with %.1f MiB '
              || 'free, at %s', regexp_extract(s.file, '[^/]+$'), o.device, o.n, o.size / 2 ^ 20,
              coalesce(o.free, 0) / 2 ^ 20, o.site),
       'Reduce what is live at the peak: activation checkpointing (Anemoi: model.num_chunks), a '
       || 'smaller batch or graph, bf16; PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True when '
       || 'reserved far exceeds allocated (fragmentation).',
       NULL
FROM o JOIN memory_snapshots s USING (snapshot_id)
ORDER BY o.snapshot_id, o.device;
