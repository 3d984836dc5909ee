-- rules/straggler.sql (version 4): one rank arrives last at collectives and the others wait.
-- Reads: collective_matches, collective_straggler, analysis_window, host_ranges, rule_thresholds.   Writes: findings.
-- Fires for a rank that arrives last at most matched collectives when the other ranks wait
-- (wait_ns in those collectives) at least straggler.wait_pct of their window on average.
-- "What it was doing": over the stretches before each collective it was last at (the gap from
-- the end of its previous collectives, busy_islands of its collective kernels, or from its
-- window start, to its arrival), the innermost phase range open at each instant on any of its
-- threads (innermost_enclosing), summed per phase; the largest is named (ties: by name). The
-- link shows its latest arrival (ties: the earliest).
-- Waiting for a straggler is reported here; exposed_communication counts transfer time only.
-- the straggler over all kinds: analysis/collectives.sql's one definition
CREATE OR REPLACE TEMP TABLE strag_top AS
SELECT rank, n_late FROM collective_straggler WHERE kind IS NULL;

CREATE OR REPLACE TEMP TABLE strag_colls AS
SELECT rank, 0 AS grp, ts, ts + dur AS end_ts FROM collective_matches
WHERE in_window AND rank = (SELECT rank FROM strag_top);
CREATE OR REPLACE TEMP TABLE strag_gaps AS
WITH gaps AS (
    SELECT rank, ts AS g0, end_ts AS g1 FROM busy_gaps(strag_colls)
    UNION ALL
    SELECT i.rank, w.ts, min(i.ts) FROM busy_islands(strag_colls) i JOIN analysis_window w USING (rank)
    GROUP BY i.rank, w.ts HAVING min(i.ts) > w.ts
)
SELECT g.rank, g.g0, g.g1 FROM gaps g
WHERE EXISTS (SELECT 1 FROM collective_matches c
              WHERE c.in_window AND c.rank = g.rank AND c.straggler = c.rank AND c.arrival_ns > 0
                AND c.ts = g.g1);

-- elementary pieces of the gaps, cut at every phase range boundary
-- (the boundaries as a plain table: DuckDB then runs the range join as an inequality join,
-- not a nested loop over gaps × boundaries)
CREATE OR REPLACE TEMP TABLE strag_cut_points AS
SELECT ts AS t FROM host_ranges WHERE kind = 'phase' AND rank = (SELECT rank FROM strag_top)
UNION SELECT end_ts FROM host_ranges WHERE kind = 'phase' AND rank = (SELECT rank FROM strag_top);
CREATE OR REPLACE TEMP TABLE strag_pieces AS
WITH cuts AS (
    SELECT g.g0, g.g1, p.t FROM strag_gaps g JOIN strag_cut_points p ON p.t > g.g0 AND p.t < g.g1
    UNION SELECT g0, g1, g0 FROM strag_gaps
),
pieces AS (SELECT t, lead(t) OVER (PARTITION BY g0 ORDER BY t) AS t_next, g1 FROM cuts)
SELECT t, coalesce(t_next, g1) - t AS len, tkey(0, t) AS k FROM pieces WHERE coalesce(t_next, g1) > t;

CREATE OR REPLACE TEMP TABLE strag_points AS SELECT t AS point_id, k FROM strag_pieces;
CREATE OR REPLACE TEMP TABLE strag_phases AS
SELECT range_id, range_id AS event_id, label, ts, end_ts, tkey(0, ts) AS ks, tkey(0, end_ts) AS ke
FROM host_ranges WHERE kind = 'phase' AND rank = (SELECT rank FROM strag_top);

-- the innermost phase over each piece
CREATE OR REPLACE TEMP TABLE strag_owner AS
SELECT x.point_id AS t, r.label AS owner
FROM innermost_enclosing(strag_points, strag_phases) x JOIN strag_phases r USING (range_id);

INSERT INTO findings
WITH total AS (SELECT count(DISTINCT (kind, name, stream, seq)) AS n FROM collective_matches WHERE in_window),
top AS (SELECT * FROM strag_top),
waits AS (
    SELECT avg(100.0 * c.wait / w.total_ns ORDER BY c.rank) AS wait_pct, sum(c.wait) AS wait_ns
    FROM (SELECT rank, sum(wait_ns) AS wait FROM collective_matches
          WHERE in_window AND rank <> (SELECT rank FROM top) GROUP BY rank) c
    JOIN analysis_window w USING (rank)
),
doing AS (
    SELECT coalesce(owner, 'no phase range') AS label, sum(len) AS ns
    FROM (SELECT p.t, p.len, o.owner FROM strag_pieces p LEFT JOIN strag_owner o USING (t))
    GROUP BY 1 ORDER BY ns DESC, label LIMIT 1
),
worst AS (
    SELECT ts - arrival_ns AS t0, ts AS t1 FROM collective_matches
    WHERE in_window AND rank = straggler AND rank = (SELECT rank FROM top)
    ORDER BY arrival_ns DESC, ts, activity_id LIMIT 1
)
SELECT 'straggler', severity_of(w.wait_pct, threshold('straggler', 'wait_pct')), t.rank,
       'collective', 'others_wait_pct', w.wait_pct, threshold('straggler', 'wait_pct'),
       printf('rank %d arrives last at %d of %d collectives; the other ranks wait %.3f ms in them '
              || '(%.1f%% of their window on average); before arriving it was in %s',
              t.rank, t.n_late, (SELECT n FROM total), w.wait_ns / 1e6, w.wait_pct,
              coalesce((SELECT label FROM doing), 'no phase range')),
       'Find what delays rank ' || t.rank || ' (' || coalesce((SELECT label FROM doing), 'see its timeline')
       || '): its data loading, host work or a slower GPU; balance the work per rank (graph '
       || 'partitioning, shard sizes); the others only wait for it.',
       perfetto_url(t.rank, (SELECT t0 FROM worst), (SELECT t1 FROM worst))
FROM top t CROSS JOIN waits w
WHERE w.wait_pct >= threshold('straggler', 'wait_pct');
