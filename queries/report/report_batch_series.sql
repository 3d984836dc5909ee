-- report/report_batch_series.sql (version 1): the per-batch series and its trend, in seconds.
-- Reads: batch_series, batch_flags, batch_trend, analysis_window.   Used by: anemoi_tp/report, compare.
--
-- @view report_batch_series one row per (rank, batch): its slice of the window (batch_series)
-- @column rank             rank
-- @column batch            batch index (1, 2, …)
-- @column start_s          slice start, s after the rank's window start
-- @column duration_s       slice length, s (the slices partition the window)
-- @column gpu_idle_s       GPU idle in the slice, s
-- @column communication_s  union of communication kernels in the slice, s
-- @column data_loader_s    union of data-loader ranges in the slice, s
-- @column warmup           a warm-up batch (batch_flags; NULL: too few batches)
-- @column outlier          an outlier batch (batch_flags; NULL: too few batches)
CREATE OR REPLACE VIEW report_batch_series AS
SELECT s.rank, s.batch, (s.ts - w.ts) / 1e9 AS start_s, s.duration_ns / 1e9 AS duration_s,
       s.gpu_idle_ns / 1e9 AS gpu_idle_s, s.communication_ns / 1e9 AS communication_s,
       s.data_loader_ns / 1e9 AS data_loader_s, f.warmup, f.outlier
FROM batch_series s JOIN analysis_window w USING (rank)
LEFT JOIN batch_flags f USING (rank, batch)
ORDER BY s.rank, s.batch;

-- @view report_batch_trend one row per rank with a series: drift of batch duration
-- @column rank             rank
-- @column batches          non-warm-up batches fitted
-- @column slope_ms         Theil–Sen slope, ms per batch (NULL: see missing)
-- @column drift_pct_per_batch slope / median duration × 100
-- @column drifting         |drift| ≥ the threshold of analysis/batch_trend.sql
-- @column warmup_batches   warm-up batches
-- @column outlier_batches  outlier batches
-- @column missing          why the slope is missing (NULL when it is not)
CREATE OR REPLACE VIEW report_batch_trend AS
SELECT t.rank, t.batches, t.slope_ns / 1e6 AS slope_ms, t.drift_pct_per_batch, t.drifting,
       (SELECT count(*) FROM batch_flags f WHERE f.rank = t.rank AND f.warmup) AS warmup_batches,
       (SELECT count(*) FROM batch_flags f WHERE f.rank = t.rank AND f.outlier) AS outlier_batches,
       t.missing
FROM batch_trend t
ORDER BY t.rank;
