-- analysis/attribution.sql (version 6): the window split between owners, per dimension.
-- Reads: gpu_owners, host_ranges, module_layers, analysis_window.   Used by: phases, modules, annotations.
--
-- DESIGN.md: at each instant of the window, if GPU activity runs, the instant goes to the
-- owners of the running activities, shared equally between distinct owners; if the GPU is
-- idle, it goes to the innermost range of the dimension open on the host (intervals/order.sql),
-- else to 'elsewhere'. The parts sum to the window's length. An owner's comm share is the
-- part of its time in which one of its own activities is communication.
-- Dimensions: 'phase' (forward, backward, optimizer, data_loader, elsewhere), 'module'
-- (encoder, processor, decoder, elsewhere), 'module_dir' (module group + ' fwd'/' bwd'; GPU
-- only), 'annotation' (annotation range id + ' fwd'/' bwd'; GPU only) and 'layer' (the
-- module path at the chosen depth + ' fwd'/' bwd', module_layers.sql; GPU work without a
-- module and idle time under none is 'elsewhere'; idle time under a host module range goes to
-- its layer, ' bwd' only where its name says so: Lightning's module ranges are forward ones).
-- Method: per owner, the union of its activities (islands). k(t) = number of owners with an
-- island at t. F(t) = ∫ 1/k over the GPU-busy part of [window start, t); an island's share
-- is F(end) − F(start), and the time it shares with other owners is the same integral of
-- [k ≥ 2]. Idle stretches (k = 0) take the host range open over them.
-- How, cheaply: an activity that overlaps no other one of its rank (lone_intervals, the
-- common case on one stream) has k = 1 over its length in every dimension: it adds its length
-- to its owner's share and union, and needs no sweep. The other activities: owners are
-- numbered; each (rank, dim)'s island edges (intervals/islands.sql) form one sweep, sorted
-- once per rank, in which k is the running sum of the edges and F, G the running sums of len/k
-- and len·[k ≥ 2] up to each edge. An owner's share is the sum of F over its island ends minus
-- its island starts (no join back to the segments). F is summed as an integer in units of
-- 1/720720 ns (720720 = lcm(1..16): exact for up to 16 owners at once, so the result is the
-- same whatever the order of the sums). Idle stretches: a second, lighter sweep per dimension
-- with host ranges over the rank's busy islands and the host ranges' bounds.
--
-- @table owned_activity  GPU activity clipped to the window, once per dimension
-- @column rank         rank
-- @column dim          phase | module | module_dir | annotation | layer
-- @column owner        the owner in that dimension
-- @column class        computation | communication | memory
-- @column ts           start (clipped), ns
-- @column end_ts       end (clipped), ns
--
-- @table attribution   one row per (rank, dim, owner)
-- @column rank         rank
-- @column dim          dimension
-- @column owner        owner
-- @column duration_ns  its part of the window: share_ns + idle_ns (fractional ns)
-- @column share_ns     GPU-busy time charged to it (shared equally with concurrent owners)
-- @column idle_ns      GPU-idle time charged to it (a host range of it was open)
-- @column comm_ns      share_ns during which one of its own activities is communication
-- @column gpu_ns       union of its own activities, ns (not shared)
-- @column overlapped_ns part of gpu_ns during which activities of other owners run too
CREATE OR REPLACE TABLE owned_activity AS
WITH clipped AS (SELECT * FROM clip_to_window(gpu_owners))
SELECT rank, 'phase' AS dim, phase AS owner, class, ts, end_ts FROM clipped
UNION ALL
SELECT rank, 'module', coalesce(module_group, 'elsewhere'), class, ts, end_ts FROM clipped
UNION ALL
SELECT rank, 'module_dir', module_group || ' ' || direction, class, ts, end_ts FROM clipped
WHERE module_group IS NOT NULL
UNION ALL
SELECT rank, 'annotation', annotation_id::VARCHAR || ' ' || direction, class, ts, end_ts FROM clipped
WHERE annotation_id IS NOT NULL
UNION ALL
SELECT c.rank, 'layer', coalesce(l.layer || ' ' || c.direction, 'elsewhere'), c.class, c.ts, c.end_ts
FROM clipped c LEFT JOIN module_layers l ON l.path = c.module_path;

-- host ranges of each dimension (own_ts / own_end: unclipped, for the innermost order),
-- clipped to the window
CREATE OR REPLACE TEMP TABLE attr_host_ranges AS
SELECT h.rank, d.dim, d.owner, h.range_id, h.ts AS own_ts, h.end_ts AS own_end, h.ts, h.end_ts
FROM host_ranges h
CROSS JOIN LATERAL (
    SELECT 'phase' AS dim, h.label AS owner WHERE h.kind = 'phase'
    UNION ALL
    SELECT 'module', coalesce(h.module_group, 'elsewhere') WHERE h.kind = 'module'
    UNION ALL
    SELECT 'layer', (SELECT l.layer FROM module_layers l WHERE l.path = h.label) || ' '
                    || coalesce(h.direction, 'fwd')
    WHERE h.kind = 'module'
) d;
CREATE OR REPLACE TEMP TABLE attr_host_owner AS SELECT * FROM clip_to_window(attr_host_ranges);

CREATE OR REPLACE TEMP TABLE attr_dims AS
SELECT w.rank, d.dim, d.dim_no, w.ts AS w0, w.end_ts AS w1,
       row_number() OVER (ORDER BY w.rank, d.dim) AS track
FROM analysis_window w
CROSS JOIN (VALUES ('phase', 0), ('module', 1), ('layer', 2), ('module_dir', 3), ('annotation', 4)) d(dim, dim_no)
WHERE w.ts IS NOT NULL;

-- owners as numbers (the sweep sorts and groups on them)
CREATE OR REPLACE TEMP TABLE attr_owners AS
SELECT row_number() OVER (ORDER BY d.dim_no, o.owner)::INTEGER AS owner_no, d.dim, d.dim_no, o.owner
FROM (SELECT DISTINCT dim, owner FROM owned_activity) o
JOIN (SELECT DISTINCT dim, dim_no FROM attr_dims) d USING (dim);

-- every activity once (each has a phase), and those that overlap no other one of their rank
CREATE OR REPLACE TEMP TABLE attr_activities AS
SELECT rank, 0 AS grp, ts, end_ts FROM owned_activity WHERE dim = 'phase';
CREATE OR REPLACE TEMP TABLE attr_lone AS
SELECT DISTINCT rank, ts, end_ts, true AS lone FROM lone_intervals(attr_activities);
CREATE OR REPLACE TEMP TABLE attr_owned_all AS
SELECT a.rank, o.owner_no, o.dim_no, a.class = 'communication' AS comm, a.ts, a.end_ts,
       coalesce(l.lone, false) AS lone
FROM owned_activity a JOIN attr_owners o USING (dim, owner)
LEFT JOIN attr_lone l USING (rank, ts, end_ts);
-- lone activities: k = 1 over their length
CREATE OR REPLACE TEMP TABLE attr_lone_parts AS
SELECT rank, owner_no, sum(end_ts - ts) AS len, sum(end_ts - ts) FILTER (WHERE comm) AS comm_len
FROM attr_owned_all WHERE lone
GROUP BY rank, owner_no;
-- the others, per owner: grp = owner · 2 for the union of its activities, + 1 for the union
-- of its communication activities
CREATE OR REPLACE TEMP TABLE attr_owned AS
SELECT rank, owner_no * 2 AS grp, ts, end_ts FROM attr_owned_all WHERE NOT lone
UNION ALL
SELECT rank, owner_no * 2 + 1, ts, end_ts FROM attr_owned_all WHERE NOT lone AND comm;

-- The sweep of each (rank, dim) over the islands of concurrent work: kdelta ±1 at island
-- edges (cdelta ±1 at communication islands' edges). Per row: k after it (the running sum of
-- kdelta), len to the next row, and f, g: the integrals of 1/k (units of 1/720720 ns) and of
-- [k ≥ 2] before it. Rows at the same t get the same f and g: only the last of them has
-- len > 0. Both windows use one total order (an owner's edges at one t differ in kdelta or
-- cdelta), so that "the last of them" is the same row.
CREATE OR REPLACE TEMP TABLE attr_sweep AS
WITH edges AS (
    SELECT e.rank, o.dim_no, e.t, o.owner_no,
           CASE WHEN e.grp % 2 = 0 THEN e.edge ELSE 0 END::TINYINT AS kdelta,
           CASE WHEN e.grp % 2 = 1 THEN e.edge ELSE 0 END::TINYINT AS cdelta
    FROM island_edges(attr_owned) e JOIN attr_owners o ON o.owner_no = e.grp // 2
),
running AS (
    SELECT *, sum(kdelta) OVER (PARTITION BY rank ORDER BY dim_no, t, owner_no, kdelta, cdelta
                                ROWS UNBOUNDED PRECEDING)::INTEGER AS k,
           CASE WHEN lead(dim_no) OVER (PARTITION BY rank ORDER BY dim_no, t, owner_no, kdelta, cdelta) = dim_no
                THEN lead(t) OVER (PARTITION BY rank ORDER BY dim_no, t, owner_no, kdelta, cdelta) - t END AS len
    FROM edges
),
parts AS (
    SELECT *, CASE WHEN k > 0 AND len > 0 THEN len * (720720 // k) ELSE 0 END::BIGINT AS df,
           CASE WHEN k > 1 THEN len ELSE 0 END::BIGINT AS dg
    FROM running
)
SELECT rank, dim_no, t, owner_no, kdelta, cdelta, k, len,
       sum(df) OVER w - df AS f, sum(dg) OVER w - dg AS g
FROM parts
WINDOW w AS (PARTITION BY rank ORDER BY dim_no, t, owner_no, kdelta, cdelta ROWS UNBOUNDED PRECEDING);

-- Idle stretches of the dimensions with host ranges: the gaps between the rank's busy islands
-- (every activity has an owner there), cut at the window's and the host ranges' bounds. 'layer'
-- has the ranges of 'module' (the same module ranges, other owners): its stretches, and the
-- range over each, are those of 'module'.
CREATE OR REPLACE TEMP TABLE attr_idle AS
WITH busy AS (SELECT rank, t, edge FROM island_edges(attr_activities)),
points AS (
    SELECT d.rank, d.dim, d.track, b.t, b.edge AS delta
    FROM busy b JOIN attr_dims d USING (rank) WHERE d.dim IN ('phase', 'module')
    UNION ALL SELECT rank, dim, track, w0, 0 FROM attr_dims WHERE dim IN ('phase', 'module')
    UNION ALL SELECT rank, dim, track, w1, 0 FROM attr_dims WHERE dim IN ('phase', 'module')
    UNION ALL SELECT h.rank, h.dim, d.track, h.ts, 0 FROM attr_host_owner h JOIN attr_dims d USING (rank, dim)
    WHERE h.dim IN ('phase', 'module')
    UNION ALL SELECT h.rank, h.dim, d.track, h.end_ts, 0 FROM attr_host_owner h JOIN attr_dims d USING (rank, dim)
    WHERE h.dim IN ('phase', 'module')
),
running AS (
    SELECT rank, dim, track, t,
           sum(delta) OVER (PARTITION BY rank ORDER BY track, t, delta ROWS UNBOUNDED PRECEDING) AS k,
           CASE WHEN lead(track) OVER (PARTITION BY rank ORDER BY track, t, delta) = track
                THEN lead(t) OVER (PARTITION BY rank ORDER BY track, t, delta) - t END AS len
    FROM points
)
SELECT rank, dim, t, len, tkey(track, t) AS k, tkey(track, t) AS point_id
FROM running WHERE k = 0 AND len > 0;
CREATE OR REPLACE TEMP TABLE attr_host_keys AS
SELECT row_number() OVER (ORDER BY h.rank, h.dim, h.range_id) AS range_id, h.rank, h.dim, h.owner,
       h.own_ts AS ts, h.own_end AS end_ts, h.range_id AS event_id,
       tkey(d.track, h.ts) AS ks, tkey(d.track, h.end_ts) AS ke
FROM attr_host_owner h JOIN attr_dims d USING (rank, dim)
WHERE h.dim IN ('phase', 'module');
-- the innermost host range over each idle stretch (its own statement: plain tables keep the
-- inequality join)
CREATE OR REPLACE TEMP TABLE attr_idle_range AS
SELECT x.point_id, h.owner, h.event_id
FROM innermost_enclosing(attr_idle, attr_host_keys) x JOIN attr_host_keys h ON h.range_id = x.range_id;

CREATE OR REPLACE TABLE attribution AS
WITH swept AS (
    SELECT rank, owner_no,
           sum(-kdelta * f) AS f_sum, sum(-kdelta * g) AS overlapped_ns,
           sum(-kdelta * t) AS gpu_ns, sum(-cdelta * f) AS comm_f
    FROM attr_sweep
    GROUP BY rank, owner_no
),
owner_parts AS (
    SELECT rank, owner_no, o.dim, o.owner,
           coalesce(s.f_sum, 0) + coalesce(l.len, 0) * 720720 AS f_sum,
           coalesce(s.comm_f, 0) + coalesce(l.comm_len, 0) * 720720 AS comm_f,
           coalesce(s.gpu_ns, 0) + coalesce(l.len, 0) AS gpu_ns,
           coalesce(s.overlapped_ns, 0) AS overlapped_ns
    FROM swept s FULL OUTER JOIN attr_lone_parts l USING (rank, owner_no)
    JOIN attr_owners o USING (owner_no)
),
island_parts AS (
    -- back from units of 1/720720 ns: whole ns, then the fraction (exact where it is exact)
    SELECT rank, dim, owner, overlapped_ns, gpu_ns,
           (f_sum // 720720)::DOUBLE + (f_sum % 720720)::DOUBLE / 720720 AS share_ns,
           (comm_f // 720720)::DOUBLE + (comm_f % 720720)::DOUBLE / 720720 AS comm_ns
    FROM owner_parts
),
-- idle stretches go to the innermost host range of the dimension open over them ('layer':
-- the layer of the module range over them)
idle_parts AS (
    SELECT i.rank, i.dim, coalesce(r.owner, 'elsewhere') AS owner, sum(i.len) AS idle_ns
    FROM attr_idle i LEFT JOIN attr_idle_range r USING (point_id)
    GROUP BY ALL
    UNION ALL
    SELECT i.rank, 'layer', coalesce(h.owner, 'elsewhere'), sum(i.len)
    FROM attr_idle i LEFT JOIN attr_idle_range r USING (point_id)
    LEFT JOIN attr_host_owner h ON h.rank = i.rank AND h.dim = 'layer' AND h.range_id = r.event_id
    WHERE i.dim = 'module'
    GROUP BY ALL
    UNION ALL
    -- no host ranges in these dimensions: the window less the union of their work is elsewhere's
    SELECT d.rank, d.dim, 'elsewhere', (d.w1 - d.w0) - coalesce(b.busy, 0) AS idle_ns
    FROM attr_dims d
    LEFT JOIN (
        SELECT rank, dim_no, sum(len) AS busy FROM (
            SELECT rank, dim_no, len FROM attr_sweep WHERE k > 0 AND len > 0
            UNION ALL
            SELECT l.rank, o.dim_no, l.len FROM attr_lone_parts l JOIN attr_owners o USING (owner_no)
        ) GROUP BY rank, dim_no
    ) b USING (rank, dim_no)
    WHERE d.dim NOT IN ('phase', 'module', 'layer') AND (d.w1 - d.w0) - coalesce(b.busy, 0) > 0
)
SELECT rank, dim, owner,
       coalesce(ip.share_ns, 0) + coalesce(d.idle_ns, 0) AS duration_ns,
       coalesce(ip.share_ns, 0) AS share_ns,
       coalesce(d.idle_ns, 0) AS idle_ns,
       coalesce(ip.comm_ns, 0) AS comm_ns,
       coalesce(ip.gpu_ns, 0) AS gpu_ns,
       coalesce(ip.overlapped_ns, 0) AS overlapped_ns
FROM island_parts ip
FULL OUTER JOIN idle_parts d USING (rank, dim, owner)
ORDER BY rank, dim, duration_ns DESC, owner;
