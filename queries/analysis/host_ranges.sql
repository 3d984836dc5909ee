-- analysis/host_ranges.sql (version 3): host ranges that mean something, with their meaning.
-- Reads: events, analysis_patterns.   Used by: batches, ownership, attribution, annotations.
--
-- Patterns are matched once per distinct name. A range matching patterns of several kinds
-- (a data-loader fetch is kind 'data_loader' and phase 'data_loader') has one row per kind.
-- Phases (DESIGN.md): the 'phase' patterns; else a 'data_loader' range is phase 'data_loader'
-- (one definition); else, on a rank with no range of that phase from the first two, the
-- 'phase_fallback' patterns (traces without Lightning: `## forward ##`, ProfilerStep#N, …).
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
-- @column label        phase name, or module path for kind 'module'
-- @column module_group module group of a module path (encoder, processor, decoder), else NULL
-- @column direction    'fwd' / 'bwd' where the name says so (module hooks), else NULL
CREATE OR REPLACE TABLE host_ranges AS
WITH candidates AS (
    SELECT event_id AS range_id, rank, pid, tid, ts, ts + dur AS end_ts, name, cat
    FROM events
    WHERE ph = 'X' AND dur IS NOT NULL
      AND cat IN ('user_annotation', 'python_function', 'Operator')
),
names AS (SELECT DISTINCT name FROM candidates),
-- one row per (name, kind): where several patterns of a kind match, the lowest priority wins
matched AS (
    SELECT n.name, p.kind, arg_min(p.label, p.priority) AS label,
           arg_min(p.pattern, p.priority) AS pattern
    FROM names n JOIN analysis_patterns p
      ON p.kind IN ('batch', 'step', 'data_loader', 'phase', 'phase_fallback', 'module')
     AND regexp_matches(n.name, p.pattern)
    GROUP BY n.name, p.kind
),
-- one phase per name: its phase pattern, else data loading, else a fallback (flagged)
phase_names AS (
    SELECT name, 'phase' AS kind, arg_min(label, k) AS label, arg_min(pattern, k) AS pattern,
           min(k) = 3 AS fallback
    FROM (SELECT name, pattern, CASE kind WHEN 'data_loader' THEN 'data_loader' ELSE label END AS label,
                 CASE kind WHEN 'phase' THEN 1 WHEN 'data_loader' THEN 2 ELSE 3 END AS k
          FROM matched WHERE kind IN ('phase', 'data_loader', 'phase_fallback'))
    GROUP BY name
),
primary_phases AS (
    SELECT DISTINCT c.rank, p.label
    FROM candidates c JOIN phase_names p USING (name) WHERE NOT p.fallback
),
meanings AS (
    SELECT name, kind, label, pattern, false AS fallback
    FROM matched WHERE kind NOT IN ('phase', 'phase_fallback')
    UNION ALL
    SELECT name, kind, label, pattern, fallback FROM phase_names
),
modules AS (
    SELECT name, regexp_extract(name, pattern, 1) AS path FROM matched WHERE kind = 'module'
),
module_groups AS (
    SELECT m.name, arg_min(p.label, p.priority) AS grp
    FROM modules m JOIN analysis_patterns p
      ON p.kind = 'module_group' AND regexp_matches(m.path, p.pattern)
    GROUP BY m.name
)
SELECT c.range_id, c.rank, c.pid, c.tid, c.ts, c.end_ts, c.name, c.cat, m.kind,
       CASE WHEN m.kind = 'module' THEN md.path ELSE m.label END AS label,
       g.grp AS module_group,
       nullif(regexp_extract(c.name, ' (fwd|bwd)$', 1), '') AS direction
FROM candidates c
JOIN meanings m USING (name)
LEFT JOIN modules md USING (name)
LEFT JOIN module_groups g USING (name)
-- a fallback phase only where the rank has no range of that phase otherwise
LEFT JOIN primary_phases pp ON m.fallback AND pp.rank = c.rank AND pp.label = m.label
WHERE pp.rank IS NULL
UNION ALL
-- the annotation table's instances: every user annotation, and every module range
SELECT c.range_id, c.rank, c.pid, c.tid, c.ts, c.end_ts, c.name, c.cat, 'annotation',
       md.path, g.grp, nullif(regexp_extract(c.name, ' (fwd|bwd)$', 1), '')
FROM candidates c
LEFT JOIN modules md USING (name)
LEFT JOIN module_groups g USING (name)
WHERE c.cat = 'user_annotation' OR md.name IS NOT NULL;
