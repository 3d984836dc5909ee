-- analysis/batches.sql (version 2): training batches per rank, and which of them count.
-- Reads: host_ranges, events, gpu_activities.   Used by: analysis_window, reports.
--
-- DESIGN.md: a batch is one `[pl][profile]run_training_batch` range plus the data-loader fetch
-- that directly precedes it on the same thread (the fetch ranges after the previous batch on
-- that thread ended); it runs from the earlier start to the later of its host end and the end
-- of the GPU work launched inside it (launched by any thread of its process while it is
-- open). Ranks without Lightning batch ranges use ProfilerStep#N ranges instead (no fetch).
-- A batch whose range ends at the `Record Window End` instant (within 1 µs) was cut by the
-- end of recording: it is kept here with complete = false and counts nowhere.
--
-- @table batches       one row per batch range
-- @column rank         rank
-- @column batch        1, 2, … over the complete batches of the rank in time order (NULL if cut)
-- @column source       'batch_ranges' (the batch patterns: run_training_batch) or 'profiler_steps'
--                      (ProfilerStep#N, where a rank has no batch range)
-- @column name         the batch range's name
-- @column pid          its process
-- @column tid          its thread
-- @column ts           batch start: the fetch's start, else the range's start, ns
-- @column range_ts     the batch range's own start, ns
-- @column host_end     the batch range's end, ns
-- @column gpu_end      end of the last GPU activity launched inside it (NULL: none), ns
-- @column end_ts       batch end: the later of host_end and gpu_end, ns
-- @column fetch_ts     start of the data-loader fetch that precedes it (NULL: none), ns
-- @column complete     false for a batch cut by the end of recording
-- Batch ranges and GPU launches are keyed by (process, time) in scratch tables: DuckDB plans
-- the "launched while the range is open" join as an inequality join on plain tables' keys.
CREATE OR REPLACE TEMP TABLE batch_ranges AS
WITH lightning_ranks AS (SELECT DISTINCT rank FROM host_ranges WHERE kind = 'batch'),
ranges AS (
    SELECT range_id, rank, pid, tid, ts, end_ts, name, 'batch_ranges' AS source
    FROM host_ranges WHERE kind = 'batch'
    UNION ALL
    SELECT range_id, rank, pid, tid, ts, end_ts, name, 'profiler_steps'
    FROM host_ranges
    WHERE kind = 'step' AND rank NOT IN (SELECT rank FROM lightning_ranks)
),
proc AS (
    SELECT rank, pid, dense_rank() OVER (ORDER BY rank, pid) AS proc_no
    FROM (SELECT DISTINCT rank, pid FROM ranges)
)
SELECT r.*, p.proc_no, tkey(p.proc_no, r.ts) AS ks, tkey(p.proc_no, r.end_ts) AS ke
FROM ranges r JOIN proc p USING (rank, pid);

CREATE OR REPLACE TEMP TABLE batch_launches AS
SELECT g.ts + g.dur AS end_ts, tkey(p.proc_no, g.launch_ts) AS k
FROM gpu_activities g
JOIN (SELECT DISTINCT rank, pid, proc_no FROM batch_ranges) p
  ON p.rank = g.rank AND p.pid = g.launch_pid;

CREATE OR REPLACE TABLE batches AS
WITH window_end AS (
    SELECT rank, max(ts) AS rwe FROM events
    WHERE name = 'Record Window End' AND ph IN ('i', 'I') GROUP BY rank
),
with_prev AS (
    SELECT *, lag(end_ts) OVER (PARTITION BY rank, pid, tid ORDER BY ts, end_ts, range_id) AS prev_end
    FROM batch_ranges
),
fetches AS (
    SELECT b.range_id, min(d.ts) AS fetch_ts
    FROM with_prev b JOIN host_ranges d
      ON d.kind = 'data_loader' AND d.rank = b.rank AND d.pid = b.pid AND d.tid = b.tid
     AND d.end_ts <= b.ts AND d.ts >= coalesce(b.prev_end, d.ts)
    WHERE b.source = 'batch_ranges'
    GROUP BY b.range_id
),
-- GPU work launched while the range is open (by any thread of its process)
gpu_end AS (
    SELECT b.range_id, max(g.end_ts) AS gpu_end
    FROM batch_ranges b JOIN batch_launches g ON g.k >= b.ks AND g.k < b.ke
    GROUP BY b.range_id
),
assembled AS (
    SELECT r.rank, r.source, r.name, r.pid, r.tid,
           least(r.ts, coalesce(f.fetch_ts, r.ts)) AS ts,
           r.ts AS range_ts, r.end_ts AS host_end, g.gpu_end,
           greatest(r.end_ts, coalesce(g.gpu_end, r.end_ts)) AS end_ts,
           f.fetch_ts,
           NOT coalesce(r.end_ts >= w.rwe - 1000, false) AS complete
    FROM batch_ranges r
    LEFT JOIN fetches f USING (range_id)
    LEFT JOIN gpu_end g USING (range_id)
    LEFT JOIN window_end w USING (rank)
)
SELECT rank,
       CASE WHEN complete THEN row_number() OVER (PARTITION BY rank, complete ORDER BY ts, range_ts, end_ts) END AS batch,
       source, name, pid, tid, ts, range_ts, host_end, gpu_end, end_ts, fetch_ts, complete
FROM assembled
ORDER BY rank, ts;
