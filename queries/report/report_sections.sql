-- report/report_sections.sql (version 2): one view per report section, in the units shown.
-- Reads: report_ranks, report_missing, report_breakdown, report_module_gpu, report_annotations,
--        report_collectives, report_links, batches, collective_matches, ranks, devices.
-- Used by: anemoi_tp/report/sections.py (one spec per section: every format prints these
-- rows). NULL is a number that cannot be computed (report_views.sql decides which).
--
-- @view section_rank_metrics  one row per rank: the metrics compared across ranks
-- @column rank             rank
-- @column host             host name (ranks.host), NULL if the trace does not say
-- @column step_ms          median length of its complete batches, ms (NULL: no batches)
-- @column gpu_idle_pct     GPU idle, % of the window
-- @column comm_wait_ms     time waiting for other ranks in matched collectives, ms (NULL: none matched)
-- @column data_loader_ms   union of data-loader ranges in the window, ms
CREATE OR REPLACE VIEW section_rank_metrics AS
SELECT r.rank, m.host,
       (SELECT median(b.end_ts - b.ts) / 1e6 FROM batches b WHERE b.rank = r.rank AND b.complete) AS step_ms,
       r.gpu_idle_pct,
       CASE WHEN EXISTS (SELECT 1 FROM collective_matches) THEN
           coalesce((SELECT sum(c.wait_ns) FROM collective_matches c WHERE c.rank = r.rank AND c.in_window), 0) / 1e6
       END AS comm_wait_ms,
       r.data_loader_s * 1e3 AS data_loader_ms
FROM report_ranks r LEFT JOIN ranks m USING (rank)
ORDER BY r.rank;

-- @view section_cross_rank  one row per metric: its spread across ranks and the worst rank
-- @column metric           step time | GPU idle | comm wait | data loading
-- @column unit             ms | %
-- @column ranks            ranks with a value
-- @column min              smallest value
-- @column median           median value
-- @column max              largest value
-- @column worst_rank       the rank with the largest value (ties: the lowest rank)
-- @column worst_host       its host
CREATE OR REPLACE VIEW section_cross_rank AS
WITH long AS (
    SELECT rank, host, 1 AS ord, 'step time' AS metric, 'ms' AS unit, step_ms AS v FROM section_rank_metrics
    UNION ALL SELECT rank, host, 2, 'GPU idle', '%', gpu_idle_pct FROM section_rank_metrics
    UNION ALL SELECT rank, host, 3, 'comm wait', 'ms', comm_wait_ms FROM section_rank_metrics
    UNION ALL SELECT rank, host, 4, 'data loading', 'ms', data_loader_ms FROM section_rank_metrics
)
SELECT metric, unit, count(v) AS ranks, min(v) AS min, median(v) AS median, max(v) AS max,
       arg_max(rank, (v, -rank)) FILTER (WHERE v IS NOT NULL) AS worst_rank,
       arg_max(host, (v, -rank)) FILTER (WHERE v IS NOT NULL) AS worst_host
FROM long GROUP BY metric, unit, ord ORDER BY ord;

-- @view section_hosts      one row per host: its ranks and their step time and GPU idle
-- @column host             host name ('—' in reports where the trace does not say)
-- @column n_ranks          ranks on it
-- @column ranks            those ranks, ascending
-- @column step_ms_median   median of the ranks' step times, ms
-- @column step_ms_max      largest step time, ms
-- @column gpu_idle_pct_max largest GPU idle, %
-- @column worst_rank       the rank with the longest step time (ties: the lowest rank)
CREATE OR REPLACE VIEW section_hosts AS
SELECT host, count(*) AS n_ranks, list(rank ORDER BY rank) AS ranks,
       median(step_ms) AS step_ms_median, max(step_ms) AS step_ms_max,
       max(gpu_idle_pct) AS gpu_idle_pct_max,
       arg_max(rank, (step_ms, -rank)) FILTER (WHERE step_ms IS NOT NULL) AS worst_rank
FROM section_rank_metrics GROUP BY host ORDER BY min(rank);

-- @view section_overview   one row per rank
-- @column rank             rank
-- @column total_ms         window length, ms
-- @column batches          complete batches
-- @column step_ms          median batch length, ms
-- @column throughput_it_s  batches per second
-- @column gpu_idle_pct     GPU idle, % of the window
-- @column comm_pct         communication, % of the window
CREATE OR REPLACE VIEW section_overview AS
SELECT r.rank, r.total_s * 1e3 AS total_ms, r.batches, m.step_ms, r.throughput_it_s,
       r.gpu_idle_pct, r.comm_pct
FROM report_ranks r JOIN section_rank_metrics m USING (rank) ORDER BY r.rank;

-- @view section_missing    one row per number a trace cannot support, and why
-- @column rank             rank (NULL: across ranks)
-- @column section          window | throughput | gpu | data_loader | phases | modules | collectives
-- @column reason           why
CREATE OR REPLACE VIEW section_missing AS SELECT rank, section, reason FROM report_missing;

-- @view section_gpu        one row per rank: the GPU time split, ms and %
-- @column rank             rank
-- @column active_ms        union of GPU activity
-- @column idle_ms          window − active
-- @column computation_ms   union of computation kernels
-- @column communication_ms union of communication kernels
-- @column memory_ops_ms    union of memcpy / memset
-- @column data_loader_ms   union of data-loader ranges
-- @column overlap_ms       communication ∩ computation
-- @column overlap_pct_of_comm overlap / communication × 100
-- @column overlap_pct_of_comp overlap / computation × 100
CREATE OR REPLACE VIEW section_gpu AS
SELECT rank, gpu_active_s * 1e3 AS active_ms, gpu_idle_s * 1e3 AS idle_ms,
       computation_s * 1e3 AS computation_ms, communication_s * 1e3 AS communication_ms,
       memory_ops_s * 1e3 AS memory_ops_ms, data_loader_s * 1e3 AS data_loader_ms,
       overlap_s * 1e3 AS overlap_ms, overlap_pct_of_comm, overlap_pct_of_comp
FROM report_ranks ORDER BY rank;

-- @view section_phases     the window split by phase, per rank
-- @column rank             rank
-- @column name             phase
-- @column time_ms          its part of the window, ms
-- @column pct              % of the window
-- @column comm_pct         share of its time communicating, %
CREATE OR REPLACE VIEW section_phases AS
SELECT rank, name, duration_s * 1e3 AS time_ms, pct, comm_pct FROM report_breakdown WHERE dim = 'phase';

-- @view section_modules    the window split by module group, per rank
-- @column rank             rank
-- @column name             module group
-- @column time_ms          its part of the window, ms
-- @column pct              % of the window
-- @column comm_pct         share of its time communicating, %
CREATE OR REPLACE VIEW section_modules AS
SELECT rank, name, duration_s * 1e3 AS time_ms, pct, comm_pct FROM report_breakdown WHERE dim = 'module';

-- @view section_module_gpu GPU time per module group, forward and backward
-- @column rank             rank
-- @column module           module group
-- @column direction        fwd | bwd
-- @column gpu_ms           union of its GPU activities in that direction, ms
CREATE OR REPLACE VIEW section_module_gpu AS
SELECT rank, module, direction, gpu_s * 1e3 AS gpu_ms FROM report_module_gpu;

-- @view section_annotations the annotations of each rank by GPU time
-- @column rank             rank
-- @column pos              1, 2, … by GPU time within the rank (reports show the top N)
-- @column name             annotation name
-- @column direction        fwd | bwd
-- @column module           module group, NULL if none
-- @column calls            instances
-- @column gpu_ms           summed GPU time, ms
-- @column avg_us           per call, µs
-- @column max_us           largest instance, µs
-- @column min_us           smallest instance, µs
-- @column overlap_pct      share overlapped by others' GPU work, %
CREATE OR REPLACE VIEW section_annotations AS
SELECT rank, row_number() OVER (PARTITION BY rank ORDER BY gpu_total_s DESC, name, direction) AS pos,
       name, direction, module, calls, gpu_total_s * 1e3 AS gpu_ms, avg_us, max_us, min_us, overlap_pct
FROM report_annotations ORDER BY rank, pos;

-- @view section_collectives per (kind, rank): transfer and wait
-- @column kind             collective kind
-- @column rank             rank
-- @column instances        matched collectives of that kind in its window
-- @column transfer_ms      summed transfer, ms
-- @column wait_ms          summed wait, ms
-- @column last_arrivals    how many it arrived at last
-- @column straggler        'straggler' for the kind's straggler (collective_straggler), else NULL
CREATE OR REPLACE VIEW section_collectives AS
SELECT kind, rank, instances, transfer_s * 1e3 AS transfer_ms, wait_s * 1e3 AS wait_ms, last_arrivals,
       CASE WHEN straggler THEN 'straggler' END AS straggler
FROM report_collectives;

-- @view section_links      the spots to open in Perfetto
-- @column rank             rank
-- @column spot             slowest batch | largest idle gap | top annotation
-- @column what             batch, gap length or annotation name
-- @column perfetto_url     ui.perfetto.dev at the spot
CREATE OR REPLACE VIEW section_links AS
SELECT rank, replace(kind, '_', ' ') AS spot, label AS what, perfetto_url FROM report_links;

-- @view section_metadata   one row per rank: where its numbers come from
-- @column rank             rank
-- @column file             its trace file (the first segment)
-- @column rank_source      where the rank number came from
-- @column world_size       distributedInfo.world_size
-- @column backend          distributedInfo.backend
-- @column host             host
-- @column pid              process
-- @column trace_id         Kineto's trace id
-- @column cupti_version    CUPTI version
-- @column cuda_runtime_version CUDA runtime
-- @column cuda_driver_version  CUDA driver
-- @column nccl_version     NCCL
CREATE OR REPLACE VIEW section_metadata AS
SELECT rank, file, rank_source, world_size, backend, host, pid, trace_id, cupti_version,
       cuda_runtime_version, cuda_driver_version, nccl_version
FROM ranks ORDER BY rank;

-- @view section_devices    one row per (rank, device)
-- @column rank             rank
-- @column device           device index
-- @column name             device name
-- @column memory_gib       total memory, GiB
-- @column compute_capability compute capability
-- @column num_sms          multiprocessors
-- @column warp_size        warp size
CREATE OR REPLACE VIEW section_devices AS
SELECT rank, device, name, total_memory_bytes / 2 ^ 30 AS memory_gib, compute_capability, num_sms, warp_size
FROM devices ORDER BY rank, device;
