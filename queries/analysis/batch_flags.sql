-- analysis/batch_flags.sql (version 1): warm-up and outlier batches of each rank's series.
-- Reads: batch_series.   Used by: reports, compare.
--
-- Thresholds (declared here, the only place they are set):
--   warm-up: among the first 3 batches, the leading run whose duration exceeds the rank's
--            median batch duration by more than 25 % (start-up: allocator, cuDNN autotune,
--            NCCL communicators); only with 3 or more batches.
--   outlier: a batch that is not warm-up whose duration exceeds the median of the non-warm-up
--            batches by more than 3 MAD (median absolute deviation, not scaled) and by more
--            than 5 % of that median (so identical batches, MAD = 0, flag no jitter); only
--            with 3 or more non-warm-up batches.
--
-- @table batch_flags   one row per batch_series row
-- @column rank         rank
-- @column batch        batch
-- @column warmup       true for a warm-up batch (NULL: fewer than 3 batches)
-- @column outlier      true for an outlier batch (NULL: fewer than 3 non-warm-up batches)
-- @column excess_pct   duration over the non-warm-up median, % of it (NULL: no such median)
CREATE OR REPLACE MACRO bf_warmup_max_batches() AS 3;
CREATE OR REPLACE MACRO bf_warmup_excess() AS 0.25;
CREATE OR REPLACE MACRO bf_outlier_mads() AS 3.0;
CREATE OR REPLACE MACRO bf_outlier_min_excess() AS 0.05;

CREATE OR REPLACE TABLE batch_flags AS
WITH med AS (
    SELECT rank, count(*) AS n, median(duration_ns) AS med FROM batch_series GROUP BY rank
),
slow_start AS (
    SELECT s.rank, s.batch,
           m.n >= 3 AS known,
           s.batch <= bf_warmup_max_batches() AND s.duration_ns > m.med * (1 + bf_warmup_excess()) AS slow
    FROM batch_series s JOIN med m USING (rank)
),
warm AS (
    -- the leading run of slow batches: every batch up to and including it is slow
    SELECT rank, batch, known,
           CASE WHEN known THEN bool_and(slow) OVER (PARTITION BY rank ORDER BY batch
                                                     ROWS UNBOUNDED PRECEDING) END AS warmup
    FROM slow_start
),
steady AS (
    SELECT s.rank, count(*) AS n, median(s.duration_ns) AS med
    FROM batch_series s JOIN warm w USING (rank, batch)
    WHERE NOT coalesce(w.warmup, false)
    GROUP BY s.rank
),
mad AS (
    SELECT s.rank, median(abs(s.duration_ns - st.med)) AS mad
    FROM batch_series s JOIN warm w USING (rank, batch) JOIN steady st USING (rank)
    WHERE NOT coalesce(w.warmup, false)
    GROUP BY s.rank
)
SELECT s.rank, s.batch, w.warmup,
       CASE WHEN st.n >= 3 THEN NOT coalesce(w.warmup, false)
                                AND s.duration_ns > st.med + bf_outlier_mads() * m.mad
                                AND s.duration_ns > st.med * (1 + bf_outlier_min_excess()) END AS outlier,
       100.0 * (s.duration_ns - st.med) / nullif(st.med, 0) AS excess_pct
FROM batch_series s
JOIN warm w USING (rank, batch)
LEFT JOIN steady st USING (rank)
LEFT JOIN mad m USING (rank)
ORDER BY s.rank, s.batch;
