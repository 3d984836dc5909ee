-- report/report_links.sql (version 6): the spots a report links to, and its GPU timelines.
-- Reads: batches, gpu_activities, report_idle_gaps, annotation_stats, host_ranges (also
--        its data_loader ranges: the timeline's fourth lane),
--        trace_files (perfetto_url, rules/_setup.sql).   Used by: HTML and Markdown reports.
--
-- @view report_links       one row per linked spot
-- @column rank             rank
-- @column kind             slowest_batch | largest_idle_gap | top_annotation
-- @column label            what it is (batch number, gap length, annotation name)
-- @column ts               start, ns
-- @column end_ts           end, ns
-- @column perfetto_url     ui.perfetto.dev at [ts, end_ts] (served by `anemoi-tp open`)
-- scratch: the GPU activity of each shown batch, for the interval macros
-- the batches the timeline shows: of each rank its first, median (lower median; ties: the
-- earlier) and slowest (ties: the earlier) complete batch; where there are more than 16 ranks,
-- the ranks of the 12 slowest batches, the rank of the median one, the fastest and rank 0
-- (ties: the lower rank), so the page stays small at 1000 ranks (the heatmap shows them all).
CREATE OR REPLACE TEMP TABLE rl_ranked AS
SELECT rank, batch, ts, end_ts, end_ts - ts AS len,
       row_number() OVER (PARTITION BY rank ORDER BY end_ts - ts, batch) AS by_len,
       count(*) OVER (PARTITION BY rank) AS n,
       min(batch) OVER (PARTITION BY rank) AS first_batch
FROM batches WHERE complete;
CREATE OR REPLACE TEMP TABLE rl_rank_slowest AS
SELECT rank, max(len) AS slowest FROM rl_ranked GROUP BY rank;
-- ranks a caller wants on the timeline as well (compare: the rank whose step time changed
-- most); empty unless the caller fills it before running this file
CREATE TEMP TABLE IF NOT EXISTS report_focus_ranks (rank INTEGER);
CREATE OR REPLACE TEMP TABLE rl_shown_ranks AS
WITH o AS (SELECT rank, row_number() OVER (ORDER BY slowest DESC, rank) AS pos,
                  count(*) OVER () AS n FROM rl_rank_slowest)
SELECT rank FROM o
WHERE n <= 16 OR pos <= 12 OR pos = (n + 1) // 2 OR pos = n OR rank = (SELECT min(rank) FROM o)
   OR rank IN (SELECT rank FROM report_focus_ranks);
CREATE OR REPLACE TEMP TABLE rl_timeline_batches AS
SELECT r.rank, r.batch, r.ts, r.end_ts,
       list_filter([CASE WHEN r.batch = r.first_batch THEN 'first' END,
                    CASE WHEN r.by_len = (r.n + 1) // 2 THEN 'median' END,
                    CASE WHEN r.by_len = r.n THEN 'slowest' END], lambda x: x IS NOT NULL) AS roles
FROM rl_ranked r JOIN rl_shown_ranks USING (rank)
WHERE r.by_len IN ((r.n + 1) // 2, r.n) OR r.batch = r.first_batch;
CREATE OR REPLACE TEMP TABLE rl_batch_activities AS
SELECT b.rank, {'batch': b.batch, 'class': g.class} AS grp,
       greatest(g.ts, b.ts) AS ts, least(g.ts + g.dur, b.end_ts) AS end_ts
FROM rl_timeline_batches b
JOIN gpu_activities g ON g.rank = b.rank AND g.ts < b.end_ts AND g.ts + g.dur > b.ts
UNION ALL
-- the host's data loading in the batch, a lane of its own (GPU idle beside it shows a stall)
SELECT b.rank, {'batch': b.batch, 'class': 'data_loader'},
       greatest(h.ts, b.ts), least(h.end_ts, b.end_ts)
FROM rl_timeline_batches b
JOIN host_ranges h ON h.rank = b.rank AND h.kind = 'data_loader' AND h.ts < b.end_ts AND h.end_ts > b.ts;

-- the rows, computed once (the report reads them twice: links and section_links)
CREATE OR REPLACE TEMP TABLE rl_links AS
WITH slowest AS (
    -- of equally slow batches, the first
    SELECT rank, arg_max(batch, (end_ts - ts, -batch)) AS batch, arg_max(ts, (end_ts - ts, -batch)) AS ts,
           arg_max(end_ts, (end_ts - ts, -batch)) AS end_ts
    FROM batches WHERE complete GROUP BY rank
),
largest_gap AS (SELECT rank, ts, len FROM report_idle_gaps),
top_annotation AS (
    SELECT a.rank, a.name, h.ts, h.end_ts
    FROM (SELECT rank, arg_max(name, (gpu_total_ns, name)) AS name FROM annotation_stats
          WHERE gpu_total_ns > 0 GROUP BY rank) a
    JOIN host_ranges h ON h.rank = a.rank AND h.name = a.name AND h.kind = 'annotation'
    QUALIFY row_number() OVER (PARTITION BY a.rank ORDER BY h.end_ts - h.ts DESC, h.ts, h.range_id) = 1
)
SELECT rank, 'slowest_batch' AS kind, 'batch ' || batch AS label, ts, end_ts,
       perfetto_url(rank, ts, end_ts) AS perfetto_url FROM slowest
UNION ALL
SELECT rank, 'largest_idle_gap', printf('%.3f ms', len / 1e6), ts, ts + len,
       perfetto_url(rank, ts, ts + len) FROM largest_gap
UNION ALL
SELECT rank, 'top_annotation', name, ts, end_ts, perfetto_url(rank, ts, end_ts) FROM top_annotation;
CREATE OR REPLACE VIEW report_links AS SELECT * FROM rl_links ORDER BY rank, kind;

-- @view report_timeline_batches  the batches the timeline shows (see rl_timeline_batches)
-- @column rank             rank
-- @column batch            batch number
-- @column roles            why it is shown: first, median and / or slowest of its rank
-- @column batch_ns         its length, ns
-- @column perfetto_url     ui.perfetto.dev at the batch
CREATE OR REPLACE VIEW report_timeline_batches AS
SELECT rank, batch, roles, end_ts - ts AS batch_ns, perfetto_url(rank, ts, end_ts) AS perfetto_url
FROM rl_timeline_batches ORDER BY rank, batch;

-- @view report_timeline    GPU busy intervals per class in the shown batches, and the host's
--                          data-loading intervals, merged across
--                          gaps shorter than 1/1000 of the longest shown batch (under a pixel:
--                          the JSON and the page stay small)
-- @column rank             rank
-- @column batch            batch number (report_timeline_batches)
-- @column class            computation | communication | memory (GPU) | data_loader (host)
-- @column start_ns         start, ns from the batch's start
-- @column end_ns           end, ns from the batch's start
-- @column batch_ns         the batch's length, ns
CREATE OR REPLACE TEMP TABLE rl_resolution AS
SELECT greatest(max(end_ts - ts) // 1000, 1) AS r FROM rl_timeline_batches;
-- islands of the activities stretched by the resolution: gaps shorter than it close
CREATE OR REPLACE TEMP TABLE rl_stretched AS
SELECT rank, grp, ts, end_ts + (SELECT r FROM rl_resolution) AS end_ts FROM rl_batch_activities;
CREATE OR REPLACE VIEW report_timeline AS
SELECT i.rank, i.grp.batch AS batch, i.grp.class AS class, i.ts - b.ts AS start_ns,
       least(i.end_ts - (SELECT r FROM rl_resolution), b.end_ts) - b.ts AS end_ns, b.end_ts - b.ts AS batch_ns
FROM busy_islands(rl_stretched) i
JOIN rl_timeline_batches b ON b.rank = i.rank AND b.batch = i.grp.batch
ORDER BY rank, batch, class, start_ns;
