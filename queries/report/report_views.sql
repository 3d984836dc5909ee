-- report/report_views.sql (version 5): the numbers of a report, in seconds and percent.
-- Reads: analysis_window, gpu_time, attribution, annotation_stats, collective_matches,
--        rank_facts, analysis_patterns, ranks.   Used by: anemoi_tp/report (every format).
-- Missing numbers are NULL here (the one place that decides it: no window, no GPU activity,
-- no phase or module ranges); report_missing says why. The section_* views of
-- report_sections.sql read these.
--
-- @view report_ranks       one row per rank: the overview
-- @column rank             rank
-- @column batches          complete batches in the window
-- @column window_source    batch_ranges | profiler_steps | trace_span (analysis_window.source)
-- @column total_s          window length, s
-- @column throughput_it_s  batches / total_s
-- @column gpu_active_s     union of GPU activity, s
-- @column gpu_idle_s       total − active, s
-- @column gpu_idle_pct     idle / total × 100
-- @column comm_pct         union of communication / total × 100
-- @column computation_s    union of computation kernels, s
-- @column communication_s  union of communication kernels, s
-- @column memory_ops_s     union of memcpy / memset, s
-- @column data_loader_s    union of data-loader host ranges, s (NULL: the rank has none)
-- @column overlap_s        communication ∩ computation, s
-- @column overlap_pct_of_total  overlap / total × 100
-- @column overlap_pct_of_comm   overlap / communication × 100
-- @column overlap_pct_of_comp   overlap / computation × 100
CREATE OR REPLACE VIEW report_ranks AS
SELECT w.rank, w.batches, w.source AS window_source,
       w.total_ns / 1e9 AS total_s,
       w.throughput AS throughput_it_s,
       g.active_ns / 1e9 AS gpu_active_s,
       g.idle_ns / 1e9 AS gpu_idle_s,
       100.0 * g.idle_ns / w.total_ns AS gpu_idle_pct,
       100.0 * g.communication_ns / w.total_ns AS comm_pct,
       g.computation_ns / 1e9 AS computation_s,
       g.communication_ns / 1e9 AS communication_s,
       g.memory_ns / 1e9 AS memory_ops_s,
       -- no data-loader range at all: data loading is unknown, not 0 (report_missing says why)
       CASE WHEN w.ts IS NOT NULL AND f.data_loader_ranges > 0 THEN gt.data_loader_ns / 1e9 END AS data_loader_s,
       g.overlap_ns / 1e9 AS overlap_s,
       100.0 * g.overlap_ns / w.total_ns AS overlap_pct_of_total,
       100.0 * g.overlap_ns / nullif(g.communication_ns, 0) AS overlap_pct_of_comm,
       100.0 * g.overlap_ns / nullif(g.computation_ns, 0) AS overlap_pct_of_comp
FROM analysis_window w
LEFT JOIN gpu_time gt USING (rank)
LEFT JOIN rank_facts f USING (rank)
-- GPU numbers only where the rank has a window and GPU activity (else NULL, not 0)
LEFT JOIN gpu_time g ON g.rank = w.rank AND w.ts IS NOT NULL AND f.gpu_activities > 0
ORDER BY w.rank;

-- @view report_missing     one row per (rank, section) that cannot be computed
-- @column rank             rank
-- @column section          window | throughput | gpu | data_loader | phases | modules | collectives
-- @column reason           why
CREATE OR REPLACE VIEW report_missing AS
SELECT rank, 'window' AS section, missing AS reason FROM analysis_window WHERE missing IS NOT NULL
UNION ALL
SELECT rank, 'throughput', throughput_missing FROM analysis_window
WHERE missing IS NULL AND throughput_missing IS NOT NULL
UNION ALL
SELECT r.rank, 'gpu', 'no GPU activity (kernels, memcpy, memset) in the trace of this rank'
FROM rank_facts r WHERE r.gpu_activities = 0
UNION ALL
SELECT r.rank, 'data_loader', 'no data-loader ranges (Lightning''s [pl][profile]…train_dataloader_next, '
       || 'enumerate(DataLoader)#…, or the configured data_loader patterns)'
FROM rank_facts r WHERE r.data_loader_ranges = 0
UNION ALL
SELECT r.rank, 'phases', 'no phase ranges (Lightning [pl][profile] training_step, backward, '
       || 'optimizer_step; ## forward ##, ProfilerStep#N, Optimizer.step#…; or the configured '
       || 'phase patterns) and no work under autograd ops'
FROM rank_facts r WHERE r.phase_ranges = 0 AND r.owned_by_phase = 0
UNION ALL
SELECT r.rank, 'modules', 'no module ranges ([pl][module] …, "<Class> model.… fwd|bwd", '
       || 'or the configured module patterns)'
FROM rank_facts r WHERE r.module_ranges = 0
UNION ALL
SELECT NULL, 'collectives', CASE WHEN (SELECT count(*) FROM ranks) < 2
                                 THEN 'needs the traces of two or more ranks'
                                 ELSE 'no communication kernel is seen on every rank' END
WHERE NOT EXISTS (SELECT 1 FROM collective_matches)
ORDER BY rank NULLS FIRST, section;

-- @view report_breakdown   phase and module parts of each rank's window
-- @column rank             rank
-- @column dim              'phase' or 'module'
-- @column name             phase or module group: the labels of the patterns in their order
--                          (analysis_patterns.label_order; the data-loader phase after the
--                          phases), then any other owner by name, then 'elsewhere'
-- @column duration_s       its part of the window, s
-- @column pct              duration / total × 100 (the parts of a dim sum to 100)
-- @column comm_pct         share of its time in which its own activities communicate, %
CREATE OR REPLACE VIEW report_breakdown AS
WITH labelled AS (
    SELECT CASE WHEN kind = 'module_group' THEN 'module' ELSE 'phase' END AS dim, label AS name,
           1 AS tier, min(label_order) AS ord
    FROM analysis_patterns
    WHERE kind IN ('phase', 'phase_fallback', 'module_group') AND label <> 'elsewhere'
    GROUP BY ALL
    UNION ALL
    SELECT 'phase', 'data_loader', 2, 0
    WHERE EXISTS (SELECT 1 FROM analysis_patterns WHERE kind = 'data_loader')
      AND NOT EXISTS (SELECT 1 FROM analysis_patterns
                      WHERE kind IN ('phase', 'phase_fallback') AND label = 'data_loader')
),
-- every owner of the window split shows, so the parts sum to the window
names AS (
    SELECT dim, name, tier, ord FROM labelled
    UNION ALL
    SELECT DISTINCT a.dim, a.owner, 3, 0 FROM attribution a
    WHERE a.dim IN ('phase', 'module') AND a.owner <> 'elsewhere'
      AND NOT EXISTS (SELECT 1 FROM labelled l WHERE l.dim = a.dim AND l.name = a.owner)
    UNION ALL
    SELECT dim, 'elsewhere', 4, 0 FROM (VALUES ('phase'), ('module')) d(dim)
)
SELECT w.rank, n.dim, n.name,
       coalesce(a.duration_ns, 0) / 1e9 AS duration_s,
       100.0 * coalesce(a.duration_ns, 0) / w.total_ns AS pct,
       100.0 * coalesce(a.comm_ns, 0) / nullif(a.duration_ns, 0) AS comm_pct
FROM analysis_window w CROSS JOIN names n
LEFT JOIN attribution a ON a.rank = w.rank AND a.dim = n.dim AND a.owner = n.name
WHERE w.ts IS NOT NULL
  -- no rows for a rank whose phases / modules report_missing lists
  AND NOT EXISTS (SELECT 1 FROM report_missing m WHERE m.rank = w.rank
                  AND m.section = CASE n.dim WHEN 'phase' THEN 'phases' ELSE 'modules' END)
ORDER BY w.rank, n.dim DESC, n.tier, n.ord, n.name;

-- @view report_module_gpu  GPU time of each module group, forward and backward apart
-- @column rank             rank
-- @column module           module group (encoder, processor, decoder or a configured one)
-- @column direction        fwd | bwd
-- @column gpu_s            union of the GPU activities it owns in that direction, s
CREATE OR REPLACE VIEW report_module_gpu AS
SELECT rank, split_part(owner, ' ', 1) AS module, split_part(owner, ' ', 2) AS direction,
       gpu_ns / 1e9 AS gpu_s
FROM attribution a WHERE dim = 'module_dir' AND owner <> 'elsewhere'
  AND NOT EXISTS (SELECT 1 FROM report_missing m WHERE m.rank = a.rank
                  AND m.section IN ('window', 'gpu', 'modules'))
ORDER BY rank, module, direction DESC;

-- @view report_annotations the annotation table, times in µs / s
-- @column rank             rank
-- @column name             annotation name
-- @column direction        fwd | bwd
-- @column module           module group, NULL if none
-- @column calls            instances
-- @column gpu_total_s      summed per-instance GPU time, s
-- @column avg_us           per call, µs
-- @column max_us           largest instance, µs
-- @column min_us           smallest instance, µs
-- @column overlap_pct      share of its GPU time overlapped by others' GPU work, %
CREATE OR REPLACE VIEW report_annotations AS
SELECT rank, name, direction, module, calls, gpu_total_ns / 1e9 AS gpu_total_s,
       avg_ns / 1e3 AS avg_us, max_ns / 1e3 AS max_us, min_ns / 1e3 AS min_us, overlap_pct
FROM annotation_stats a
WHERE NOT EXISTS (SELECT 1 FROM report_missing m WHERE m.rank = a.rank AND m.section IN ('window', 'gpu'))
ORDER BY rank, gpu_total_ns DESC, name, direction;

-- @view report_collectives per (collective kind, rank): transfer and wait in the window
-- @column kind             AllReduce, AllGather, …
-- @column rank             rank
-- @column instances        matched collectives of that kind in the rank's window
-- @column transfer_s       summed transfer time, s
-- @column wait_s           summed wait time, s
-- @column last_arrivals    how many of them this rank arrived at last
-- @column straggler        whether it is the straggler of that kind (collective_straggler)
CREATE OR REPLACE VIEW report_collectives AS
SELECT c.kind, c.rank, count(*) AS instances, sum(c.transfer_ns) / 1e9 AS transfer_s,
       sum(c.wait_ns) / 1e9 AS wait_s, count(*) FILTER (WHERE c.straggler = c.rank) AS last_arrivals,
       coalesce(any_value(s.rank) = c.rank, false) AS straggler
FROM collective_matches c LEFT JOIN collective_straggler s ON s.kind = c.kind
WHERE c.in_window
GROUP BY c.kind, c.rank
ORDER BY c.kind, c.rank;
