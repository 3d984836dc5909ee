-- report/report_perf_sections.sql (version 3): the per-batch series, top kernels / operators
-- and the per-layer split, as report sections (anemoi_tp/report/sections.py), times in ms.
-- Reads: report_batch_series, report_batch_trend, report_top_kernels, report_top_operators,
--        report_layers.   Used by: every report format.
--
-- @view section_batch_series one row per (rank, batch): its slice of the window
-- @column rank             rank
-- @column batch            batch index
-- @column start_ms         slice start after the window start, ms
-- @column duration_ms      slice length, ms (the slices partition the window)
-- @column gpu_idle_ms      GPU idle in the slice, ms (NULL: no GPU activity on the rank)
-- @column communication_ms communication in the slice, ms (NULL: no GPU activity)
-- @column data_loader_ms   data loading in the slice, ms
-- @column flag             'warm-up', 'outlier' or NULL
CREATE OR REPLACE VIEW section_batch_series AS
SELECT rank, batch, start_s * 1e3 AS start_ms, duration_s * 1e3 AS duration_ms,
       gpu_idle_s * 1e3 AS gpu_idle_ms, communication_s * 1e3 AS communication_ms,
       data_loader_s * 1e3 AS data_loader_ms,
       CASE WHEN warmup THEN 'warm-up' WHEN outlier THEN 'outlier' END AS flag
FROM report_batch_series ORDER BY rank, batch;

-- @view section_batch_trend one row per rank with a series: drift of the batch duration
-- @column rank             rank
-- @column batches          non-warm-up batches fitted
-- @column slope_ms         Theil–Sen slope, ms per batch
-- @column drift_pct_per_batch slope / median duration × 100
-- @column drifting         'yes' when the drift passes the threshold of batch_trend.sql
-- @column warmup_batches   warm-up batches
-- @column outlier_batches  outlier batches
-- @column missing          why the slope is missing (NULL when it is not)
CREATE OR REPLACE VIEW section_batch_trend AS
SELECT rank, batches, slope_ms, drift_pct_per_batch,
       CASE WHEN drifting THEN 'yes' WHEN drifting IS NOT NULL THEN 'no' END AS drifting,
       warmup_batches, outlier_batches, missing
FROM report_batch_trend ORDER BY rank;

-- @view section_top_kernels the top kernels per rank (report_top_kernels)
-- @column rank             rank
-- @column pos              1, 2, … by total time
-- @column name             kernel name
-- @column class            computation | communication | memory
-- @column calls            activities in the window
-- @column total_ms         summed duration, ms
-- @column mean_us          per call, µs
-- @column max_us           longest, µs
-- @column share_pct        of GPU active time, %
-- @column phase            phase owning most of its time
-- @column module           module path owning most of its time
CREATE OR REPLACE VIEW section_top_kernels AS
SELECT rank, pos, name, class, calls, total_ms, mean_us, max_us, share_pct, phase, module
FROM report_top_kernels ORDER BY rank, pos;

-- @view section_top_operators the top CPU operators by self time per rank
-- @column rank             rank
-- @column pos              1, 2, … by self time
-- @column name             operator name
-- @column calls            ops overlapping the window
-- @column self_ms          self (exclusive) time, ms
-- @column total_ms         inclusive time, ms
-- @column mean_self_us     self time per call, µs
-- @column self_pct         self time / window × 100 (threads add up)
CREATE OR REPLACE VIEW section_top_operators AS
SELECT rank, pos, name, calls, self_ms, total_ms, mean_self_us, self_pct
FROM report_top_operators ORDER BY rank, pos;

-- @view section_layers     the per-layer window split (ranks with module ranges: report_layers)
-- @column rank             rank
-- @column pos              1, 2, … by part of the window within the rank (ties: layer, direction)
-- @column layer            module path at the chosen depth, or 'elsewhere'
-- @column direction        fwd | bwd (NULL for 'elsewhere')
-- @column part_ms          its part of the window, ms
-- @column pct              part / window × 100
-- @column gpu_ms           union of its own GPU activity, ms
-- @column idle_ms          GPU idle charged to it, ms
-- @column communication_ms union of its own communication, ms
-- @column comm_overlap_ms  of it, overlapped by computation, ms
CREATE OR REPLACE VIEW section_layers AS
SELECT rank,
       row_number() OVER (PARTITION BY rank ORDER BY duration_s DESC, layer, direction NULLS LAST) AS pos,
       layer, direction, duration_s * 1e3 AS part_ms, pct, gpu_s * 1e3 AS gpu_ms,
       idle_s * 1e3 AS idle_ms, communication_s * 1e3 AS communication_ms,
       comm_overlap_s * 1e3 AS comm_overlap_ms
FROM report_layers
ORDER BY rank, pos;
