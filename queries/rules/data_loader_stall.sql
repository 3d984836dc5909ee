-- rules/data_loader_stall.sql (version 1): the GPU waits for data.
-- Reads: attribution, analysis_window, host_ranges, rule_thresholds.   Writes: findings.
-- Fires when GPU idle time charged to data loading (phase 'data_loader', idle part: the GPU
-- was idle while a data-loader range was the innermost open range) exceeds
-- data_loader_stall.pct_of_total of the window. Links to the longest fetch.
INSERT INTO findings
WITH stall AS (
    SELECT a.rank, a.idle_ns, w.total_ns, 100.0 * a.idle_ns / w.total_ns AS pct
    FROM attribution a JOIN analysis_window w USING (rank)
    WHERE a.dim = 'phase' AND a.owner = 'data_loader'
),
longest AS (
    SELECT h.rank, arg_max(h.ts, h.end_ts - h.ts) AS ts, max(h.end_ts - h.ts) AS dur, count(*) AS n
    FROM host_ranges h JOIN analysis_window w USING (rank)
    WHERE h.kind = 'data_loader' AND h.ts >= w.ts AND h.ts < w.end_ts
    GROUP BY h.rank
)
SELECT 'data_loader_stall', severity_of(s.pct, threshold('data_loader_stall', 'pct_of_total')),
       s.rank, 'phase', 'gpu_idle_in_data_loading_pct', s.pct,
       threshold('data_loader_stall', 'pct_of_total'),
       printf('GPU idle %.3f ms (%.1f%% of the window) while the host loaded data; longest of %d data-loader ranges: %.3f ms',
              s.idle_ns / 1e6, s.pct, l.n, l.dur / 1e6),
       'Feed the GPU faster: raise DataLoader num_workers, set pin_memory=True, prefetch_factor '
       || '>= 2 and persistent_workers=True; check the dataset read path (zarr chunking, '
       || 'file system) on this rank.',
       perfetto_url(s.rank, l.ts, l.ts + l.dur)
FROM stall s JOIN longest l USING (rank)
WHERE s.pct >= threshold('data_loader_stall', 'pct_of_total');
