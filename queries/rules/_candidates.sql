-- rules/_candidates.sql (version 1): the per-rank rules' findings, from their ranks' candidates.
-- Reads: rule_candidates, rule_thresholds.   Writes: findings.
--
-- A rank's map (anemoi_tp/pipeline/rankmap.py) runs the rules that need only that rank with
-- every 'fires' threshold at -infinity: each value a rule measures is a candidate, with the
-- columns of `findings`. Here the run's thresholds decide as the rule itself would have (each
-- rule fires where its value reaches its 'fires' threshold, with severity_of against it;
-- 'info' findings stay info), so another threshold reuses the cached ranks.
--
-- @table rule_candidates  (made by the maps) one row per value a per-rank rule measured
-- @column rule         rule id
-- @column severity     as the rule wrote it against -infinity ('critical'), or 'info'
-- @column rank         rank
-- @column scope        what it is about
-- @column metric       name of the measured value
-- @column value        the measured value
-- @column threshold    -infinity (the run's threshold is applied here)
-- @column evidence     the numbers behind it, in words
-- @column advice       what to try
-- @column perfetto_url ui.perfetto.dev at the spot, or NULL
INSERT INTO findings
SELECT c.rule, CASE WHEN c.severity = 'info' THEN 'info' ELSE severity_of(c.value, t.value) END,
       c.rank, c.scope, c.metric, c.value, t.value, c.evidence, c.advice, c.perfetto_url
FROM rule_candidates c
JOIN rule_thresholds t ON t.rule = c.rule AND t.role = 'fires'
WHERE c.value >= t.value;
