-- views/flows.sql (version 2): flow events paired into arrows, orphans kept.
-- Reads: events.
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
CREATE OR REPLACE VIEW flows AS
WITH starts AS (
    SELECT rank, file_id, cat, id, ts, pid, tid,
           row_number() OVER (PARTITION BY file_id, cat, id ORDER BY ts, event_id) AS k
    FROM events WHERE ph = 's'
),
ends AS (
    SELECT rank, file_id, cat, id, ts, pid, tid, bp,
           row_number() OVER (PARTITION BY file_id, cat, id ORDER BY ts, event_id) AS k
    FROM events WHERE ph IN ('f', 't')
)
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
