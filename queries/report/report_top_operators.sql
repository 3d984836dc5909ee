-- report/report_top_operators.sql (version 1): the CPU operator table per rank, by self time.
-- Reads: operator_stats, analysis_window.   Used by: anemoi_tp/report (`--top N` keeps pos ≤ N).
--
-- @view report_top_operators one row per (rank, operator name)
-- @column rank             rank
-- @column pos              1, 2, … by self time within the rank (ties: by name)
-- @column name             operator name
-- @column calls            ops overlapping the window
-- @column self_ms          self (exclusive) time, ms
-- @column total_ms         inclusive time, ms
-- @column mean_self_us     self time per call, µs
-- @column self_pct         self time / window × 100 (threads add up: can pass 100)
CREATE OR REPLACE VIEW report_top_operators AS
SELECT o.rank, row_number() OVER (PARTITION BY o.rank ORDER BY o.self_ns DESC, o.name) AS pos,
       o.name, o.calls, o.self_ns / 1e6 AS self_ms, o.total_ns / 1e6 AS total_ms,
       o.mean_self_ns / 1e3 AS mean_self_us, 100.0 * o.self_ns / nullif(w.total_ns, 0) AS self_pct
FROM operator_stats o JOIN analysis_window w USING (rank)
ORDER BY o.rank, pos;
