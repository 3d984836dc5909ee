-- rules/load_imbalance.sql (version 2): ranks do unequal amounts of computation.
-- Reads: gpu_time, analysis_window, rule_thresholds.   Writes: findings.
-- Spread = (max − min) / mean of the per-rank union of computation per batch, in %. Fires
-- above load_imbalance.pct_spread; the finding is on the rank with the most computation
-- (ties: the lower rank; the lightest likewise).
INSERT INTO findings
WITH per AS (
    SELECT g.rank, g.computation_ns / w.batches AS comp, w.ts, w.end_ts
    FROM gpu_time g JOIN analysis_window w USING (rank) WHERE w.batches > 0
),
s AS (
    SELECT count(*) AS n, 100.0 * (max(comp) - min(comp)) / avg(comp ORDER BY rank) AS spread,
           arg_max(rank, (comp, -rank)) AS heavy, arg_min(rank, (comp, rank)) AS light, max(comp) AS hi, min(comp) AS lo
    FROM per
)
SELECT 'load_imbalance', severity_of(s.spread, threshold('load_imbalance', 'pct_spread')), s.heavy,
       'rank', 'computation_spread_pct', s.spread, threshold('load_imbalance', 'pct_spread'),
       printf('computation per batch ranges from %.3f ms (rank %d) to %.3f ms (rank %d): %.1f%% of the mean',
              s.lo / 1e6, s.light, s.hi / 1e6, s.heavy, s.spread),
       'Balance the work per rank: graph / grid partitioning of the sharded model, equal '
       || 'sample sizes per rank, the same GPU model and clocks everywhere.',
       (SELECT perfetto_url(p.rank, p.ts, p.end_ts) FROM per p WHERE p.rank = s.heavy)
FROM s
WHERE s.n > 1 AND s.spread >= threshold('load_imbalance', 'pct_spread');
