-- analysis/module_ranges.sql (version 2): module ranges with their module path and group.
-- Reads: range_candidates, analysis_patterns.   Used by: host_ranges.
--
-- Two kinds of names make module ranges (patterns: analysis/settings.sql):
-- * 'module': the name carries the path (group 1): "[pl][module]…: model.model.encoder",
--   module hooks "Linear model.model.processor.proc.lin_edge fwd".
-- * 'module_instance': the name carries one class instance (group 1), as with_stack traces
--   write them ("nn.Module: Linear_7"); the path is made of the instance names of the
--   enclosing instance ranges on the same thread, outermost first:
--   "GraphTransformerProcessor_0.GraphTransformerProcessorBlock_1.Linear_7".
--   A name matching both kinds is taken as 'module'.
-- Parent: the innermost instance range enclosing the range (start ≤ its start, end ≥ its end)
-- on the same thread, in the total order "later start; at equal start the one that ends
-- first; at equal start and end the one later in the file (larger range_id)". Ranges can be
-- ill-nested (checkpointing): a range only partly overlapping another is not its child.
-- A root instance range whose instance also runs inside another instance range of the same
-- process (gradient-checkpoint recompute in backward re-enters a block outside its parent)
-- takes that instance's path there (its first occurrence in the order), and so do the
-- ranges below it: `<Class>_<n>` names one module object of the process.
-- Group: of all prefixes of the path (cut at dots), the shortest one that a 'module_group'
-- pattern matches decides (lowest priority, then label, among patterns matching it): a
-- nested module belongs to the group of its outermost matching ancestor.
--
-- @table module_ranges  one row per module range
-- @column range_id     range_candidates.range_id
-- @column source       'module' (path from the name) | 'module_instance' (path from nesting)
-- @column instance     instance name (source 'module_instance'), else NULL
-- @column parent_id    range_id of the enclosing instance range it nests in (NULL: a root,
--                      or source 'module')
-- @column depth        number of instance ranges on the nesting chain, itself included
--                      (1: a root); NULL for source 'module'
-- @column path         module path
-- @column module_group encoder | processor | decoder (a module_group label), NULL: none
CREATE OR REPLACE TEMP TABLE mod_names AS
WITH names AS (SELECT DISTINCT name FROM range_candidates),
matched AS (
    SELECT n.name, p.kind, arg_min(p.pattern, (p.priority, p.pattern)) AS pattern
    FROM names n JOIN analysis_patterns p
      ON p.kind IN ('module', 'module_instance') AND regexp_matches(n.name, p.pattern)
    GROUP BY n.name, p.kind
)
SELECT name, arg_min(kind, kind <> 'module') AS kind,
       regexp_extract(name, arg_min(pattern, kind <> 'module'), 1) AS part
FROM matched GROUP BY name;

-- instance ranges in the innermost order (ord, intervals/order.sql) with thread keys (tkey)
CREATE OR REPLACE TEMP TABLE mod_instances AS
SELECT c.range_id, c.rank, c.pid, c.ts, c.end_ts, n.part AS instance,
       row_number() OVER (ORDER BY c.rank, c.pid, c.tid, c.ts, c.end_ts DESC, c.range_id) AS ord,
       tkey(dense_rank() OVER (ORDER BY c.rank, c.pid, c.tid), c.ts) AS tks,
       tkey(dense_rank() OVER (ORDER BY c.rank, c.pid, c.tid), c.end_ts) AS tke
FROM range_candidates c JOIN mod_names n USING (name)
WHERE n.kind = 'module_instance';

-- the two key inequalities run as an inequality join; ord < breaks equal starts and ends
CREATE OR REPLACE TEMP TABLE mod_parents AS
SELECT c.range_id, arg_max(a.range_id, innermost_order(a.ts, a.end_ts, a.range_id)) AS parent_id
FROM mod_instances c JOIN mod_instances a
  ON a.tks <= c.tks AND a.tke >= c.tke AND a.ord < c.ord
GROUP BY c.range_id;

CREATE OR REPLACE TEMP TABLE mod_tree AS
WITH RECURSIVE tree AS (
    SELECT i.range_id, NULL::BIGINT AS parent_id, 1 AS depth, i.instance AS path,
           i.range_id AS root_id
    FROM mod_instances i ANTI JOIN mod_parents p USING (range_id)
    UNION ALL
    SELECT p.range_id, p.parent_id, t.depth + 1, t.path || '.' || i.instance, t.root_id
    FROM tree t
    JOIN mod_parents p ON p.parent_id = t.range_id
    JOIN mod_instances i ON i.range_id = p.range_id
)
SELECT * FROM tree;

-- where each instance runs inside another instance range: its path at its first such run
CREATE OR REPLACE TEMP TABLE mod_homes AS
SELECT i.rank, i.pid, i.instance, arg_min(t.path, i.ord) AS home
FROM mod_tree t JOIN mod_instances i USING (range_id)
WHERE t.depth > 1
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE mod_paths AS
SELECT t.range_id, 'module_instance' AS source, i.instance, t.parent_id, t.depth,
       CASE WHEN h.home IS NULL THEN t.path
            ELSE h.home || substr(t.path, length(r.instance) + 1) END AS path
FROM mod_tree t
JOIN mod_instances i ON i.range_id = t.range_id
JOIN mod_instances r ON r.range_id = t.root_id
LEFT JOIN mod_homes h ON h.rank = r.rank AND h.pid = r.pid AND h.instance = r.instance
UNION ALL
SELECT c.range_id, 'module', NULL, NULL, NULL, n.part
FROM range_candidates c JOIN mod_names n USING (name)
WHERE n.kind = 'module';

-- the group of each distinct path, from its shortest matching prefix (paths share most
-- prefixes: the patterns run once per distinct prefix)
CREATE OR REPLACE TEMP TABLE mod_groups AS
WITH paths AS (SELECT DISTINCT path, string_split(path, '.') AS parts FROM mod_paths),
prefixes AS (
    SELECT path, k, array_to_string(parts[1:k], '.') AS prefix
    FROM paths, unnest(range(1, len(parts) + 1)) AS u(k)
),
prefix_groups AS (
    SELECT x.prefix, arg_min(p.label, (p.priority, p.label)) AS label
    FROM (SELECT DISTINCT prefix FROM prefixes) x JOIN analysis_patterns p
      ON p.kind = 'module_group' AND regexp_matches(x.prefix, p.pattern)
    GROUP BY x.prefix
)
SELECT x.path, arg_min(g.label, x.k) AS module_group
FROM prefixes x JOIN prefix_groups g USING (prefix)
GROUP BY x.path;

CREATE OR REPLACE TABLE module_ranges AS
SELECT m.range_id, m.source, m.instance, m.parent_id, m.depth, m.path, g.module_group
FROM mod_paths m LEFT JOIN mod_groups g USING (path);
