-- rules/data_loader_stall.sql (version 2): the GPU waits for data.
-- Reads: attribution, analysis_window, host_ranges, rule_thresholds.   Writes: findings.
-- Fires when GPU idle time charged to data loading (phase 'data_loader', idle part: the GPU
-- was idle while a data-loader range was the innermost open range) exceeds
-- data_loader_stall.pct_of_total of the window. Links to the longest fetch (clipped to the
-- window; ties: the earliest).
CREATE OR REPLACE TEMP TABLE dls_fetches AS
SELECT range_id, rank, ts, end_ts FROM host_ranges WHERE kind = 'data_loader';
CREATE OR REPLACE TEMP TABLE dls_fetches_window AS SELECT * FROM clip_to_window(dls_fetches);

INSERT INTO findings
WITH stall AS (
    SELECT a.rank, a.idle_ns, w.total_ns, 100.0 * a.idle_ns / w.total_ns AS pct
    FROM attribution a JOIN analysis_window w USING (rank)
    WHERE a.dim = 'phase' AND a.owner = 'data_loader'
),
longest AS (
    SELECT rank, arg_max(ts, (end_ts - ts, -ts, -range_id)) AS ts, max(end_ts - ts) AS dur, count(*) AS n
    FROM dls_fetches_window GROUP BY rank
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
