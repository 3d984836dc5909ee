-- analysis/analysis_window.sql (version 3): the analysis window of each rank.
-- Reads: ranks, batches, events.   Used by: every windowed number.
--
-- DESIGN.md: window = first batch start to last batch end (complete batches only);
-- total = its length; throughput = batches / total. Without batch ranges (neither the batch
-- patterns nor ProfilerStep#N) the window is the trace's span, one batch-less window: from
-- the first start to the last end of the rank's complete events, host and GPU alike (the
-- profiler's own session range, category 'Trace', marks the recording, not work, and is left
-- out); throughput is then missing.
--
-- @table analysis_window  one row per rank (window columns NULL where there is no window)
-- @column rank         rank
-- @column ts           window start, ns
-- @column end_ts       window end, ns
-- @column total_ns     window length, ns
-- @column batches      complete batches (0 in a trace-span window)
-- @column source       'batch_ranges' or 'profiler_steps' (see batches), or 'trace_span' (no
--                      batch ranges: the trace's span)
-- @column throughput   batches per second (it/s); NULL without batches
-- @column missing      why the window cannot be computed (NULL when it can)
-- @column throughput_missing why the throughput cannot be computed (NULL when it can)
CREATE OR REPLACE TABLE analysis_window AS
WITH by_batches AS (
    SELECT r.rank,
           min(b.ts) AS ts, max(b.end_ts) AS end_ts, count(b.ts) AS batches,
           min(b.source) AS source,
           EXISTS (SELECT 1 FROM batches x WHERE x.rank = r.rank) AS has_ranges
    FROM ranks r
    LEFT JOIN batches b ON b.rank = r.rank AND b.complete
    GROUP BY r.rank
),
span AS (
    SELECT rank, min(ts) AS ts, max(ts + dur) AS end_ts
    FROM events
    WHERE ph = 'X' AND dur IS NOT NULL AND coalesce(cat, '') <> 'Trace'
    GROUP BY rank
),
chosen AS (
    SELECT b.rank, b.batches, b.has_ranges,
           CASE WHEN b.has_ranges THEN b.ts ELSE s.ts END AS ts,
           CASE WHEN b.has_ranges THEN b.end_ts ELSE s.end_ts END AS end_ts,
           CASE WHEN b.has_ranges THEN b.source WHEN s.ts IS NOT NULL THEN 'trace_span' END AS source
    FROM by_batches b LEFT JOIN span s USING (rank)
)
SELECT rank, ts, end_ts, end_ts - ts AS total_ns, batches, source,
       CASE WHEN batches > 0 THEN batches / nullif((end_ts - ts) / 1e9, 0) END AS throughput,
       CASE
           WHEN ts IS NOT NULL THEN NULL
           WHEN has_ranges THEN 'every batch range was cut by the end of recording'
           ELSE 'no batch ranges and no complete events to span'
       END AS missing,
       CASE
           WHEN batches > 0 AND end_ts > ts THEN NULL
           WHEN source = 'trace_span'
               THEN 'no batches (no range matches the batch patterns, [pl][profile]run_training_batch '
                    || 'by default, nor ProfilerStep#N): the window is the trace''s span; name the batch ranges with --batch REGEX'
           WHEN has_ranges THEN 'every batch range was cut by the end of recording'
           ELSE 'no batch ranges and no complete events to span'
       END AS throughput_missing
FROM chosen
ORDER BY rank;
