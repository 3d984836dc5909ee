-- analysis/collectives.sql (version 3): collectives matched across ranks: transfer and wait.
-- Reads: gpu_activities, analysis_window, ranks.   Used by: cross-rank view, findings.
--
-- DESIGN.md: collectives are matched across ranks by order per (kernel name, stream): the
-- n-th such kernel of every rank is one collective. Transfer = the shortest duration among
-- the ranks (the time the data really took); wait = each rank's duration minus it (time spent
-- waiting in the kernel for the others). The rank that arrives last (latest start) is the
-- straggler (of ranks starting in the same ns, the highest rank). Only collectives seen on every rank are matched; a collective counts for a rank
-- when it starts inside that rank's window.
--
-- @table collective_matches  one row per (collective, rank)
-- @column activity_id  gpu_activities.activity_id of this rank's kernel
-- @column kind         AllReduce, AllGather, ReduceScatter, … (from the kernel name), else the name
-- @column name         kernel name
-- @column stream       stream id
-- @column seq          n: the n-th kernel of that name on that stream
-- @column rank         rank
-- @column ts           its start on this rank, ns
-- @column dur          its duration on this rank, ns
-- @column transfer_ns  shortest duration among the ranks, ns
-- @column wait_ns      dur − transfer_ns
-- @column arrival_ns   how much later than the first rank this rank started, ns
-- @column straggler    the rank that started last
-- @column in_window    whether it starts in this rank's analysis window
CREATE OR REPLACE TABLE collective_matches AS
WITH comm AS (
    SELECT activity_id, rank, name, stream, ts, dur,
           row_number() OVER (PARTITION BY rank, name, stream ORDER BY ts, dur, activity_id) AS seq
    FROM gpu_activities WHERE class = 'communication'
),
groups AS (
    SELECT name, stream, seq, count(*) AS n, min(dur) AS transfer_ns, min(ts) AS first_ts,
           arg_max(rank, (ts, rank)) AS straggler
    FROM comm GROUP BY ALL
)
SELECT c.activity_id,
       coalesce(nullif(regexp_extract(c.name,
           '(AllReduce|AllGather|ReduceScatter|Broadcast|AllToAll|SendRecv|Reduce|Send|Recv)', 1), ''),
           c.name) AS kind,
       c.name, c.stream, c.seq, c.rank, c.ts, c.dur, g.transfer_ns, c.dur - g.transfer_ns AS wait_ns,
       c.ts - g.first_ts AS arrival_ns, g.straggler,
       coalesce(c.ts >= w.ts AND c.ts < w.end_ts, false) AS in_window
FROM comm c
JOIN groups g USING (name, stream, seq)
LEFT JOIN analysis_window w ON w.rank = c.rank
WHERE g.n = (SELECT count(*) FROM ranks) AND g.n > 1
ORDER BY kind, name, stream, seq, rank;

-- The straggler, one definition for the rule (rules/straggler.sql) and the reports: the rank
-- that arrived last at the most matched collectives in the window (ties: the lowest rank), per
-- collective kind and over all kinds (kind NULL). No row where no collective is matched.
-- @view collective_straggler  one row per kind (and one with kind NULL: all kinds)
-- @column kind         collective kind, NULL for all kinds together
-- @column rank         the straggler
-- @column n_late       collectives it arrived last at
CREATE OR REPLACE VIEW collective_straggler AS
SELECT kind, arg_max(rank, (n_late, -rank)) AS rank, max(n_late) AS n_late
FROM (SELECT kind, straggler AS rank, count(DISTINCT (kind, name, stream, seq)) AS n_late
      FROM collective_matches WHERE in_window GROUP BY GROUPING SETS ((kind, straggler), (straggler)))
GROUP BY kind
ORDER BY kind NULLS FIRST;
