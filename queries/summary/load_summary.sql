-- summary/load_summary.sql (version 1): what was loaded, per rank: events, GPU time by class.
-- Reads: ranks, events, gpu_activities.   Used by: `anemoi-tp demo`.
--
-- @view load_summary     (a query, not a view) one row per rank
-- @column rank           rank index
-- @column events         usable events
-- @column kernels        GPU kernels
-- @column computation_ms summed duration of computation kernels, ms
-- @column communication_ms summed duration of communication kernels, ms
-- @column memory_ms      summed duration of memcpy/memset, ms
-- @column unlaunched     GPU activities whose launch was not found by correlation
SELECT
    r.rank,
    (SELECT count(*) FROM events e WHERE e.rank = r.rank) AS events,
    count(g.name) FILTER (WHERE g.kind = 'kernel') AS kernels,
    round(coalesce(sum(g.dur) FILTER (WHERE g.class = 'computation'), 0) / 1e6, 3) AS computation_ms,
    round(coalesce(sum(g.dur) FILTER (WHERE g.class = 'communication'), 0) / 1e6, 3) AS communication_ms,
    round(coalesce(sum(g.dur) FILTER (WHERE g.class = 'memory'), 0) / 1e6, 3) AS memory_ms,
    count(g.name) FILTER (WHERE g.launch_name IS NULL) AS unlaunched
FROM ranks r
LEFT JOIN gpu_activities g ON g.rank = r.rank
GROUP BY r.rank
ORDER BY r.rank;
