-- rules/pageable_memcpy.sql (version 2): copies from / to pageable host memory.
-- Reads: gpu_activities, gpu_activity_args, analysis_window, rule_thresholds.   Writes: findings.
-- Memcpy activities whose name says Pageable (they are synchronous and slow), summed inside
-- the window (clip_to_window), as % of the window; links to the longest (ties: the earliest).
CREATE OR REPLACE TEMP TABLE pm_copies AS
SELECT g.activity_id, g.rank, g.ts, g.ts + g.dur AS end_ts, TRY_CAST(a.args ->> 'bytes' AS BIGINT) AS bytes
FROM gpu_activities g LEFT JOIN gpu_activity_args a USING (activity_id)
WHERE g.kind = 'memcpy' AND g.name ILIKE '%pageable%';
CREATE OR REPLACE TEMP TABLE pm_copies_window AS SELECT * FROM clip_to_window(pm_copies);

INSERT INTO findings
WITH m AS (
    SELECT c.rank, count(*) AS n, sum(c.end_ts - c.ts) AS ns, min(w.total_ns) AS total_ns,
           arg_max(c.ts, (c.end_ts - c.ts, -c.ts, -c.activity_id)) AS worst_ts,
           max(c.end_ts - c.ts) AS worst_dur, sum(c.bytes) AS bytes
    FROM pm_copies_window c JOIN analysis_window w USING (rank)
    GROUP BY c.rank
)
SELECT 'pageable_memcpy', severity_of(100.0 * ns / total_ns, threshold('pageable_memcpy', 'pct_of_total')),
       rank, 'phase', 'pageable_memcpy_pct', 100.0 * ns / total_ns, threshold('pageable_memcpy', 'pct_of_total'),
       printf('%d copies with pageable host memory take %.3f ms (%.1f%% of the window), %s bytes',
              n, ns / 1e6, 100.0 * ns / total_ns, coalesce(bytes::VARCHAR, '?')),
       'Copy from pinned memory: DataLoader(pin_memory=True), tensor.pin_memory(), and '
       || '.to(device, non_blocking=True).',
       perfetto_url(rank, worst_ts, worst_ts + worst_dur)
FROM m
WHERE 100.0 * ns / total_ns >= threshold('pageable_memcpy', 'pct_of_total');
