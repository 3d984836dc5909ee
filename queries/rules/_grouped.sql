-- rules/_grouped.sql (version 2): a finding that holds on many ranks, once, with its ranks.
-- Reads: findings.   Used by: anemoi_tp/rules/run.py (the report's findings).
--
-- `findings` stays one row per rank; the report lists each (rule, scope, metric) once, with
-- the ranks it holds on. The headline (rank, value, evidence, advice, link) is the worst
-- rank's: the worst severity, then the largest value, then the lowest rank. A 64-rank run
-- does not repeat a rule 64 times.
--
-- @view findings_grouped  one row per (rule, scope, metric) found on any rank
-- @column rule         rule id
-- @column severity     the worst severity among its ranks
-- @column rank         the worst rank: the one the headline columns describe
-- @column ranks        every rank it holds on, ascending (a list; empty for a finding of no
--                      rank, e.g. a memory snapshot's)
-- @column scope        what it is about (findings.scope)
-- @column metric       name of the measured value
-- @column value        the worst rank's value
-- @column value_min    the smallest value among its ranks
-- @column value_median the median value among its ranks (mean of the middle two for an even
--                      count)
-- @column value_max    the largest value among its ranks
-- @column threshold    the threshold it was compared with (the worst rank's)
-- @column evidence     the worst rank's evidence
-- @column advice       the worst rank's advice
-- @column perfetto_url the worst rank's link, or NULL
CREATE OR REPLACE VIEW findings_grouped AS
WITH ordered AS (
    SELECT *, row_number() OVER (
                  PARTITION BY rule, scope, metric
                  ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
                           value DESC NULLS LAST, rank, evidence) AS pos
    FROM findings
),
spread AS (
    SELECT rule, scope, metric, coalesce(list(DISTINCT rank ORDER BY rank) FILTER (WHERE rank IS NOT NULL), []) AS ranks,
           min(value) AS value_min, median(value) AS value_median, max(value) AS value_max
    FROM findings GROUP BY rule, scope, metric
)
SELECT h.rule, h.severity, h.rank, s.ranks, h.scope, h.metric, h.value,
       s.value_min, s.value_median, s.value_max, h.threshold, h.evidence, h.advice, h.perfetto_url
FROM ordered h JOIN spread s USING (rule, scope, metric)
WHERE h.pos = 1;
