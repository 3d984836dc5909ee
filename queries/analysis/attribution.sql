-- analysis/attribution.sql (version 3): the window split between owners, per dimension.
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
SELECT w.rank, d.dim, w.ts AS w0, w.end_ts AS w1,
       row_number() OVER (ORDER BY w.rank, d.dim) AS track
FROM analysis_window w
CROSS JOIN (VALUES ('phase'), ('module'), ('module_dir'), ('annotation'), ('layer')) d(dim)
WHERE w.ts IS NOT NULL;

-- per owner, the union of its activities (and of its communication activities)
CREATE OR REPLACE TEMP TABLE attr_owned AS
SELECT rank, {'dim': dim, 'owner': owner, 'comm_only': false} AS grp, ts, end_ts FROM owned_activity
UNION ALL
SELECT rank, {'dim': dim, 'owner': owner, 'comm_only': true}, ts, end_ts FROM owned_activity
WHERE class = 'communication';
CREATE OR REPLACE TEMP TABLE attr_islands AS
SELECT rank, grp.dim AS dim, grp.owner AS owner, grp.comm_only AS comm_only, ts AS s, end_ts AS e
FROM busy_islands(attr_owned);

-- elementary segments: k owners busy from t for len ns; f and g integrate 1/k and [k >= 2]
CREATE OR REPLACE TEMP TABLE attr_segments AS
WITH points AS (
    SELECT rank, dim, t, sum(delta) AS delta
    FROM (
        SELECT rank, dim, s AS t, 1 AS delta FROM attr_islands WHERE NOT comm_only
        UNION ALL SELECT rank, dim, e, -1 FROM attr_islands WHERE NOT comm_only
        UNION ALL SELECT rank, dim, w0, 0 FROM attr_dims
        UNION ALL SELECT rank, dim, w1, 0 FROM attr_dims
        UNION ALL SELECT rank, dim, ts, 0 FROM attr_host_owner
        UNION ALL SELECT rank, dim, end_ts, 0 FROM attr_host_owner
    )
    GROUP BY rank, dim, t
),
running AS (
    SELECT rank, dim, t, lead(t) OVER (PARTITION BY rank, dim ORDER BY t) - t AS len,
           sum(delta) OVER (PARTITION BY rank, dim ORDER BY t ROWS UNBOUNDED PRECEDING) AS k
    FROM points
)
SELECT r.rank, r.dim, r.t, r.len, r.k, d.track, tkey(d.track, r.t) AS tk,
       coalesce(sum(CASE WHEN r.k > 0 THEN r.len / r.k ELSE 0 END) OVER w_before, 0) AS f,
       coalesce(sum(CASE WHEN r.k > 1 THEN r.len ELSE 0 END) OVER w_before, 0) AS g,
       (r.k = 0 AND r.len > 0 AND r.t >= d.w0 AND r.t < d.w1) AS idle
FROM running r JOIN attr_dims d USING (rank, dim)
WINDOW w_before AS (PARTITION BY r.rank, r.dim ORDER BY r.t
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING);

CREATE OR REPLACE TEMP TABLE attr_idle AS
SELECT rank, dim, t, len, tk AS k, tk AS point_id FROM attr_segments WHERE idle;
CREATE OR REPLACE TEMP TABLE attr_host_keys AS
SELECT row_number() OVER (ORDER BY h.rank, h.dim, h.range_id) AS range_id, h.owner,
       h.own_ts AS ts, h.own_end AS end_ts, h.range_id AS event_id,
       tkey(d.track, h.ts) AS ks, tkey(d.track, h.end_ts) AS ke
FROM attr_host_owner h JOIN attr_dims d USING (rank, dim);

CREATE OR REPLACE TABLE attribution AS
WITH island_parts AS (
    SELECT i.rank, i.dim, i.owner,
           sum(pe.f - ps.f) AS share_ns, sum(pe.g - ps.g) AS overlapped_ns,
           sum(i.e - i.s) AS gpu_ns
    FROM attr_islands i
    JOIN attr_segments ps ON ps.rank = i.rank AND ps.dim = i.dim AND ps.t = i.s
    JOIN attr_segments pe ON pe.rank = i.rank AND pe.dim = i.dim AND pe.t = i.e
    WHERE NOT i.comm_only
    GROUP BY ALL
),
-- F at any instant: F at the last point before it plus the part of that segment
comm_parts AS (
    SELECT c.rank, c.dim, c.owner,
           sum((pe.f + (c.e - pe.t) / pe.k) - (ps.f + (c.s - ps.t) / ps.k)) AS comm_ns
    FROM (SELECT * FROM attr_islands WHERE comm_only) c
    ASOF JOIN attr_segments ps ON ps.rank = c.rank AND ps.dim = c.dim AND c.s >= ps.t
    ASOF JOIN attr_segments pe ON pe.rank = c.rank AND pe.dim = c.dim AND c.e > pe.t
    GROUP BY ALL
),
-- idle stretches go to the innermost host range of the dimension open over them
idle_owner AS (
    SELECT i.rank, i.dim, i.t, h.owner
    FROM innermost_enclosing(attr_idle, attr_host_keys) x
    JOIN attr_idle i ON i.point_id = x.point_id
    JOIN attr_host_keys h ON h.range_id = x.range_id
),
idle_parts AS (
    SELECT i.rank, i.dim, coalesce(o.owner, 'elsewhere') AS owner, sum(i.len) AS idle_ns
    FROM attr_idle i
    LEFT JOIN idle_owner o USING (rank, dim, t)
    GROUP BY ALL
)
SELECT rank, dim, owner,
       coalesce(ip.share_ns, 0) + coalesce(d.idle_ns, 0) AS duration_ns,
       coalesce(ip.share_ns, 0) AS share_ns,
       coalesce(d.idle_ns, 0) AS idle_ns,
       coalesce(c.comm_ns, 0) AS comm_ns,
       coalesce(ip.gpu_ns, 0) AS gpu_ns,
       coalesce(ip.overlapped_ns, 0) AS overlapped_ns
FROM island_parts ip
FULL OUTER JOIN idle_parts d USING (rank, dim, owner)
LEFT JOIN comm_parts c USING (rank, dim, owner)
ORDER BY rank, dim, duration_ns DESC;
