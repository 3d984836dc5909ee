-- rules/pageable_memcpy.sql (version 1): copies from / to pageable host memory.
-- Reads: gpu_activities, gpu_activity_args, analysis_window, rule_thresholds.   Writes: findings.
-- Memcpy activities whose name says Pageable (they are synchronous and slow), summed inside
-- the window, as % of the window.
INSERT INTO findings
WITH m AS (
    SELECT g.rank, count(*) AS n, sum(least(g.ts + g.dur, w.end_ts) - greatest(g.ts, w.ts)) AS ns,
           any_value(w.total_ns) AS total_ns, arg_max(g.ts, g.dur) AS worst_ts, max(g.dur) AS worst_dur,
           sum(TRY_CAST(a.args ->> 'bytes' AS BIGINT)) AS bytes
    FROM gpu_activities g JOIN analysis_window w USING (rank)
    LEFT JOIN gpu_activity_args a USING (activity_id)
    WHERE g.kind = 'memcpy' AND g.name ILIKE '%pageable%' AND g.ts < w.end_ts AND g.ts + g.dur > w.ts
    GROUP BY g.rank
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
