-- rules/exposed_communication.sql (version 6): communication the computation does not hide.
-- Reads: rule_comm_kernels (rules/_rank_inputs.sql), collective_matches, analysis_window, rule_thresholds.
-- Writes: findings.
-- Transfer time only: of a collective matched across ranks, the last transfer_ns of the
-- kernel (before that the rank waits for the others: see the straggler rule); an unmatched
-- communication kernel counts whole. Exposed = transfer time during which no computation
-- kernel runs. Fires above exposed_communication.pct_of_total of the window; names the
-- collectives and the phase / module issuing them, by exposed time (ties: by name), and links
-- to the longest exposed stretch (ties: the earliest).
CREATE OR REPLACE TEMP TABLE exp_all AS
SELECT k.activity_id, k.rank, coalesce(m.kind, k.name) AS kind,
       k.ts + coalesce(m.wait_ns, 0) AS ts, k.end_ts, false AS compute
FROM rule_comm_kernels k LEFT JOIN collective_matches m USING (activity_id)
WHERE NOT k.compute
UNION ALL
SELECT activity_id, rank, NULL, ts, end_ts, true FROM rule_comm_kernels WHERE compute;
CREATE OR REPLACE TEMP TABLE exp_intervals AS SELECT * FROM clip_to_window(exp_all);

-- Computation overlapping no transfer changes nothing exposed: the sweep takes the transfers
-- and only the computation that overlaps one (overlap_flags: one ASOF look-up per interval).
-- rule_comm_kernels already holds only the computation overlapping a communication kernel
-- (each rank's map finds those); a transfer is the later part of its kernel, so this narrows
-- them further.
CREATE OR REPLACE TEMP TABLE exp_transfers AS
SELECT * FROM exp_intervals WHERE NOT compute AND end_ts > ts;
CREATE OR REPLACE TEMP TABLE exp_compute AS
SELECT * FROM exp_intervals WHERE compute AND end_ts > ts;
CREATE OR REPLACE TEMP TABLE exp_swept AS
SELECT * FROM exp_transfers
UNION ALL
SELECT * EXCLUDE (meets) FROM overlap_flags(exp_compute, exp_transfers) WHERE meets;

-- A sweep, not busy_islands: sharing a stretch between the transfers running in it needs the
-- count of transfers at each instant, which the islands' union loses.
-- One sorted pass, no grouping of equal times: every row at a time t carries the counts of all
-- rows up to t (the default frame holds the peers: whatever the order among them), and the
-- last of them the length to the next time; the others get length 0 (dropped).
CREATE OR REPLACE TEMP TABLE exp_segments AS
WITH pts AS (
    SELECT rank, ts AS t, (NOT compute)::INT AS dx, compute::INT AS dc FROM exp_swept
    UNION ALL
    SELECT rank, end_ts, -(NOT compute)::INT, -(compute::INT) FROM exp_swept
),
run AS (
    SELECT rank, t, lead(t) OVER w - t AS len,
           sum(dx) OVER w AS x, sum(dc) OVER w AS c
    FROM pts WINDOW w AS (PARTITION BY rank ORDER BY t)
)
SELECT rank, t, len, tkey(rank, t) AS k FROM run WHERE x > 0 AND c = 0 AND len > 0;

CREATE OR REPLACE TEMP TABLE exp_transfer AS
SELECT i.activity_id, i.rank, i.kind, k.phase, coalesce(k.module_group, 'no module') AS module,
       tkey(i.rank, i.ts) AS ks, tkey(i.rank, i.end_ts) AS ke
FROM exp_intervals i JOIN rule_comm_kernels k USING (activity_id)
WHERE NOT i.compute AND i.end_ts > i.ts AND k.owned;

-- each exposed stretch goes to the transfers running in it, shared equally (a plain-table
-- inequality join; inside the CTEs below DuckDB would plan a much slower one)
CREATE OR REPLACE TEMP TABLE exp_pairs AS
SELECT s.rank, s.t, s.len, t.kind, t.phase, t.module
FROM exp_segments s JOIN exp_transfer t ON s.k >= t.ks AND s.k < t.ke;

INSERT INTO findings
WITH per_rank AS (
    SELECT s.rank, sum(s.len) AS exposed_ns, 100.0 * sum(s.len) / min(w.total_ns) AS pct
    FROM exp_segments s JOIN analysis_window w USING (rank) GROUP BY s.rank
),
shares AS (
    SELECT *, count(*) OVER (PARTITION BY rank, t) AS n FROM exp_pairs
),
by_source AS (
    -- exact sums: a float sum's order (parallel) could reorder near-equal sources
    SELECT rank, kind, phase, module, sum((len / n)::DECIMAL(38, 9)) AS ns,
           row_number() OVER (PARTITION BY rank ORDER BY sum((len / n)::DECIMAL(38, 9)) DESC,
                                                         kind, phase, module) AS k
    FROM shares GROUP BY rank, kind, phase, module
),
named AS (
    SELECT rank, string_agg(printf('%s in %s / %s %.3f ms', kind, phase, module, ns::DOUBLE / 1e6), '; '
                            ORDER BY ns DESC, kind, phase, module) AS sources
    FROM by_source WHERE k <= 3 GROUP BY rank
),
longest AS (
    SELECT rank, arg_max(t, (len, -t)) AS t, max(len) AS len FROM exp_segments GROUP BY rank
)
SELECT 'exposed_communication', severity_of(p.pct, threshold('exposed_communication', 'pct_of_total')),
       p.rank, 'collective', 'exposed_transfer_pct', p.pct,
       threshold('exposed_communication', 'pct_of_total'),
       printf('%.3f ms of communication transfer (%.1f%% of the window) runs with no computation '
              || 'beside it; largest: %s', p.exposed_ns / 1e6, p.pct, coalesce(n.sources, '?')),
       'Overlap communication with computation: DDP bucket sizes (bucket_cap_mb) and '
       || 'gradient_as_bucket_view, prefetching the next all-gather, fewer / larger collectives; '
       || 'check the interconnect (NCCL_ALGO, NCCL_PROTO, network placement) if the transfer '
       || 'itself is slow.',
       perfetto_url(p.rank, l.t, l.t + l.len)
FROM per_rank p LEFT JOIN named n USING (rank) LEFT JOIN longest l USING (rank)
WHERE p.pct >= threshold('exposed_communication', 'pct_of_total');
