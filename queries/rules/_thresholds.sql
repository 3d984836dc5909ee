-- rules/_thresholds.sql (version 1): the thresholds of the bottleneck rules, and their roles.
-- Reads: nothing.   Used by: every queries/rules/*.sql (threshold(), rules/_setup.sql), the
-- pipeline (which thresholds are part of a rank's cache key: anemoi_tp/rules/run.py).
--
-- @table rule_thresholds  one row per (rule, threshold); a TOML [thresholds] table or
--                         --threshold RULE.NAME=VALUE replaces values (anemoi_tp/config.py)
-- @column rule         rule id
-- @column name         threshold name
-- @column value        its value
-- @column what         what it bounds
-- @column role         'fires': the rule fires where its value reaches it, and severity is
--                      measured against it (one per rule; the reduce applies it to the per-rank
--                      candidates, pipeline/reduce.py, so another value reuses cached ranks);
--                      'classifies': it decides what is measured (part of a rank's cache key)
CREATE TABLE IF NOT EXISTS rule_thresholds (rule VARCHAR, name VARCHAR, value DOUBLE, what VARCHAR,
                                            role VARCHAR);
INSERT INTO rule_thresholds
SELECT * FROM (VALUES
    ('data_loader_stall', 'pct_of_total', 10.0, 'GPU idle charged to data loading, % of the window', 'fires'),
    ('straggler', 'wait_pct', 5.0, 'time other ranks wait in collectives for the last one, % of their window', 'fires'),
    ('exposed_communication', 'pct_of_total', 10.0, 'communication transfer not overlapped by computation, % of the window', 'fires'),
    ('host_bound', 'pct_of_total', 10.0, 'GPU idle waiting for the next launch while the host works, % of the window', 'fires'),
    ('sync_on_critical_path', 'pct_of_total', 5.0, 'GPU idle from a synchronisation call''s return to the next GPU activity, % of the window', 'fires'),
    ('pageable_memcpy', 'pct_of_total', 1.0, 'time in memcpy from / to pageable host memory, % of the window', 'fires'),
    ('low_occupancy', 'occupancy_pct', 25.0, 'estimated achieved occupancy below which a kernel counts as low', 'classifies'),
    ('low_occupancy', 'pct_of_compute', 20.0, 'share of computation time in low-occupancy kernels, %', 'fires'),
    ('load_imbalance', 'pct_spread', 10.0, '(max − min) / mean of per-rank computation time, %', 'fires'),
    ('missing_annotations', 'pct_unattributed', 50.0, 'GPU time owned by no module range, %', 'fires')
) AS v(rule, name, value, what, role)
WHERE NOT EXISTS (SELECT 1 FROM rule_thresholds);
