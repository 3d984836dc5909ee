-- analysis/ownership.sql (version 1): who owns each GPU activity: phase, module, annotation.
-- Reads: gpu_activities, host_ranges, events.   Used by: attribution, annotations, reports.
--
-- DESIGN.md: the owner is the innermost range of the wanted kind (the latest started, ranges
-- can be ill-nested) enclosing the activity's launch on the launching thread. Phases: where
-- that thread has none (autograd threads), the innermost phase range open at launch on
-- another thread of the process. Modules and annotations: backward work outside any module
-- range belongs to the module of the forward op with the same `Sequence number`: the launch
-- sits inside an autograd op (`autograd::engine::evaluate_function: …` or `…Backward…`) whose
-- sequence number is carried by a forward op on another thread or earlier in time.
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
-- @column via_sequence true where module/annotation came through the Sequence number
CREATE OR REPLACE TABLE gpu_owners AS
WITH seq_ops AS (
    SELECT rank, pid, tid, ts, ts + dur AS end_ts, name,
           TRY_CAST(json_extract_string(args, '$."Sequence number"') AS BIGINT) AS seq_nr,
           (name LIKE 'autograd::engine::evaluate_function:%' OR name LIKE '%Backward%') AS is_bwd
    FROM events
    WHERE ph = 'X' AND cat IN ('cpu_op', 'Operator') AND args IS NOT NULL
      AND json_exists(args, '$."Sequence number"')
),
tracks AS (
    SELECT rank, pid, tid,
           dense_rank() OVER (ORDER BY rank, pid, tid) AS thread_no,
           dense_rank() OVER (ORDER BY rank, pid) AS proc_no
    FROM (SELECT rank, pid, tid FROM host_ranges
          UNION SELECT rank, launch_pid, launch_tid FROM gpu_activities WHERE launch_pid IS NOT NULL
          UNION SELECT rank, pid, tid FROM seq_ops)
),
launches AS (
    SELECT g.activity_id, g.rank, g.class, g.ts, g.ts + g.dur AS end_ts, g.launch_ts,
           t.thread_no, t.proc_no
    FROM gpu_activities g
    LEFT JOIN tracks t ON t.rank = g.rank AND t.pid = g.launch_pid AND t.tid = g.launch_tid
),
ranges AS (
    SELECT h.*, t.thread_no, t.proc_no
    FROM host_ranges h JOIN tracks t USING (rank, pid, tid)
    WHERE h.kind IN ('phase', 'module', 'annotation')
),
phase_thread AS (
    SELECT l.activity_id, arg_max(r.label, r.ts) AS phase
    FROM launches l JOIN ranges r
      ON r.kind = 'phase'
     AND tkey(l.thread_no, l.launch_ts) >= tkey(r.thread_no, r.ts)
     AND tkey(l.thread_no, l.launch_ts) < tkey(r.thread_no, r.end_ts)
    GROUP BY l.activity_id
),
phase_process AS (
    SELECT l.activity_id, arg_max(r.label, r.ts) AS phase
    FROM launches l JOIN ranges r
      ON r.kind = 'phase'
     AND tkey(l.proc_no, l.launch_ts) >= tkey(r.proc_no, r.ts)
     AND tkey(l.proc_no, l.launch_ts) < tkey(r.proc_no, r.end_ts)
    GROUP BY l.activity_id
),
module_thread AS (
    SELECT l.activity_id,
           arg_max(r.label, r.ts) AS module_path,
           arg_max(r.module_group, r.ts) AS module_group,
           arg_max(r.direction, r.ts) AS direction
    FROM launches l JOIN ranges r
      ON r.kind = 'module'
     AND tkey(l.thread_no, l.launch_ts) >= tkey(r.thread_no, r.ts)
     AND tkey(l.thread_no, l.launch_ts) < tkey(r.thread_no, r.end_ts)
    GROUP BY l.activity_id
),
annotation_thread AS (
    SELECT l.activity_id, arg_max(r.range_id, r.ts) AS annotation_id,
           arg_max(r.direction, r.ts) AS direction
    FROM launches l JOIN ranges r
      ON r.kind = 'annotation'
     AND tkey(l.thread_no, l.launch_ts) >= tkey(r.thread_no, r.ts)
     AND tkey(l.thread_no, l.launch_ts) < tkey(r.thread_no, r.end_ts)
    GROUP BY l.activity_id
),
ops AS (SELECT s.*, t.thread_no FROM seq_ops s JOIN tracks t USING (rank, pid, tid)),
-- the innermost autograd (backward) op around each launch
bwd_op AS (
    SELECT l.activity_id, l.rank, arg_max(o.seq_nr, o.ts) AS seq_nr
    FROM launches l JOIN ops o
      ON o.is_bwd
     AND tkey(l.thread_no, l.launch_ts) >= tkey(o.thread_no, o.ts)
     AND tkey(l.thread_no, l.launch_ts) < tkey(o.thread_no, o.end_ts)
    GROUP BY l.activity_id, l.rank
),
-- the forward op of each sequence number (the first op carrying it that is not backward)
fwd_op AS (
    SELECT rank, seq_nr, arg_min(thread_no, ts) AS thread_no, min(ts) AS ts
    FROM ops WHERE NOT is_bwd AND seq_nr IS NOT NULL
    GROUP BY rank, seq_nr
),
fwd_module AS (
    SELECT f.rank, f.seq_nr,
           arg_max(r.label, r.ts) FILTER (WHERE r.kind = 'module') AS module_path,
           arg_max(r.module_group, r.ts) FILTER (WHERE r.kind = 'module') AS module_group,
           arg_max(r.range_id, r.ts) FILTER (WHERE r.kind = 'annotation') AS annotation_id
    FROM fwd_op f JOIN ranges r
      ON r.kind IN ('module', 'annotation')
     AND tkey(f.thread_no, f.ts) >= tkey(r.thread_no, r.ts)
     AND tkey(f.thread_no, f.ts) < tkey(r.thread_no, r.end_ts)
    GROUP BY f.rank, f.seq_nr
)
SELECT
    l.activity_id, l.rank, l.class, l.ts, l.end_ts,
    coalesce(pt.phase, pp.phase, 'elsewhere') AS phase,
    CASE WHEN mt.activity_id IS NOT NULL THEN mt.module_path ELSE fm.module_path END AS module_path,
    CASE WHEN mt.activity_id IS NOT NULL THEN mt.module_group ELSE fm.module_group END AS module_group,
    CASE WHEN coalesce(pt.phase, pp.phase) = 'backward' OR b.seq_nr IS NOT NULL
              OR coalesce(mt.direction, an.direction) = 'bwd' THEN 'bwd'
         ELSE 'fwd' END AS direction,
    -- backward work outside module ranges: the forward op's annotation, not the enclosing
    -- "[pl][profile]…backward" range
    CASE WHEN mt.activity_id IS NULL AND fm.seq_nr IS NOT NULL THEN fm.annotation_id
         ELSE an.annotation_id END AS annotation_id,
    (mt.activity_id IS NULL AND fm.seq_nr IS NOT NULL) AS via_sequence
FROM launches l
LEFT JOIN phase_thread pt USING (activity_id)
LEFT JOIN phase_process pp USING (activity_id)
LEFT JOIN module_thread mt USING (activity_id)
LEFT JOIN annotation_thread an USING (activity_id)
LEFT JOIN bwd_op b USING (activity_id)
LEFT JOIN fwd_module fm ON fm.rank = b.rank AND fm.seq_nr = b.seq_nr;
