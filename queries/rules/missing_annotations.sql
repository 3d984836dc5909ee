-- rules/missing_annotations.sql (version 3): attribution is limited by missing annotations.
-- Reads: attribution, gpu_time, host_ranges, ranks, rule_thresholds.   Writes: findings.
-- Info, not a bottleneck: a rank with GPU work but no module ranges at all, or whose GPU
-- time is owned by no module range above missing_annotations.pct_unattributed (no module
-- ranges at all counts as 100 %: the value it reports).
INSERT INTO findings
WITH gpu AS (SELECT rank, active_ns FROM gpu_time WHERE active_ns > 0),
unowned AS (
    SELECT a.rank, 100.0 * a.gpu_ns / g.active_ns AS pct
    FROM attribution a JOIN gpu g USING (rank)
    WHERE a.dim = 'module' AND a.owner = 'elsewhere'
),
has_modules AS (SELECT DISTINCT rank FROM host_ranges WHERE kind = 'module')
SELECT 'missing_annotations', 'info', g.rank, 'annotation', 'gpu_time_without_module_pct',
       CASE WHEN m.rank IS NULL THEN 100.0 ELSE u.pct END,
       threshold('missing_annotations', 'pct_unattributed'),
       CASE WHEN m.rank IS NULL
            THEN 'the trace has no module ranges: module attribution is unavailable'
            ELSE printf('%.1f%% of GPU time is launched outside every module range', u.pct) END,
       'Record module ranges, forward and backward (pip install ''anemoi-tp[capture]''): the '
       || 'callback anemoi_tp.capture.ModuleRanges (anemoi-training profile: add it to '
       || 'diagnostics.callbacks; stock Anemoi writes no module ranges), or '
       || 'anemoi_tp.capture.module_ranges(model) around a torch.profiler run.',
       NULL
FROM gpu g LEFT JOIN has_modules m USING (rank) LEFT JOIN unowned u USING (rank)
WHERE CASE WHEN m.rank IS NULL THEN 100.0 ELSE u.pct END >= threshold('missing_annotations', 'pct_unattributed');
