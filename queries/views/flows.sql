-- views/flows.sql (version 3): flow events paired into arrows, orphans kept; the pairing rule.
-- Reads: events.   Used by: users, analysis/ownership.sql (flow_sides).
--
-- Starts (ph 's') and ends ('f'; 't' steps are kept as ends too) pair by (file, cat, id) in
-- time order (at equal ts, file order). Real traces hold many ac2g ends whose start was never written, and starts
-- whose end is missing: those rows have the missing side NULL and status saying which.
--
-- @view flows          one row per flow (pair, or orphan start / end)
-- @column rank         rank of the trace file
-- @column file_id      trace_files.file_id
-- @column cat          flow category (ac2g, fwdbwd, async_cpu_to_gpu, async, …)
-- @column id           flow id
-- @column status       'paired', 'no end' or 'no start'
-- @column start_ts     start time, ns
-- @column start_pid    start process
-- @column start_tid    start thread
-- @column end_ts       end time, ns
-- @column end_pid      end process
-- @column end_tid      end thread
-- @column end_bp       binding point of the end ('e': enclosing slice)
-- flow_sides(t): the flow events of t (columns of `events`) numbered for pairing: is_start
-- (ph 's'; 'f' and 't' are ends) and k, their order within their (file, cat, id) and side; the
-- k-th start pairs with the k-th end. One rule for this view and for analysis/ownership.sql
-- (which pairs the fwdbwd flows alone: this view pairs every ac2g arrow too).
CREATE OR REPLACE MACRO flow_sides(t) AS TABLE
SELECT *, ph = 's' AS is_start,
       row_number() OVER (PARTITION BY file_id, cat, id, ph = 's' ORDER BY ts, event_id) AS k
FROM query_table(t) WHERE ph IN ('s', 'f', 't');

CREATE OR REPLACE VIEW flows AS
WITH sides AS (SELECT * FROM flow_sides(events)),
starts AS (SELECT * FROM sides WHERE is_start),
ends AS (SELECT * FROM sides WHERE NOT is_start)
SELECT
    coalesce(s.rank, e.rank) AS rank,
    coalesce(s.file_id, e.file_id) AS file_id,
    coalesce(s.cat, e.cat) AS cat,
    coalesce(s.id, e.id) AS id,
    CASE WHEN s.id IS NULL THEN 'no start' WHEN e.id IS NULL THEN 'no end' ELSE 'paired' END AS status,
    s.ts AS start_ts, s.pid AS start_pid, s.tid AS start_tid,
    e.ts AS end_ts, e.pid AS end_pid, e.tid AS end_tid, e.bp AS end_bp
FROM starts s
FULL OUTER JOIN ends e
  ON s.file_id = e.file_id AND s.cat IS NOT DISTINCT FROM e.cat AND s.id = e.id AND s.k = e.k;
