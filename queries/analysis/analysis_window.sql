-- analysis/analysis_window.sql (version 2): the analysis window of each rank.
-- Reads: ranks, batches.   Used by: every windowed number.
--
-- DESIGN.md: window = first batch start to last batch end (complete batches only);
-- total = its length; throughput = batches / total.
--
-- @table analysis_window  one row per rank (window columns NULL where no batch is complete)
-- @column rank         rank
-- @column ts           window start, ns
-- @column end_ts       window end, ns
-- @column total_ns     window length, ns
-- @column batches      complete batches
-- @column source       'batch_ranges' or 'profiler_steps' (see batches)
-- @column throughput   batches per second (it/s)
-- @column missing      why the window cannot be computed (NULL when it can)
CREATE OR REPLACE TABLE analysis_window AS
SELECT r.rank,
       min(b.ts) AS ts,
       max(b.end_ts) AS end_ts,
       max(b.end_ts) - min(b.ts) AS total_ns,
       count(b.ts) AS batches,
       min(b.source) AS source,
       count(b.ts) / nullif((max(b.end_ts) - min(b.ts)) / 1e9, 0) AS throughput,
       CASE
           WHEN count(b.ts) > 0 THEN NULL
           WHEN EXISTS (SELECT 1 FROM batches x WHERE x.rank = r.rank)
               THEN 'every batch range was cut by the end of recording'
           ELSE 'no batch ranges ([pl][profile]run_training_batch or ProfilerStep#N)'
       END AS missing
FROM ranks r
LEFT JOIN batches b ON b.rank = r.rank AND b.complete
GROUP BY r.rank
ORDER BY r.rank;
