-- analysis/range_candidates.sql (version 4): the host events ranges are made of, numbered once.
-- Reads: events, analysis_patterns.   Used by: module_ranges, host_ranges; is_operator by
--        operator_stats and rules/sync_on_critical_path.
--
-- One numbering for both files, so a module range keeps its id in host_ranges.
--
-- @table range_candidates  one row per complete host event of a category ranges come from
-- @column range_id     the event's event_id: unique, its position in the file (host_ranges.range_id)
-- @column rank         rank
-- @column pid          process
-- @column tid          thread
-- @column ts           start, ns
-- @column end_ts       end, ns
-- @column name         event name
-- @column cat          user_annotation | python_function | Operator | cpu_op (autograd's
--                      evaluate_function ops, and the op_ranges)
--
-- @table op_ranges     the names of cpu_op events that are ranges, not operators: those a
--                      'module' pattern matches. torch's fast record_function
--                      (_RecordFunctionFast, which anemoi_tp.capture uses) writes cpu_op
--                      events; operator names (aten::…) match no module pattern.
-- @column name         event name
CREATE OR REPLACE TEMP TABLE op_ranges AS
WITH names AS (SELECT DISTINCT name FROM events WHERE cat = 'cpu_op' AND ph = 'X')
SELECT n.name FROM names n
WHERE EXISTS (SELECT 1 FROM analysis_patterns p
              WHERE p.kind = 'module' AND regexp_matches(n.name, p.pattern));

-- is_operator(c, n): whether an event of category c and name n is a CPU operator: cpu_op /
-- Operator, but for the op_ranges. The one definition for the queries that read operators.
CREATE OR REPLACE MACRO is_operator(c, n) AS
    c IN ('cpu_op', 'Operator') AND NOT EXISTS (SELECT 1 FROM op_ranges r WHERE r.name = n);

CREATE OR REPLACE TEMP TABLE range_candidates AS
SELECT event_id AS range_id, rank, pid, tid, ts, ts + dur AS end_ts, name, cat
FROM events
WHERE ph = 'X' AND dur IS NOT NULL
  AND (cat IN ('user_annotation', 'python_function', 'Operator')
       -- autograd's node calls: the backward phase of traces without phase ranges
       OR (cat = 'cpu_op' AND (starts_with(name, 'autograd::engine::evaluate_function: ')
                               OR name IN (SELECT name FROM op_ranges))));
