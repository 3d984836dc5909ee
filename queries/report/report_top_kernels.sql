-- report/report_top_kernels.sql (version 1): the kernel table per rank, by total time.
-- Reads: kernel_stats.   Used by: anemoi_tp/report (`--top N` keeps pos ≤ N), compare.
--
-- @view report_top_kernels one row per (rank, kernel name)
-- @column rank             rank
-- @column pos              1, 2, … by total time within the rank (ties: by name)
-- @column name             kernel name
-- @column class            computation | communication | memory
-- @column calls            activities in the window
-- @column total_ms         summed duration, ms
-- @column mean_us          per call, µs
-- @column max_us           longest, µs
-- @column share_pct        of GPU active time, % (concurrent kernels each count in full)
-- @column phase            phase owning most of its time
-- @column module           module path owning most of its time (NULL: none)
CREATE OR REPLACE VIEW report_top_kernels AS
SELECT rank, row_number() OVER (PARTITION BY rank ORDER BY total_ns DESC, name) AS pos, name,
       class, calls, total_ns / 1e6 AS total_ms, mean_ns / 1e3 AS mean_us, max_ns / 1e3 AS max_us,
       share_pct, phase, module
FROM kernel_stats
ORDER BY rank, pos;
