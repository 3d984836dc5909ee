-- analysis/host_ranges.sql (version 5): host ranges that mean something, with their meaning.
-- Reads: range_candidates, module_ranges, analysis_patterns.
-- Used by: batches, ownership, attribution, annotations, memory_events.
--
-- Patterns are matched once per distinct name. A range matching patterns of several kinds
-- (a data-loader fetch is kind 'data_loader' and phase 'data_loader') has one row per kind.
-- Phase fallbacks (settings.sql, kind 'phase_fallback') apply only on a rank with no range of
-- that phase from the 'phase' patterns (traces without Lightning).
--
-- @table host_ranges   one row per (annotation range, kind)
-- @column range_id     the range's event_id (events): unique, its position in the file, shared
--                      by its rows of different kinds
-- @column rank         rank
-- @column pid          process
-- @column tid          thread
-- @column ts           start, ns
-- @column end_ts       end, ns
-- @column name         range name
-- @column cat          category (user_annotation, python_function, …)
-- @column kind         batch | step | data_loader | phase | module | annotation (every
--                      user_annotation and module range, for the annotation table)
-- @column label        phase name, or module path for kind 'module' (module_ranges.path)
-- @column module_group module group of a module range (module_ranges.module_group), else NULL
-- @column direction    'fwd' / 'bwd' where the name says so (module hooks), else NULL
CREATE OR REPLACE TABLE host_ranges AS
WITH names AS (SELECT DISTINCT name FROM range_candidates),
-- one row per (name, kind): where several patterns of a kind match, the lowest priority wins
matched AS (
    SELECT n.name, p.kind, arg_min(p.label, (p.priority, p.label)) AS label
    FROM names n JOIN analysis_patterns p
      ON p.kind IN ('batch', 'step', 'data_loader', 'phase', 'phase_fallback')
     AND regexp_matches(n.name, p.pattern)
    GROUP BY n.name, p.kind
),
-- one phase per name: its phase pattern, else data loading, else a fallback (flagged)
phase_names AS (
    SELECT name, 'phase' AS kind, arg_min(label, k) AS label, min(k) = 3 AS fallback
    FROM (SELECT name, CASE kind WHEN 'data_loader' THEN 'data_loader' ELSE label END AS label,
                 CASE kind WHEN 'phase' THEN 1 WHEN 'data_loader' THEN 2 ELSE 3 END AS k
          FROM matched WHERE kind IN ('phase', 'data_loader', 'phase_fallback'))
    GROUP BY name
),
primary_phases AS (
    SELECT DISTINCT c.rank, p.label
    FROM range_candidates c JOIN phase_names p USING (name) WHERE NOT p.fallback
),
meanings AS (
    SELECT name, kind, label, false AS fallback
    FROM matched WHERE kind NOT IN ('phase', 'phase_fallback')
    UNION ALL
    SELECT name, kind, label, fallback FROM phase_names
)
SELECT c.range_id, c.rank, c.pid, c.tid, c.ts, c.end_ts, c.name, c.cat, m.kind, m.label,
       NULL::VARCHAR AS module_group,
       nullif(regexp_extract(c.name, ' (fwd|bwd)$', 1), '') AS direction
FROM range_candidates c
JOIN meanings m USING (name)
-- a fallback phase only where the rank has no range of that phase otherwise
LEFT JOIN primary_phases pp ON m.fallback AND pp.rank = c.rank AND pp.label = m.label
WHERE pp.rank IS NULL
UNION ALL
SELECT c.range_id, c.rank, c.pid, c.tid, c.ts, c.end_ts, c.name, c.cat, 'module', md.path,
       md.module_group, nullif(regexp_extract(c.name, ' (fwd|bwd)$', 1), '')
FROM range_candidates c
JOIN module_ranges md USING (range_id)
UNION ALL
-- the annotation table's instances: every user annotation, and every module range
SELECT c.range_id, c.rank, c.pid, c.tid, c.ts, c.end_ts, c.name, c.cat, 'annotation',
       md.path, md.module_group, nullif(regexp_extract(c.name, ' (fwd|bwd)$', 1), '')
FROM range_candidates c
LEFT JOIN module_ranges md USING (range_id)
WHERE c.cat = 'user_annotation' OR md.range_id IS NOT NULL;
