-- rules/_status.sql (version 4): whether each rule could be evaluated, and why not.
-- Reads: rule_rank_facts (rules/_rank_inputs.sql: made per rank where the rank is), collective_matches,
-- memory_snapshots.   Used by: anemoi_tp/rules/run.py (the report's rule_status).
--
-- A rule that cannot be evaluated did not "not fire": the report says which and why. Every
-- rule needs, on a rank, an analysis window and GPU activity in it; data_loader_stall also
-- data-loader ranges (without them no idle time can be charged to loading); low_occupancy a
-- computation kernel with Kineto's occupancy estimate (Kineto writes 0 where it has none).
-- The cross-rank rules (straggler, load_imbalance) need two or more ranks that pass, and
-- straggler collectives matched across ranks in the window. One row per rule of
-- queries/rules/ (tests/test_rules_status.py checks the list against the files).
--
-- @table rule_rank_status  one row per (rule, rank)
-- @column rule         rule id
-- @column rank         rank
-- @column reason       why the rule cannot be evaluated on this rank (NULL: it can)
--
-- @view rule_status    one row per rule
-- @column rule         rule id
-- @column status       'ran' (evaluated on at least one rank) | 'not evaluated'
-- @column ranks        the ranks it was evaluated on, ascending (a list; empty when not
--                      evaluated)
-- @column skipped_ranks the ranks it could not be evaluated on, ascending (a list)
-- @column reason       why not, for skipped ranks or the whole rule: distinct reasons joined
--                      by '; ' (NULL when it ran on every rank)
CREATE OR REPLACE TABLE rule_rank_status AS
WITH facts AS (SELECT * FROM rule_rank_facts),
needs AS (
    SELECT * FROM (VALUES
        ('data_loader_stall', true, false),
        ('exposed_communication', false, false),
        ('host_bound', false, false),
        ('load_imbalance', false, false),
        ('memory_oom', false, false),
        ('low_occupancy', false, true),
        ('missing_annotations', false, false),
        ('pageable_memcpy', false, false),
        ('straggler', false, false),
        ('sync_on_critical_path', false, false)
    ) AS v(rule, data_loader, occupancy)
)
SELECT n.rule, f.rank,
       -- memory_oom reads snapshots, which carry no rank and need no window
       CASE WHEN n.rule = 'memory_oom' THEN
            CASE WHEN NOT EXISTS (SELECT 1 FROM memory_snapshots) THEN 'no memory snapshot' END
       ELSE coalesce(f.no_window, f.no_gpu,
                CASE WHEN n.data_loader THEN f.no_data_loader END,
                CASE WHEN n.occupancy THEN f.no_occupancy END) END AS reason
FROM needs n CROSS JOIN facts f;

CREATE OR REPLACE VIEW rule_status AS
WITH per_rule AS (
    SELECT rule,
           coalesce(list(rank ORDER BY rank) FILTER (WHERE reason IS NULL), []) AS ranks,
           coalesce(list(rank ORDER BY rank) FILTER (WHERE reason IS NOT NULL), []) AS skipped_ranks,
           string_agg(DISTINCT reason, '; ' ORDER BY reason) AS rank_reason
    FROM rule_rank_status GROUP BY rule
),
cross_rank AS (
    SELECT rule, CASE
               WHEN len(ranks) < 2 THEN 'needs two or more ranks with GPU activity in a window'
               WHEN rule = 'straggler' AND NOT EXISTS (SELECT 1 FROM collective_matches WHERE in_window)
                   THEN 'no collective matched across ranks in the window'
           END AS reason
    FROM per_rule WHERE rule IN ('straggler', 'load_imbalance')
)
SELECT p.rule,
       CASE WHEN len(p.ranks) > 0 AND c.reason IS NULL THEN 'ran' ELSE 'not evaluated' END AS status,
       CASE WHEN c.reason IS NULL THEN p.ranks ELSE [] END AS ranks,
       CASE WHEN c.reason IS NULL THEN p.skipped_ranks
            ELSE list_sort(list_concat(p.ranks, p.skipped_ranks)) END AS skipped_ranks,
       nullif(concat_ws('; ', c.reason, p.rank_reason), '') AS reason
FROM per_rule p LEFT JOIN cross_rank c USING (rule);
