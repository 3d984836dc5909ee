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
-- Range joins run on precomputed track keys (tkey, macros.sql) in scratch tables, which
-- DuckDB answers with an inequality join; keys computed inside the join condition are not.
CREATE OR REPLACE TEMP TABLE own_seq_ops AS
SELECT rank, pid, tid, ts, ts + dur AS end_ts,
       TRY_CAST(json_extract_string(args, '$."Sequence number"') AS BIGINT) AS seq_nr,
       (name LIKE 'autograd::engine::evaluate_function:%' OR name LIKE '%Backward%') AS is_bwd
FROM events
WHERE ph = 'X' AND cat IN ('cpu_op', 'Operator') AND args IS NOT NULL
  AND json_exists(args, '$."Sequence number"');

CREATE OR REPLACE TEMP TABLE own_tracks AS
SELECT rank, pid, tid,
       dense_rank() OVER (ORDER BY rank, pid, tid) AS thread_no,
       dense_rank() OVER (ORDER BY rank, pid) AS proc_no
FROM (SELECT rank, pid, tid FROM host_ranges
      UNION SELECT rank, launch_pid, launch_tid FROM gpu_activities WHERE launch_pid IS NOT NULL
      UNION SELECT rank, pid, tid FROM own_seq_ops);

CREATE OR REPLACE TEMP TABLE own_launches AS
SELECT g.activity_id, g.rank, g.class, g.ts, g.ts + g.dur AS end_ts,
       tkey(t.thread_no, g.launch_ts) AS tk, tkey(t.proc_no, g.launch_ts) AS pk
FROM gpu_activities g
LEFT JOIN own_tracks t ON t.rank = g.rank AND t.pid = g.launch_pid AND t.tid = g.launch_tid;

-- one table per kind: DuckDB plans the inequality join for plain tables, not filtered ones
CREATE OR REPLACE TEMP TABLE own_ranges AS
SELECT h.range_id, h.kind, h.label, h.module_group, h.direction, h.ts,
       tkey(t.thread_no, h.ts) AS tks, tkey(t.thread_no, h.end_ts) AS tke,
       tkey(t.proc_no, h.ts) AS pks, tkey(t.proc_no, h.end_ts) AS pke
FROM host_ranges h JOIN own_tracks t USING (rank, pid, tid)
WHERE h.kind IN ('phase', 'module', 'annotation');
CREATE OR REPLACE TEMP TABLE own_phases AS SELECT * FROM own_ranges WHERE kind = 'phase';
CREATE OR REPLACE TEMP TABLE own_modules AS SELECT * FROM own_ranges WHERE kind = 'module';
CREATE OR REPLACE TEMP TABLE own_annotations AS SELECT * FROM own_ranges WHERE kind = 'annotation';

CREATE OR REPLACE TEMP TABLE own_ops AS
SELECT o.rank, o.seq_nr, o.is_bwd, o.ts,
       tkey(t.thread_no, o.ts) AS tks, tkey(t.thread_no, o.end_ts) AS tke
FROM own_seq_ops o JOIN own_tracks t USING (rank, pid, tid);
CREATE OR REPLACE TEMP TABLE own_bwd_ops AS SELECT * FROM own_ops WHERE is_bwd;

-- the forward op of each sequence number: the first op carrying it that is not backward
CREATE OR REPLACE TEMP TABLE own_fwd_ops AS
SELECT rank, seq_nr, arg_min(tks, ts) AS tk
FROM own_ops WHERE NOT is_bwd AND seq_nr IS NOT NULL
GROUP BY rank, seq_nr;

CREATE OR REPLACE TABLE gpu_owners AS
WITH phase_thread AS (
    SELECT l.activity_id, arg_max(r.label, r.ts) AS phase
    FROM own_launches l JOIN own_phases r ON l.tk >= r.tks AND l.tk < r.tke
    GROUP BY l.activity_id
),
phase_process AS (
    SELECT l.activity_id, arg_max(r.label, r.ts) AS phase
    FROM own_launches l JOIN own_phases r ON l.pk >= r.pks AND l.pk < r.pke
    GROUP BY l.activity_id
),
module_thread AS (
    SELECT l.activity_id,
           arg_max(r.label, r.ts) AS module_path,
           arg_max(r.module_group, r.ts) AS module_group,
           arg_max(r.direction, r.ts) AS direction
    FROM own_launches l JOIN own_modules r ON l.tk >= r.tks AND l.tk < r.tke
    GROUP BY l.activity_id
),
annotation_thread AS (
    SELECT l.activity_id, arg_max(r.range_id, r.ts) AS annotation_id,
           arg_max(r.direction, r.ts) AS direction
    FROM own_launches l JOIN own_annotations r ON l.tk >= r.tks AND l.tk < r.tke
    GROUP BY l.activity_id
),
-- the innermost autograd (backward) op around each launch
bwd_op AS (
    SELECT l.activity_id, l.rank, arg_max(o.seq_nr, o.ts) AS seq_nr
    FROM own_launches l JOIN own_bwd_ops o
      ON l.tk >= o.tks AND l.tk < o.tke
    GROUP BY l.activity_id, l.rank
),
fwd_module AS (
    SELECT f.rank, f.seq_nr, arg_max(r.label, r.ts) AS module_path,
           arg_max(r.module_group, r.ts) AS module_group
    FROM own_fwd_ops f JOIN own_modules r ON f.tk >= r.tks AND f.tk < r.tke
    GROUP BY f.rank, f.seq_nr
),
fwd_annotation AS (
    SELECT f.rank, f.seq_nr, arg_max(r.range_id, r.ts) AS annotation_id
    FROM own_fwd_ops f JOIN own_annotations r ON f.tk >= r.tks AND f.tk < r.tke
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
    CASE WHEN mt.activity_id IS NULL AND fa.seq_nr IS NOT NULL THEN fa.annotation_id
         ELSE an.annotation_id END AS annotation_id,
    (mt.activity_id IS NULL AND (fm.seq_nr IS NOT NULL OR fa.seq_nr IS NOT NULL)) AS via_sequence
FROM own_launches l
LEFT JOIN phase_thread pt USING (activity_id)
LEFT JOIN phase_process pp USING (activity_id)
LEFT JOIN module_thread mt USING (activity_id)
LEFT JOIN annotation_thread an USING (activity_id)
LEFT JOIN bwd_op b USING (activity_id)
LEFT JOIN fwd_module fm ON fm.rank = b.rank AND fm.seq_nr = b.seq_nr
LEFT JOIN fwd_annotation fa ON fa.rank = b.rank AND fa.seq_nr = b.seq_nr;
