-- ingest/kernel_classes.sql (version 1): how GPU kernels are classed as communication.
-- Reads: nothing.   Used by: ingest/gpu_activities.sql.
--
-- @table kernel_class_patterns  regular expressions (case-insensitive) on kernel names
-- @column pattern      a regular expression (RE2 syntax)
-- @column class        the class a matching kernel gets ('communication')
-- @column what         what the pattern is for
-- DESIGN.md: communication by name (nccl, ncclDevKernel_*, ncclKernel_*, RCCL, hccl, DeepEP
-- dpsk::ep); memcpy/memset are 'memory'; every other kernel is 'computation'.
CREATE TABLE IF NOT EXISTS kernel_class_patterns (pattern VARCHAR, class VARCHAR, what VARCHAR);
INSERT INTO kernel_class_patterns
SELECT * FROM (VALUES
    ('nccl', 'communication', 'NCCL kernels: ncclKernel_* (NCCL < 2.19), ncclDevKernel_* (later)'),
    ('rccl', 'communication', 'AMD RCCL kernels (most are named nccl* as well)'),
    ('hccl', 'communication', 'Habana / Ascend collective kernels'),
    ('dpsk::ep', 'communication', 'DeepEP expert-parallel all-to-all kernels')
) AS v(pattern, class, what)
WHERE NOT EXISTS (SELECT 1 FROM kernel_class_patterns);
