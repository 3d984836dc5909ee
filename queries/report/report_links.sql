-- report/report_links.sql (version 2): the spots a report links to, and its GPU timelines.
-- Reads: batches, analysis_window, gpu_activities, gpu_owners, annotation_stats, host_ranges,
--        trace_files (perfetto_url, rules/_setup.sql).   Used by: HTML and Markdown reports.
--
-- @view report_links       one row per linked spot
-- @column rank             rank
-- @column kind             slowest_batch | largest_idle_gap | top_annotation
-- @column label            what it is (batch number, gap length, annotation name)
-- @column ts               start, ns
-- @column end_ts           end, ns
-- @column perfetto_url     ui.perfetto.dev at [ts, end_ts] (served by `anemoi-tp open`)
-- scratch: GPU activity in the window, and per batch, for the interval macros
CREATE OR REPLACE TEMP TABLE rl_activities AS
SELECT rank, 'gpu' AS grp, class, ts, ts + dur AS end_ts FROM gpu_activities;
CREATE OR REPLACE TEMP TABLE rl_busy AS SELECT * FROM clip_to_window(rl_activities);
CREATE OR REPLACE TEMP TABLE rl_batch_activities AS
WITH b AS (SELECT rank, batch, ts, end_ts FROM batches WHERE complete AND batch <= 4)
SELECT b.rank, {'batch': b.batch, 'class': g.class} AS grp,
       greatest(g.ts, b.ts) AS ts, least(g.ts + g.dur, b.end_ts) AS end_ts
FROM b JOIN gpu_activities g ON g.rank = b.rank AND g.ts < b.end_ts AND g.ts + g.dur > b.ts;

CREATE OR REPLACE VIEW report_links AS
WITH slowest AS (
    -- of equally slow batches, the first
    SELECT rank, arg_max(batch, (end_ts - ts, -batch)) AS batch, arg_max(ts, (end_ts - ts, -batch)) AS ts,
           arg_max(end_ts, (end_ts - ts, -batch)) AS end_ts
    FROM batches WHERE complete GROUP BY rank
),
largest_gap AS (
    SELECT rank, arg_max(ts, (end_ts - ts, -ts)) AS ts, max(end_ts - ts) AS len
    FROM busy_gaps(rl_busy) GROUP BY rank
),
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
SELECT rank, 'top_annotation', name, ts, end_ts, perfetto_url(rank, ts, end_ts) FROM top_annotation
ORDER BY rank, kind;

-- @view report_timeline    GPU busy intervals per class for the first batches of each rank
-- @column rank             rank
-- @column batch            batch number (the first four complete batches)
-- @column class            computation | communication | memory
-- @column start_ns         start, ns from the batch's start
-- @column end_ns           end, ns from the batch's start
-- @column batch_ns         the batch's length, ns
CREATE OR REPLACE VIEW report_timeline AS
SELECT i.rank, i.grp.batch AS batch, i.grp.class AS class, i.ts - b.ts AS start_ns,
       i.end_ts - b.ts AS end_ns, b.end_ts - b.ts AS batch_ns
FROM busy_islands(rl_batch_activities) i
JOIN batches b ON b.rank = i.rank AND b.batch = i.grp.batch AND b.complete
ORDER BY rank, batch, class, start_ns;
