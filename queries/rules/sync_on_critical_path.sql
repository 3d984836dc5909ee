-- rules/sync_on_critical_path.sql (version 5): a synchronisation drains the GPU pipeline.
-- Reads: events, gpu_activities, host_ranges, interval_tracks, analysis_window, is_operator,
-- rule_thresholds.   Writes: findings.
-- DESIGN.md "Sync cost": not the host time blocked in a sync call (a GPU-bound loop blocks
-- there by design: the GPU stays busy) but the GPU idle from the call's return to the next GPU
-- activity on its rank, as % of the window. Per GPU-idle gap of the window (busy_gaps of all
-- GPU activity clipped to it), the cost runs from the first sync return inside the gap to the
-- gap's end and is charged to that call: later syncs in the same gap found the GPU idle
-- already. A sync returning while the GPU is busy costs nothing. Gaps that overlap a
-- data-loader range are left out, as in host_bound: data_loader_stall counts that idle time.
-- Sync calls: cudaStreamSynchronize, cudaDeviceSynchronize, cudaEventSynchronize, synchronous
-- cudaMemcpy, their hip* twins. Each site is named with the innermost CPU op around the call
-- (innermost_enclosing: `aten::item`, `aten::_local_scalar_dense`, `aten::to` … show `.item()`
-- / `.cpu()` in the model code); ops as is_operator takes them (module ranges are none).
CREATE OR REPLACE TEMP TABLE sync_gpu AS
SELECT rank, 0 AS grp, ts, ts + dur AS end_ts FROM gpu_activities;
CREATE OR REPLACE TEMP TABLE sync_gpu_window AS SELECT * FROM clip_to_window(sync_gpu);
CREATE OR REPLACE TEMP TABLE sync_all_gaps AS SELECT * FROM busy_gaps(sync_gpu_window);
CREATE OR REPLACE TEMP TABLE sync_gaps AS
SELECT g.rank, g.ts, g.end_ts, tkey(g.rank, g.ts) AS ks, tkey(g.rank, g.end_ts) AS ke
FROM clear_of_data_loader(sync_all_gaps) g;

CREATE OR REPLACE TEMP TABLE sync_calls AS
SELECT e.event_id, e.rank, e.name AS call, e.ts, e.ts + e.dur AS end_ts, t.thread_no,
       tkey(e.rank, e.ts + e.dur) AS ret_k
FROM events e JOIN interval_tracks t USING (rank, pid, tid)
WHERE e.ph = 'X' AND e.cat IN ('cuda_runtime', 'Runtime', 'cuda_driver')
  AND regexp_matches(e.name, '^(cuda|hip)(StreamSynchronize|DeviceSynchronize|EventSynchronize|Memcpy)$');

-- per gap, the first sync call returning inside it (ties: earlier in the file)
CREATE OR REPLACE TEMP TABLE sync_drains AS
SELECT g.rank, arg_min(c.event_id, (c.end_ts, c.event_id)) AS event_id,
       min(c.end_ts) AS ret, g.end_ts AS next_ts
FROM sync_gaps g JOIN sync_calls c ON c.ret_k >= g.ks AND c.ret_k < g.ke
GROUP BY g.rank, g.ts, g.end_ts;

-- the innermost CPU op around each charged call, on the call's thread
CREATE OR REPLACE TEMP TABLE sync_points AS
SELECT c.event_id AS point_id, tkey(c.thread_no, c.ts) AS k
FROM sync_drains d JOIN sync_calls c USING (event_id);
CREATE OR REPLACE TEMP TABLE sync_ops AS
SELECT e.event_id AS range_id, e.event_id, e.name, e.ts, e.ts + e.dur AS end_ts,
       tkey(t.thread_no, e.ts) AS ks, tkey(t.thread_no, e.ts + e.dur) AS ke
FROM events e JOIN interval_tracks t USING (rank, pid, tid)
WHERE e.ph = 'X' AND is_operator(e.cat, e.name)
  AND t.thread_no IN (SELECT c.thread_no FROM sync_drains d JOIN sync_calls c USING (event_id));
CREATE OR REPLACE TEMP TABLE sync_enclosing AS SELECT * FROM innermost_enclosing(sync_points, sync_ops);

INSERT INTO findings
WITH charged AS (
    SELECT d.rank, c.call, o.name AS op, d.ret, d.next_ts - d.ret AS ns
    FROM sync_drains d JOIN sync_calls c USING (event_id)
    LEFT JOIN sync_enclosing x ON x.point_id = d.event_id
    LEFT JOIN sync_ops o ON o.range_id = x.range_id
),
per_rank AS (
    SELECT c.rank, sum(c.ns) AS ns, count(*) AS gaps, 100.0 * sum(c.ns) / min(w.total_ns) AS pct,
           arg_max(c.ret, (c.ns, -c.ret)) AS worst_ts, max(c.ns) AS worst_len
    FROM charged c JOIN analysis_window w USING (rank) GROUP BY c.rank
),
sites AS (
    SELECT rank, string_agg(printf('%s in %s ×%d %.3f ms', call, op, n, ns / 1e6), '; '
                            ORDER BY ns DESC, call, op) AS sites
    FROM (SELECT rank, call, coalesce(op, 'no op') AS op, count(*) AS n, sum(ns) AS ns,
                 row_number() OVER (PARTITION BY rank ORDER BY sum(ns) DESC, call, coalesce(op, 'no op')) AS k
          FROM charged GROUP BY rank, call, coalesce(op, 'no op'))
    WHERE k <= 3 GROUP BY rank
),
blocked AS (
    SELECT c.rank, sum(least(c.end_ts, w.end_ts) - greatest(c.ts, w.ts)) AS ns
    FROM sync_calls c JOIN analysis_window w USING (rank)
    WHERE c.ts < w.end_ts AND c.end_ts > w.ts GROUP BY c.rank
)
SELECT 'sync_on_critical_path', severity_of(p.pct, threshold('sync_on_critical_path', 'pct_of_total')),
       p.rank, 'annotation', 'gpu_idle_after_sync_pct', p.pct, threshold('sync_on_critical_path', 'pct_of_total'),
       printf('GPU idle %.3f ms (%.1f%% of the window) from a synchronisation''s return to the next '
              || 'GPU work, in %d gaps: %s (host blocked in sync calls: %.3f ms)',
              p.ns / 1e6, p.pct, p.gaps, s.sites, coalesce(b.ns, 0) / 1e6),
       'Remove host-device synchronisation from the step: no .item() / .cpu() / print of GPU '
       || 'tensors inside the loop (log every N steps, use torch.cuda.Event or non-blocking '
       || 'copies), no explicit torch.cuda.synchronize(); launch the next work before reading '
       || 'results back.',
       perfetto_url(p.rank, p.worst_ts, p.worst_ts + p.worst_len)
FROM per_rank p JOIN sites s USING (rank) LEFT JOIN blocked b USING (rank)
WHERE p.pct >= threshold('sync_on_critical_path', 'pct_of_total');
