-- analysis/module_layers.sql (version 1): the layer each module path is counted under.
-- Reads: host_ranges (kind 'module'), the variable module_depth.   Used by: attribution (dim 'layer').
--
-- Depth of a module path: 1 + the number of other module paths (of any rank) that are
-- dot-prefixes of it ("model.model.processor.proc.0" under "model.model.processor" is 2). For
-- nn.Module instance paths this is module_ranges.depth (each instance on the chain is a range);
-- for paths from names it counts the ancestors that have ranges of their own.
-- Layer of a path at depth N: its ancestor-or-self of depth N (the path itself when it is
-- shallower). N is the variable module_depth (`--module-depth N`, set by run_analyses); when it
-- is NULL (the default) N is one more than the depth of the path's group root: the shortest
-- ancestor-or-self in the same module group (or, outside every group, the root), so a layer
-- is a group's top module or one of its direct children, e.g. model.model.processor.proc.0
-- or GraphTransformerProcessor_0.GraphTransformerProcessorBlock_1.
--
-- @table module_layers one row per distinct module path
-- @column path         module path (host_ranges.label of kind 'module')
-- @column depth        its depth (1: no other module path is a prefix of it)
-- @column module_group its module group (NULL: none)
-- @column layer_depth  the depth it is counted at (min(depth, N))
-- @column layer        its ancestor-or-self path at layer_depth
CREATE OR REPLACE TEMP TABLE ml_paths AS
SELECT label AS path, min(module_group) AS module_group
FROM host_ranges WHERE kind = 'module' AND label IS NOT NULL GROUP BY label;

-- every (path, ancestor-or-self) pair; an ancestor is a module path that is a dot-prefix
CREATE OR REPLACE TEMP TABLE ml_ancestors AS
SELECT p.path, a.path AS ancestor, a.module_group AS ancestor_group
FROM ml_paths p JOIN ml_paths a
  ON a.path = p.path OR starts_with(p.path, a.path || '.');

CREATE OR REPLACE TEMP TABLE ml_depths AS
SELECT path, count(*) AS depth FROM ml_ancestors GROUP BY path;

CREATE OR REPLACE TABLE module_layers AS
WITH group_root AS (
    -- shallowest ancestor-or-self sharing the path's group (NULL group: the root)
    SELECT x.path, min(d.depth) AS root_depth
    FROM ml_ancestors x JOIN ml_paths p ON p.path = x.path
    JOIN ml_depths d ON d.path = x.ancestor
    WHERE x.ancestor_group IS NOT DISTINCT FROM p.module_group
    GROUP BY x.path
),
wanted AS (
    SELECT p.path, d.depth, p.module_group,
           least(d.depth, coalesce(TRY_CAST(getvariable('module_depth') AS INTEGER),
                                   g.root_depth + 1)) AS layer_depth
    FROM ml_paths p JOIN ml_depths d USING (path) JOIN group_root g USING (path)
)
SELECT w.path, w.depth, w.module_group, w.layer_depth, x.ancestor AS layer
FROM wanted w
JOIN ml_ancestors x ON x.path = w.path
JOIN ml_depths d ON d.path = x.ancestor AND d.depth = w.layer_depth
ORDER BY w.path;
