-- analysis/ownership.sql (version 4): who owns each GPU activity: phase, module, annotation.
-- Reads: gpu_activities, host_ranges, events (its fwdbwd flow events, paired by flow_sides of views/flows.sql), batches, interval_tracks.
-- Used by: attribution, annotations, rules, reports.
--
-- DESIGN.md: the owner is the innermost range of the wanted kind (intervals/order.sql: later
-- start, then earlier end, then later in the file) enclosing the activity's launch on the
-- launching thread. Phases: where that thread has none (autograd threads), the innermost
-- phase range open at launch on another thread of the process; work launched under an
-- autograd op (`autograd::engine::evaluate_function: …`, `…Backward…`) is backward where the
-- rank has no backward phase range of its own (traces without Lightning).
-- Backward work outside module ranges belongs to the module (and annotation) of the forward
-- op that created its autograd node:
--   1. the `fwdbwd` flow whose end lies in the backward op (its start is the forward op);
--   2. else the op that created the node from `Sequence number`: the outermost op carrying
--      that number on the forward thread (`Fwd thread id`, mapped to the thread whose ops
--      carry those numbers), starting before the backward op and in the same batch, and not
--      inside an optimizer phase range (ops that create no node, e.g. `aten::zero_` in
--      `Optimizer.zero_grad`, carry the current counter too).
-- Direction: 'bwd' in the backward phase, under an autograd op, or in a range named "… bwd";
-- else 'fwd'. Gradient-checkpoint recompute runs inside backward, so it is 'bwd'.
--
-- @table gpu_owners    one row per GPU activity
-- @column activity_id  gpu_activities.activity_id
-- @column rank         rank
-- @column class        computation | communication | memory
-- @column ts           start, ns
-- @column end_ts       end, ns
-- @column phase        forward | backward | optimizer | data_loader | elsewhere
-- @column module_path  module path of the owning module range (NULL: none)
-- @column module_group encoder | processor | decoder (NULL: none)
-- @column direction    fwd | bwd
-- @column annotation_id host_ranges.range_id of the owning annotation (NULL: none)
-- @column via_sequence true where module/annotation came from the forward op of the
--                      backward work (fwdbwd flow or Sequence number)
-- @column forward_link how that forward op was found: 'flow', 'sequence', or NULL
-- Range joins run on track keys (tkey) in plain scratch tables, which DuckDB answers with an
-- inequality join (intervals/innermost.sql).

-- ops that carry a Sequence number (forward ops and autograd backward ops)
CREATE OR REPLACE TEMP TABLE own_seq_ops AS
SELECT e.event_id, e.rank, e.pid, e.tid, e.ts, e.ts + e.dur AS end_ts,
       TRY_CAST(json_extract_string(e.args, '$."Sequence number"') AS BIGINT) AS seq_nr,
       TRY_CAST(json_extract_string(e.args, '$."Fwd thread id"') AS BIGINT) AS fwd_thread,
       (e.name LIKE 'autograd::engine::evaluate_function:%' OR e.name LIKE '%Backward%') AS is_bwd,
       t.thread_no
FROM events e JOIN interval_tracks t USING (rank, pid, tid)
WHERE e.ph = 'X' AND e.cat IN ('cpu_op', 'Operator') AND e.args IS NOT NULL
  AND json_exists(e.args, '$."Sequence number"');

CREATE OR REPLACE TEMP TABLE own_launches AS
SELECT g.activity_id AS point_id, g.activity_id, g.rank, g.class, g.ts, g.ts + g.dur AS end_ts,
       g.launch_ts, t.thread_no,
       tkey(t.thread_no, g.launch_ts) AS k, tkey(t.proc_no, g.launch_ts) AS pk
FROM gpu_activities g
LEFT JOIN interval_tracks t ON t.rank = g.rank AND t.pid = g.launch_pid AND t.tid = g.launch_tid;

-- ranges of each kind keyed on their thread (ks, ke) and on their process (pks, pke);
-- kind_no numbers the kinds for the one range join that serves them all
CREATE OR REPLACE TEMP TABLE own_ranges AS
SELECT h.range_id, h.range_id AS event_id, h.rank, h.kind, h.label, h.module_group, h.direction,
       h.ts, h.end_ts, t.thread_no,
       CASE h.kind WHEN 'phase' THEN 0 WHEN 'module' THEN 1 ELSE 2 END AS kind_no,
       tkey(t.thread_no, h.ts) AS ks, tkey(t.thread_no, h.end_ts) AS ke,
       tkey(t.proc_no, h.ts) AS pks, tkey(t.proc_no, h.end_ts) AS pke
FROM host_ranges h JOIN interval_tracks t USING (rank, pid, tid)
WHERE h.kind IN ('phase', 'module', 'annotation');
CREATE OR REPLACE TEMP TABLE own_phases AS SELECT * FROM own_ranges WHERE kind = 'phase';
CREATE OR REPLACE TEMP TABLE own_phases_proc AS
SELECT range_id, event_id, ts, end_ts, pks AS ks, pke AS ke FROM own_phases;
CREATE OR REPLACE TEMP TABLE own_bwd_ops AS
SELECT event_id AS range_id, event_id, rank, seq_nr, fwd_thread, thread_no, ts, end_ts,
       tkey(thread_no, ts) AS ks, tkey(thread_no, end_ts) AS ke
FROM own_seq_ops WHERE is_bwd;
-- every range a launch can have on its thread: phase 0, module 1, annotation 2, backward op 3
CREATE OR REPLACE TEMP TABLE own_thread_ranges AS
SELECT range_id, event_id, kind_no, ts, end_ts, ks, ke FROM own_ranges
UNION ALL
SELECT range_id, event_id, 3, ts, end_ts, ks, ke FROM own_bwd_ops;

-- the innermost range of each kind around each launch (one range join for all kinds)
CREATE OR REPLACE TEMP TABLE own_launch_thread AS
SELECT * FROM innermost_enclosing_by_kind(own_launches, own_thread_ranges);
-- the process's phase only counts where the launching thread has none: look only there
CREATE OR REPLACE TEMP TABLE own_launch_proc AS
SELECT l.activity_id AS point_id, l.pk AS k FROM own_launches l
WHERE NOT EXISTS (SELECT 1 FROM own_launch_thread x JOIN own_ranges r USING (range_id, kind_no)
                  WHERE x.kind_no = 0 AND x.point_id = l.activity_id AND r.label IS NOT NULL);
CREATE OR REPLACE TEMP TABLE own_phase_process AS
SELECT * FROM innermost_enclosing(own_launch_proc, own_phases_proc);
CREATE OR REPLACE TEMP TABLE own_bwd_launch AS
SELECT point_id, range_id FROM own_launch_thread WHERE kind_no = 3;

-- Forward ops that may have created an autograd node: not backward, not in an optimizer phase
-- range (innermost phase at their start), outermost among the ops with their number on their
-- thread (an op nested in another op with the same number did not create the node).
CREATE OR REPLACE TEMP TABLE own_fwd_points AS
SELECT event_id AS point_id, tkey(thread_no, ts) AS k FROM own_seq_ops WHERE NOT is_bwd;
CREATE OR REPLACE TEMP TABLE own_fwd_phase AS
SELECT * FROM innermost_enclosing(own_fwd_points, own_phases);
CREATE OR REPLACE TEMP TABLE own_fwd_candidates AS
SELECT o.event_id, o.rank, o.thread_no, o.seq_nr, o.ts
FROM (
    SELECT *, max(end_ts) OVER (PARTITION BY rank, thread_no, seq_nr ORDER BY ts, end_ts DESC, event_id
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS outer_end
    FROM own_seq_ops o
    WHERE NOT is_bwd AND seq_nr IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM own_fwd_phase fp JOIN own_phases p ON p.range_id = fp.range_id
                      WHERE fp.point_id = o.event_id AND p.label = 'optimizer')
) o
WHERE outer_end IS NULL OR ts >= outer_end;

-- `Fwd thread id` is the profiler's thread index, not a tid: map it to the thread whose
-- forward ops carry the most of the sequence numbers its backward ops name
CREATE OR REPLACE TEMP TABLE own_fwd_thread_map AS
SELECT rank, fwd_thread, arg_max(thread_no, (n, -thread_no)) AS thread_no
FROM (
    SELECT b.rank, b.fwd_thread, c.thread_no, count(*) AS n
    FROM (SELECT DISTINCT rank, fwd_thread, seq_nr FROM own_bwd_ops WHERE seq_nr IS NOT NULL) b
    JOIN (SELECT DISTINCT rank, thread_no, seq_nr FROM own_fwd_candidates) c USING (rank, seq_nr)
    GROUP BY ALL
)
GROUP BY rank, fwd_thread;

-- the batch each backward op starts in: of the batches open at its start, the one that started
-- last (the innermost's start; batches are keyed on their rank's track)
CREATE OR REPLACE TEMP TABLE own_bwd_op_points AS
SELECT range_id AS point_id, tkey(rank, ts) AS k FROM own_bwd_ops;
CREATE OR REPLACE TEMP TABLE own_batch_ranges AS
SELECT ts AS range_id, ts AS event_id, ts, end_ts, tkey(rank, ts) AS ks, tkey(rank, end_ts) AS ke
FROM batches;
CREATE OR REPLACE TEMP TABLE own_bwd_batch AS
SELECT point_id, range_id AS batch_ts FROM innermost_enclosing(own_bwd_op_points, own_batch_ranges);

-- the backward op around each backward launch, with the batch it runs in
CREATE OR REPLACE TEMP TABLE own_bwd_work AS
SELECT l.activity_id, l.rank, l.launch_ts, b.seq_nr, b.ts AS bwd_ts, b.end_ts AS bwd_end,
       b.thread_no AS bwd_thread, m.thread_no AS fwd_thread_no,
       coalesce(bb.batch_ts, 0) AS batch_ts
FROM own_bwd_launch bl
JOIN own_launches l ON l.activity_id = bl.point_id
JOIN own_bwd_ops b ON b.range_id = bl.range_id
LEFT JOIN own_fwd_thread_map m ON m.rank = b.rank AND m.fwd_thread IS NOT DISTINCT FROM b.fwd_thread
LEFT JOIN own_bwd_batch bb ON bb.point_id = b.range_id;

-- 1. fwdbwd flows: the end binds to the backward op it lies in; the start is the forward op.
-- The pairs of views/flows.sql ('paired' rows, its flow_sides rule), of the fwdbwd events
-- alone: the view pairs every category (all ac2g arrows too) before a filter can reach them.
CREATE OR REPLACE TEMP VIEW own_fwdbwd_events AS SELECT * FROM events WHERE cat = 'fwdbwd';
CREATE OR REPLACE TEMP TABLE own_flow_points AS
WITH ev AS (SELECT * FROM flow_sides(own_fwdbwd_events))
SELECT row_number() OVER (ORDER BY e.rank, e.ts, s.ts, e.id) AS point_id,
       e.rank, tkey(te.thread_no, e.ts) AS k, ts_.thread_no AS fwd_thread_no, s.ts AS start_ts
FROM ev s
JOIN ev e ON e.file_id = s.file_id AND e.id = s.id AND e.k = s.k AND NOT e.is_start
JOIN interval_tracks te ON te.rank = e.rank AND te.pid = e.pid AND te.tid = e.tid
JOIN interval_tracks ts_ ON ts_.rank = s.rank AND ts_.pid = s.pid AND ts_.tid = s.tid
WHERE s.is_start;
CREATE OR REPLACE TEMP TABLE own_flow_links AS
SELECT b.range_id AS bwd_op, b.rank, b.seq_nr, p.fwd_thread_no, p.start_ts
FROM innermost_enclosing(own_flow_points, own_bwd_ops) x
JOIN own_flow_points p ON p.point_id = x.point_id
JOIN own_bwd_ops b ON b.range_id = x.range_id;

-- per backward launch, where its forward op ran: by flow (same number, the flow that ended
-- last before the launch), else by sequence number
CREATE OR REPLACE TEMP TABLE own_fwd_of AS
WITH by_flow AS (
    SELECT w.activity_id, arg_max(f.fwd_thread_no, (f.start_ts, f.bwd_op)) AS thread_no,
           max(f.start_ts) AS ts
    FROM own_bwd_work w
    JOIN own_flow_links f ON f.rank = w.rank AND f.seq_nr = w.seq_nr
     AND f.start_ts <= w.bwd_end AND f.start_ts >= w.batch_ts
    JOIN own_bwd_ops b ON b.range_id = f.bwd_op AND b.ts <= w.launch_ts
    GROUP BY w.activity_id
),
by_sequence AS (
    SELECT w.activity_id, arg_max(c.thread_no, (c.ts, c.event_id)) AS thread_no,
           max(c.ts) AS ts
    FROM own_bwd_work w
    JOIN own_fwd_candidates c ON c.rank = w.rank AND c.seq_nr = w.seq_nr
     AND c.ts < w.bwd_ts AND c.ts >= w.batch_ts
     AND (w.fwd_thread_no IS NULL OR c.thread_no = w.fwd_thread_no)
    WHERE w.activity_id NOT IN (SELECT activity_id FROM by_flow)
    GROUP BY w.activity_id
)
SELECT activity_id AS point_id, tkey(thread_no, ts) AS k, 'flow' AS link FROM by_flow
UNION ALL
SELECT activity_id, tkey(thread_no, ts), 'sequence' FROM by_sequence;

-- the innermost module (1) and annotation (2) around each forward op found
-- (looked up once per forward op: many backward launches share one)
CREATE OR REPLACE TEMP TABLE own_fwd_keys AS
SELECT DISTINCT k AS point_id, k FROM own_fwd_of WHERE k IS NOT NULL;
CREATE OR REPLACE TEMP TABLE own_fwd_ranges AS
SELECT range_id, event_id, kind_no, ts, end_ts, ks, ke FROM own_ranges WHERE kind_no IN (1, 2);
CREATE OR REPLACE TEMP TABLE own_fwd_owner AS
SELECT f.point_id, x.kind_no, x.range_id
FROM own_fwd_of f JOIN innermost_enclosing_by_kind(own_fwd_keys, own_fwd_ranges) x ON x.point_id = f.k;

-- ranks whose phase ranges say where backward is (Lightning's .backward range)
CREATE OR REPLACE TEMP TABLE own_backward_ranks AS
SELECT DISTINCT rank FROM host_ranges WHERE kind = 'phase' AND label = 'backward';

CREATE OR REPLACE TABLE gpu_owners AS
SELECT
    l.activity_id, l.rank, l.class, l.ts, l.end_ts,
    CASE WHEN bl.point_id IS NOT NULL AND l.rank NOT IN (SELECT rank FROM own_backward_ranks)
              THEN 'backward'
         ELSE coalesce(pt.label, pp.label, 'elsewhere') END AS phase,
    CASE WHEN mt.point_id IS NOT NULL THEN mt.label ELSE fm.label END AS module_path,
    CASE WHEN mt.point_id IS NOT NULL THEN mt.module_group ELSE fm.module_group END AS module_group,
    CASE WHEN coalesce(pt.label, pp.label) = 'backward' OR bl.point_id IS NOT NULL
              OR coalesce(mt.direction, an.direction) = 'bwd' THEN 'bwd'
         ELSE 'fwd' END AS direction,
    -- backward work outside module ranges: the forward op's annotation, not the enclosing
    -- "[pl][profile]…backward" range
    CASE WHEN mt.point_id IS NULL AND fa.point_id IS NOT NULL THEN fa.range_id
         ELSE an.range_id END AS annotation_id,
    (mt.point_id IS NULL AND (fm.point_id IS NOT NULL OR fa.point_id IS NOT NULL)) AS via_sequence,
    CASE WHEN mt.point_id IS NULL AND (fm.point_id IS NOT NULL OR fa.point_id IS NOT NULL)
         THEN fo.link END AS forward_link
FROM own_launches l
LEFT JOIN (SELECT x.point_id, r.label FROM own_launch_thread x JOIN own_ranges r USING (range_id, kind_no)
           WHERE x.kind_no = 0) pt
       ON pt.point_id = l.activity_id
LEFT JOIN (SELECT x.point_id, r.label FROM own_phase_process x JOIN own_phases r USING (range_id)) pp
       ON pp.point_id = l.activity_id
LEFT JOIN (SELECT x.point_id, r.label, r.module_group, r.direction
           FROM own_launch_thread x JOIN own_ranges r USING (range_id, kind_no) WHERE x.kind_no = 1) mt
       ON mt.point_id = l.activity_id
LEFT JOIN (SELECT x.point_id, x.range_id, r.direction
           FROM own_launch_thread x JOIN own_ranges r USING (range_id, kind_no) WHERE x.kind_no = 2) an
       ON an.point_id = l.activity_id
LEFT JOIN own_bwd_launch bl ON bl.point_id = l.activity_id
LEFT JOIN own_fwd_of fo ON fo.point_id = l.activity_id
LEFT JOIN (SELECT x.point_id, r.label, r.module_group
           FROM own_fwd_owner x JOIN own_ranges r USING (range_id, kind_no) WHERE x.kind_no = 1) fm
       ON fm.point_id = l.activity_id
LEFT JOIN (SELECT point_id, range_id FROM own_fwd_owner WHERE kind_no = 2) fa
       ON fa.point_id = l.activity_id;
