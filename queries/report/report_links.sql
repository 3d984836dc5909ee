-- report/report_links.sql (version 1): the spots a report links to, and its GPU timelines.
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
CREATE OR REPLACE VIEW report_links AS
WITH slowest AS (
    SELECT rank, arg_max(batch, end_ts - ts) AS batch, arg_max(ts, end_ts - ts) AS ts,
           arg_max(end_ts, end_ts - ts) AS end_ts
    FROM batches WHERE complete GROUP BY rank
),
busy AS (
    SELECT g.rank, greatest(g.ts, w.ts) AS ts, least(g.ts + g.dur, w.end_ts) AS end_ts
    FROM gpu_activities g JOIN analysis_window w USING (rank)
    WHERE g.ts < w.end_ts AND g.ts + g.dur > w.ts
),
gaps AS (
    SELECT rank, prev_end AS ts, ts AS end_ts
    FROM (SELECT *, max(end_ts) OVER (PARTITION BY rank ORDER BY ts, end_ts
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
          FROM busy)
    WHERE ts > prev_end
),
largest_gap AS (
    SELECT rank, arg_max(ts, end_ts - ts) AS ts, max(end_ts - ts) AS len FROM gaps GROUP BY rank
),
top_annotation AS (
    SELECT a.rank, a.name, h.ts, h.end_ts
    FROM (SELECT rank, arg_max(name, gpu_total_ns) AS name FROM annotation_stats
          WHERE gpu_total_ns > 0 GROUP BY rank) a
    JOIN host_ranges h ON h.rank = a.rank AND h.name = a.name AND h.kind = 'annotation'
    QUALIFY row_number() OVER (PARTITION BY a.rank ORDER BY h.end_ts - h.ts DESC) = 1
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
WITH b AS (SELECT rank, batch, ts, end_ts FROM batches WHERE complete AND batch <= 4),
acts AS (
    SELECT b.rank, b.batch, g.class, greatest(g.ts, b.ts) AS ts, least(g.ts + g.dur, b.end_ts) AS end_ts,
           b.ts AS b0, b.end_ts - b.ts AS batch_ns
    FROM b JOIN gpu_activities g ON g.rank = b.rank AND g.ts < b.end_ts AND g.ts + g.dur > b.ts
),
islands AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR ts > prev_end THEN 1 ELSE 0 END)
                  OVER (PARTITION BY rank, batch, class ORDER BY ts, end_ts ROWS UNBOUNDED PRECEDING) AS k
    FROM (SELECT *, max(end_ts) OVER (PARTITION BY rank, batch, class ORDER BY ts, end_ts
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
          FROM acts)
)
SELECT rank, batch, class, min(ts) - any_value(b0) AS start_ns, max(end_ts) - any_value(b0) AS end_ns,
       any_value(batch_ns) AS batch_ns
FROM islands GROUP BY rank, batch, class, k
ORDER BY rank, batch, class, start_ns;
