-- rules/low_occupancy.sql (version 1): computation time in kernels with low occupancy.
-- Reads: gpu_activities, gpu_activity_args, analysis_window, rule_thresholds.   Writes: findings.
-- Kineto's "est. achieved occupancy %" per kernel (where recorded): the share of the
-- computation kernels' summed time spent in kernels below low_occupancy.occupancy_pct. Fires
-- above low_occupancy.pct_of_compute; names the top kernels by time. Kineto writes 0 where it
-- could not estimate occupancy: 0 counts as unknown, not as low.
INSERT INTO findings
WITH k AS (
    SELECT g.rank, g.name, g.ts, g.dur, nullif(TRY_CAST(a.args ->> 'est. achieved occupancy %' AS DOUBLE), 0) AS occ
    FROM gpu_activities g JOIN analysis_window w USING (rank)
    JOIN gpu_activity_args a USING (activity_id)
    WHERE g.class = 'computation' AND g.ts >= w.ts AND g.ts < w.end_ts
),
per_rank AS (
    SELECT rank, 100.0 * sum(dur) FILTER (WHERE occ < threshold('low_occupancy', 'occupancy_pct'))
                 / sum(dur) AS pct,
           count(occ) AS with_occ
    FROM k GROUP BY rank
),
top AS (
    SELECT rank, string_agg(printf('%s (%.0f%%, %.3f ms)', left(name, 60), occ, ns / 1e6), '; '
                            ORDER BY ns DESC) AS names,
           arg_max(ts0, ns) AS ts0, arg_max(dur0, ns) AS dur0
    FROM (SELECT rank, name, avg(occ) AS occ, sum(dur) AS ns, min(ts) AS ts0, arg_min(dur, ts) AS dur0,
                 row_number() OVER (PARTITION BY rank ORDER BY sum(dur) DESC) AS r
          FROM k WHERE occ < threshold('low_occupancy', 'occupancy_pct') GROUP BY rank, name)
    WHERE r <= 3 GROUP BY rank
)
SELECT 'low_occupancy', severity_of(p.pct, threshold('low_occupancy', 'pct_of_compute')), p.rank,
       'annotation', 'low_occupancy_compute_pct', p.pct, threshold('low_occupancy', 'pct_of_compute'),
       printf('%.1f%% of computation kernel time runs below %.0f%% estimated occupancy: %s',
              p.pct, threshold('low_occupancy', 'occupancy_pct'), t.names),
       'Give these kernels more parallel work (larger batch / graph chunks, fused ops), check '
       || 'registers and shared memory per block, and mixed precision (bf16) for matmuls.',
       perfetto_url(p.rank, t.ts0, t.ts0 + t.dur0)
FROM per_rank p JOIN top t USING (rank)
WHERE p.with_occ > 0 AND p.pct >= threshold('low_occupancy', 'pct_of_compute');
