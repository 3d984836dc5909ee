-- rules/low_occupancy.sql (version 4): computation time in kernels with low occupancy.
-- Reads: gpu_activities, rule_occupancy (rules/_rank_inputs.sql), analysis_window, rule_thresholds.   Writes: findings.
-- Kineto's "est. achieved occupancy %" per kernel (where recorded): the share of the
-- computation kernels' time in the window (clip_to_window) spent in kernels below
-- low_occupancy.occupancy_pct. Fires above low_occupancy.pct_of_compute; names the top kernels
-- by time (ties: by name) and links to the first run of the top one. Kineto writes 0 where it
-- could not estimate occupancy: 0 counts as unknown, not as low.
CREATE OR REPLACE TEMP TABLE lo_kernels AS
SELECT g.activity_id, g.rank, g.name, g.ts, g.ts + g.dur AS end_ts, o.occ
FROM gpu_activities g JOIN rule_occupancy o USING (activity_id);
CREATE OR REPLACE TEMP TABLE lo_kernels_window AS SELECT * FROM clip_to_window(lo_kernels);

INSERT INTO findings
WITH k AS (SELECT *, end_ts - ts AS dur FROM lo_kernels_window),
per_rank AS (
    SELECT rank, 100.0 * sum(dur) FILTER (WHERE occ < threshold('low_occupancy', 'occupancy_pct'))
                 / sum(dur) AS pct,
           count(occ) AS with_occ
    FROM k GROUP BY rank
),
top AS (
    SELECT rank, string_agg(printf('%s (%.0f%%, %.3f ms)', left(name, 60), occ, ns / 1e6), '; '
                            ORDER BY ns DESC, name) AS names,
           arg_min(ts0, r) AS ts0, arg_min(dur0, r) AS dur0
    FROM (SELECT rank, name, avg(occ) AS occ, sum(dur) AS ns, min(ts) AS ts0,
                 arg_min(dur, (ts, activity_id)) AS dur0,
                 row_number() OVER (PARTITION BY rank ORDER BY sum(dur) DESC, name) AS r
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
