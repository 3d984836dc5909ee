-- analysis/batch_trend.sql (version 1): drift of batch duration over the run, per rank.
-- Reads: batch_series, batch_flags.   Used by: reports, compare.
--
-- Theil–Sen slope over the non-warm-up batches: the median, over all pairs i < j, of
-- (duration_j − duration_i) / (j − i); robust to a few outliers. As % of the median duration
-- per batch. Threshold (declared here): drifting when |slope| ≥ 1 % of the median per batch,
-- with at least 4 non-warm-up batches (fewer: slope NULL, with the reason).
--
-- @table batch_trend   one row per rank with a batch series
-- @column rank         rank
-- @column batches      non-warm-up batches the trend is fitted on
-- @column slope_ns     Theil–Sen slope, ns per batch (NULL: fewer than 4 batches)
-- @column drift_pct_per_batch slope / median duration × 100
-- @column drifting     |drift_pct_per_batch| ≥ 1 (NULL where the slope is)
-- @column missing      why the slope cannot be computed (NULL when it can)
CREATE OR REPLACE MACRO bt_min_batches() AS 4;
CREATE OR REPLACE MACRO bt_drift_pct() AS 1.0;

CREATE OR REPLACE TABLE batch_trend AS
WITH steady AS (
    SELECT s.rank, s.batch, s.duration_ns
    FROM batch_series s JOIN batch_flags f USING (rank, batch)
    WHERE NOT coalesce(f.warmup, false)
),
stats AS (
    SELECT rank, count(*) AS n, median(duration_ns) AS med FROM steady GROUP BY rank
),
slopes AS (
    SELECT a.rank, median((b.duration_ns - a.duration_ns) / (b.batch - a.batch)) AS slope
    FROM steady a JOIN steady b ON a.rank = b.rank AND a.batch < b.batch
    GROUP BY a.rank
),
fitted AS (
    SELECT s.rank, s.n, CASE WHEN s.n >= bt_min_batches() THEN p.slope END AS slope, s.med
    FROM stats s LEFT JOIN slopes p USING (rank)
)
SELECT rank, n AS batches, slope AS slope_ns,
       100.0 * slope / nullif(med, 0) AS drift_pct_per_batch,
       abs(100.0 * slope / nullif(med, 0)) >= bt_drift_pct() AS drifting,
       CASE WHEN slope IS NULL THEN 'needs ' || bt_min_batches() || ' or more batches after warm-up, has ' || n END AS missing
FROM fitted
ORDER BY rank;
