-- analysis/annotations.sql (version 2): the annotation table: GPU time per annotation name.
-- Reads: attribution (dim 'annotation'), host_ranges, analysis_window.   Used by: reports.
--
-- DESIGN.md: per annotation name, forward and backward rows apart: calls, GPU time (per
-- instance, the union of the GPU activities it owns, summed), avg / max / min per call, and
-- overlap % (the share of its GPU time during which GPU work owned by someone else runs).
-- Ownership is the innermost annotation (see ownership.sql), so a module's row holds the
-- work of no sub-module that has its own range. Instances are ranges starting in the window;
-- one that owns no GPU work is a call with 0 GPU time (direction from its name, else fwd).
--
-- @table annotation_stats  one row per (rank, name, direction)
-- @column rank         rank
-- @column name         annotation name
-- @column direction    fwd | bwd
-- @column module       module group (encoder, processor, decoder), NULL if none
-- @column calls        instances
-- @column gpu_total_ns summed per-instance GPU time, ns
-- @column avg_ns       gpu_total_ns / calls
-- @column max_ns       largest per-instance GPU time
-- @column min_ns       smallest per-instance GPU time
-- @column overlap_pct  overlapped GPU time / GPU time × 100 (NULL without GPU time)
CREATE OR REPLACE TABLE annotation_stats AS
WITH owned AS (
    SELECT rank, CAST(split_part(owner, ' ', 1) AS BIGINT) AS range_id,
           split_part(owner, ' ', 2) AS direction, gpu_ns, overlapped_ns
    FROM attribution WHERE dim = 'annotation' AND owner <> 'elsewhere'  -- idle time: no row
),
instances AS (
    SELECT h.rank, h.range_id, h.name, h.module_group
    FROM host_ranges h JOIN analysis_window w USING (rank)
    WHERE h.kind = 'annotation' AND h.ts >= w.ts AND h.ts < w.end_ts
),
calls AS (
    SELECT i.rank, i.name, i.module_group, o.direction, o.gpu_ns, o.overlapped_ns
    FROM owned o JOIN host_ranges i ON i.range_id = o.range_id AND i.kind = 'annotation'
    UNION ALL
    SELECT i.rank, i.name, i.module_group,
           coalesce(nullif(regexp_extract(i.name, ' (fwd|bwd)$', 1), ''), 'fwd'), 0, 0
    FROM instances i
    WHERE i.range_id NOT IN (SELECT range_id FROM owned)
)
SELECT rank, name, direction, min(module_group) AS module,
       count(*) AS calls,
       sum(gpu_ns) AS gpu_total_ns,
       sum(gpu_ns) / count(*) AS avg_ns,
       max(gpu_ns) AS max_ns,
       min(gpu_ns) AS min_ns,
       100.0 * sum(overlapped_ns) / nullif(sum(gpu_ns), 0) AS overlap_pct
FROM calls
GROUP BY rank, name, direction
ORDER BY rank, gpu_total_ns DESC, name, direction;
