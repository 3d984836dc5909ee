-- report/report_memory.sql (version 1): memory sections of a report, from [memory] events.
-- Reads: memory_timeline, memory_peaks, memory_growth (memory/memory_events.sql), analysis_window,
--        batches.   Used by: anemoi_tp/report (run only where memory_timeline has rows).
--
-- @view section_memory_peaks one row per (rank, device)
-- @column rank             rank
-- @column device           cpu | cuda:N
-- @column events           [memory] events
-- @column peak_allocated_mib largest Total Allocated, MiB
-- @column peak_reserved_mib  largest Total Reserved, MiB
CREATE OR REPLACE VIEW section_memory_peaks AS
SELECT rank, device, events, peak_allocated / 2 ^ 20 AS peak_allocated_mib,
       peak_reserved / 2 ^ 20 AS peak_reserved_mib
FROM memory_peaks ORDER BY rank, device;

-- @view section_memory_growth allocations in the window by phase and module group
-- @column rank             rank
-- @column device           cpu | cuda:N
-- @column dim              phase | module
-- @column owner            phase or module group
-- @column allocated_mib    Σ allocations, MiB
-- @column freed_mib        Σ frees, MiB
-- @column net_mib          allocated − freed, MiB
CREATE OR REPLACE VIEW section_memory_growth AS
SELECT rank, device, dim, owner, allocated_bytes / 2 ^ 20 AS allocated_mib,
       freed_bytes / 2 ^ 20 AS freed_mib, net_bytes / 2 ^ 20 AS net_mib
FROM memory_growth WHERE allocated_bytes > 0 ORDER BY rank, device, dim DESC, owner;

-- @view report_memory_curve memory over time per (rank, GPU device): the largest totals in
--                          each of 200 equal bins of the rank's window (of its events' span
--                          where it has no window): peaks survive the sampling
-- @column rank             rank
-- @column device           cuda:N
-- @column bin              0 … 199
-- @column t_ms             the bin's start, ms from the window's start
-- @column allocated_mib    largest Total Allocated in the bin, MiB
-- @column reserved_mib     largest Total Reserved in the bin, MiB
CREATE OR REPLACE VIEW report_memory_curve AS
WITH span AS (
    SELECT m.rank, coalesce(any_value(w.ts), min(m.ts)) AS t0,
           coalesce(any_value(w.end_ts), max(m.ts) + 1) AS t1
    FROM memory_timeline m LEFT JOIN analysis_window w USING (rank)
    WHERE m.device LIKE 'cuda%' GROUP BY m.rank
),
binned AS (
    SELECT m.rank, m.device, s.t0, s.t1,
           least(199, (200 * (m.ts - s.t0) // greatest(s.t1 - s.t0, 1)))::INTEGER AS bin,
           m.total_allocated, m.total_reserved
    FROM memory_timeline m JOIN span s USING (rank)
    WHERE m.device LIKE 'cuda%' AND m.ts >= s.t0 AND m.ts < s.t1
)
SELECT rank, device, bin, (bin * (any_value(t1) - any_value(t0)) / 200) / 1e6 AS t_ms,
       max(total_allocated) / 2 ^ 20 AS allocated_mib, max(total_reserved) / 2 ^ 20 AS reserved_mib
FROM binned GROUP BY rank, device, bin ORDER BY rank, device, bin;

-- @view report_memory_batches batch starts on the memory curve's time axis
-- @column rank             rank
-- @column batch            batch number
-- @column t_ms             its start, ms from the window's start
CREATE OR REPLACE VIEW report_memory_batches AS
SELECT b.rank, b.batch, (b.ts - w.ts) / 1e6 AS t_ms
FROM batches b JOIN analysis_window w USING (rank)
WHERE b.complete AND w.ts IS NOT NULL AND b.rank IN (SELECT rank FROM report_memory_curve)
ORDER BY b.rank, b.batch;
