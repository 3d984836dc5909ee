-- rules/host_bound.sql (version 3): the GPU waits for the host to launch the next kernel.
-- Reads: gpu_activities, gpu_owners, host_ranges (clear_of_data_loader, rules/_setup.sql),
-- analysis_window, rule_thresholds.
-- Writes: findings.
-- A host-bound gap: a gap between GPU busy islands of the window (busy_gaps of all GPU
-- activity clipped to it) whose ending activities (those starting at the gap's end) were all
-- launched only after the gap began: the host had not issued them. The module named is the
-- owner of the one launched first (ties: the smaller activity_id). Gaps that overlap a data-loader range are
-- the data_loader_stall rule's. Fires above host_bound.pct_of_total of the window; names the
-- module whose launches the GPU waited for, and counts kernels shorter than the median launch
-- call (the GPU drains faster than the host can feed it).
CREATE OR REPLACE TEMP TABLE hb_acts AS
SELECT activity_id, rank, 0 AS grp, ts, ts + dur AS end_ts, launch_ts FROM gpu_activities;
CREATE OR REPLACE TEMP TABLE hb_acts_window AS SELECT * FROM clip_to_window(hb_acts);
CREATE OR REPLACE TEMP TABLE hb_all_gaps AS SELECT * FROM busy_gaps(hb_acts_window);
CREATE OR REPLACE TEMP TABLE hb_gaps AS
SELECT g.rank, arg_min(a.activity_id, (a.launch_ts, a.activity_id)) AS activity_id,
       g.ts AS g0, g.end_ts AS g1, min(a.launch_ts) AS launch_ts
FROM clear_of_data_loader(hb_all_gaps) g
JOIN hb_acts_window a ON a.rank = g.rank AND a.ts = g.end_ts
GROUP BY g.rank, g.ts, g.end_ts
HAVING count(a.launch_ts) = count(*) AND min(a.launch_ts) >= g.ts;

INSERT INTO findings
WITH per_rank AS (
    SELECT g.rank, sum(g.g1 - g.g0) AS ns, count(*) AS gaps,
           100.0 * sum(g.g1 - g.g0) / min(w.total_ns) AS pct
    FROM hb_gaps g JOIN analysis_window w USING (rank) GROUP BY g.rank
),
by_module AS (
    SELECT g.rank, coalesce(o.module_path, o.module_group, 'no module (' || o.phase || ')') AS module,
           sum(g.g1 - g.g0) AS ns,
           row_number() OVER (PARTITION BY g.rank ORDER BY sum(g.g1 - g.g0) DESC,
                              coalesce(o.module_path, o.module_group, 'no module (' || o.phase || ')')) AS k
    FROM hb_gaps g JOIN gpu_owners o USING (activity_id)
    GROUP BY g.rank, 2
),
launch AS (
    SELECT rank, median(launch_dur) AS med FROM gpu_activities
    WHERE kind = 'kernel' AND launch_dur IS NOT NULL GROUP BY rank
),
short AS (
    SELECT g.rank, l.med, count(*) AS n
    FROM gpu_activities g JOIN launch l USING (rank) JOIN analysis_window w USING (rank)
    WHERE g.kind = 'kernel' AND g.dur < l.med AND g.ts >= w.ts AND g.ts < w.end_ts
    GROUP BY g.rank, l.med
),
worst AS (SELECT rank, arg_max(g0, (g1 - g0, -g0)) AS g0, max(g1 - g0) AS len FROM hb_gaps GROUP BY rank)
SELECT 'host_bound', severity_of(p.pct, threshold('host_bound', 'pct_of_total')), p.rank, 'module',
       'launch_wait_pct', p.pct, threshold('host_bound', 'pct_of_total'),
       printf('GPU idle %.3f ms (%.1f%% of the window) in %d gaps waiting for the host to launch '
              || 'the next kernel; most before work of %s (%.3f ms); %d kernels are shorter than '
              || 'the median launch call (%.1f µs)',
              p.ns / 1e6, p.pct, p.gaps, m.module, m.ns / 1e6, coalesce(s.n, 0), coalesce(s.med, 0) / 1e3),
       'Make the host launch less per unit of GPU work: CUDA graphs or torch.compile'
       || CASE WHEN m.module LIKE 'no module%' THEN '' ELSE ' for ' || m.module END
       || ', fuse small ops, larger batches or per-GPU work; keep Python and logging off the '
       || 'training loop.',
       perfetto_url(p.rank, wst.g0, wst.g0 + wst.len)
FROM per_rank p
JOIN by_module m ON m.rank = p.rank AND m.k = 1
LEFT JOIN short s ON s.rank = p.rank
LEFT JOIN worst wst ON wst.rank = p.rank
WHERE p.pct >= threshold('host_bound', 'pct_of_total');
