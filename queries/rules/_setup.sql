-- rules/_setup.sql (version 9): the bottleneck rules' macros (thresholds: _thresholds.sql), the deep-link macro and
-- the data-loading filter of GPU gaps (per-rank inputs: _rank_inputs.sql).
-- Reads: trace_files, host_ranges.   Used by: every queries/rules/*.sql.
--
CREATE OR REPLACE MACRO threshold(r, n) AS
    (SELECT value FROM rule_thresholds WHERE rule = r AND name = n);

-- Severity of a value against its threshold: critical from twice the threshold.
CREATE OR REPLACE MACRO severity_of(v, t) AS
    CASE WHEN v >= 2 * t THEN 'critical' WHEN v >= t THEN 'warning' END;

-- ui.perfetto.dev at [t0, t1] of a rank's trace, served by `anemoi-tp open` on 127.0.0.1:9001.
-- The UI numbers a JSON trace's time as its ts µs · 1000, i.e. our ns minus baseTimeNanoseconds.
-- A rank of several files (segments) links to the file whose span holds t0; failing that, the
-- last one started before t0, else the first.
CREATE OR REPLACE MACRO perfetto_url(r, t0, t1) AS (
    SELECT 'https://ui.perfetto.dev/#!/?url='
           || url_encode('http://127.0.0.1:9001/' || regexp_extract(path, '[^/]+$'))
           || '&visStart=' || CAST(t0 - base_time_ns AS BIGINT)
           || '&visEnd=' || CAST(t1 - base_time_ns AS BIGINT)
    FROM trace_files WHERE rank = r
    ORDER BY coalesce(start_ns <= t0 AND t0 <= end_ns, false) DESC,
             coalesce(start_ns <= t0, false) DESC,
             CASE WHEN start_ns <= t0 THEN -start_ns ELSE start_ns END NULLS LAST, file_id
    LIMIT 1
);

-- clear_of_data_loader(t): the rows of table t (columns rank, ts, end_ts, any others) that
-- overlap no data-loader host range of their rank (d.ts < end_ts AND d.end_ts > ts), as
-- host_bound and sync_on_critical_path leave those gaps to data_loader_stall. One ASOF
-- look-up per row, not a range join: a range overlaps [ts, end_ts) iff among the ranges
-- starting before end_ts the furthest end (reach) lies past ts. (Not overlap_flags of
-- intervals/islands.sql: that takes the ranges as a named relation, and a view of the data-loader
-- ranges made here would bind host_ranges when the rules are set up, not when they run.)
CREATE OR REPLACE MACRO clear_of_data_loader(t) AS TABLE
SELECT x.* FROM query_table(t) x
ASOF LEFT JOIN (
    SELECT rank, ts, max(max(end_ts)) OVER (PARTITION BY rank ORDER BY ts ROWS UNBOUNDED PRECEDING) AS reach
    FROM host_ranges WHERE kind = 'data_loader' GROUP BY rank, ts
) d ON d.rank = x.rank AND x.end_ts > d.ts
WHERE d.reach IS NULL OR d.reach <= x.ts;

-- The columns every rule returns, in this order (rules/*.sql SELECT into it).
-- @table findings        one row per finding; each rules/*.sql file INSERTs its own
-- @column rule         rule id (the rule file's name)
-- @column severity     warning | critical (from twice the threshold); info for advice only
-- @column rank         the rank it concerns (load_imbalance: the heaviest)
-- @column scope        what it is about: phase, module, annotation, collective or rank
-- @column metric       name of the measured value
-- @column value        the measured value, in the unit of its threshold
-- @column threshold    the rule_thresholds value it was compared with
-- @column evidence     the numbers behind it, in words
-- @column advice       what to try
-- @column perfetto_url ui.perfetto.dev at the spot (perfetto_url macro), or NULL
CREATE OR REPLACE TABLE findings (
    rule VARCHAR, severity VARCHAR, rank INTEGER, scope VARCHAR, metric VARCHAR, value DOUBLE,
    threshold DOUBLE, evidence VARCHAR, advice VARCHAR, perfetto_url VARCHAR
);
