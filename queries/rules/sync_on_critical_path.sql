-- rules/sync_on_critical_path.sql (version 1): the host blocks on the GPU.
-- Reads: events, analysis_window, rule_thresholds.   Writes: findings.
-- Host time in blocking synchronisation calls (cudaStreamSynchronize, cudaDeviceSynchronize,
-- cudaEventSynchronize, synchronous cudaMemcpy, their hip* twins) inside the window, as % of
-- the window. Each call is named with the innermost CPU op around it (`aten::item`,
-- `aten::_local_scalar_dense`, `aten::to` … show `.item()` / `.cpu()` in the model code).
CREATE OR REPLACE TEMP TABLE sync_calls AS
SELECT e.rank, e.pid, e.tid, e.name, greatest(e.ts, w.ts) AS ts, least(e.ts + e.dur, w.end_ts) AS end_ts
FROM events e JOIN analysis_window w USING (rank)
WHERE e.ph = 'X' AND e.cat IN ('cuda_runtime', 'Runtime', 'cuda_driver')
  AND regexp_matches(e.name, '^(cuda|hip)(StreamSynchronize|DeviceSynchronize|EventSynchronize|Memcpy)$')
  AND e.ts < w.end_ts AND e.ts + e.dur > w.ts;

CREATE OR REPLACE TEMP TABLE sync_tracks AS
SELECT rank, pid, tid, row_number() OVER () AS n FROM (SELECT DISTINCT rank, pid, tid FROM sync_calls);
CREATE OR REPLACE TEMP TABLE sync_keys AS
SELECT c.*, tkey(t.n, c.ts) AS k FROM sync_calls c JOIN sync_tracks t USING (rank, pid, tid);
CREATE OR REPLACE TEMP TABLE sync_ops AS
SELECT e.name, e.ts, tkey(t.n, e.ts) AS ks, tkey(t.n, e.ts + e.dur) AS ke
FROM events e JOIN sync_tracks t USING (rank, pid, tid)
WHERE e.ph = 'X' AND e.cat IN ('cpu_op', 'Operator');

INSERT INTO findings
WITH enclosing AS (
    SELECT c.k, arg_max(o.name, o.ts) AS op
    FROM sync_keys c JOIN sync_ops o ON c.k >= o.ks AND c.k < o.ke
    GROUP BY c.k
),
named AS (
    SELECT c.rank, c.name AS call, c.ts, c.end_ts, e.op
    FROM sync_keys c LEFT JOIN enclosing e USING (k)
),
per_rank AS (
    SELECT n.rank, sum(n.end_ts - n.ts) AS ns, count(*) AS calls,
           100.0 * sum(n.end_ts - n.ts) / any_value(w.total_ns) AS pct,
           arg_max(n.ts, n.end_ts - n.ts) AS worst_ts, max(n.end_ts - n.ts) AS worst_len
    FROM named n JOIN analysis_window w USING (rank) GROUP BY n.rank
),
sites AS (
    SELECT rank, string_agg(printf('%s in %s ×%d %.3f ms', call, coalesce(op, 'no op'), n, ns / 1e6), '; '
                            ORDER BY ns DESC) AS sites
    FROM (SELECT rank, call, op, count(*) AS n, sum(end_ts - ts) AS ns,
                 row_number() OVER (PARTITION BY rank ORDER BY sum(end_ts - ts) DESC) AS k
          FROM named GROUP BY rank, call, op)
    WHERE k <= 3 GROUP BY rank
)
SELECT 'sync_on_critical_path', severity_of(p.pct, threshold('sync_on_critical_path', 'pct_of_total')),
       p.rank, 'annotation', 'blocking_sync_pct', p.pct, threshold('sync_on_critical_path', 'pct_of_total'),
       printf('%d blocking synchronisation calls take %.3f ms of host time (%.1f%% of the window): %s',
              p.calls, p.ns / 1e6, p.pct, s.sites),
       'Remove host-device synchronisation from the step: no .item() / .cpu() / print of GPU '
       || 'tensors inside the loop (log every N steps, use torch.cuda.Event or non-blocking '
       || 'copies), no explicit torch.cuda.synchronize().',
       perfetto_url(p.rank, p.worst_ts, p.worst_ts + p.worst_len)
FROM per_rank p JOIN sites s USING (rank)
WHERE p.pct >= threshold('sync_on_critical_path', 'pct_of_total');
