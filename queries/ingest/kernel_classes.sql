-- ingest/kernel_classes.sql (version 2): how GPU kernels are classed as communication.
-- Reads: nothing.   Used by: ingest/gpu_activities.sql.
--
-- @table kernel_class_patterns  regular expressions (case-insensitive) on kernel names
-- @column pattern      a regular expression (RE2 syntax)
-- @column class        the class a matching kernel gets ('communication')
-- @column what         what the pattern is for
-- DESIGN.md: communication by name (nccl, ncclDevKernel_*, ncclKernel_*, RCCL, hccl, DeepEP
-- dpsk::ep); memcpy/memset are 'memory'; every other kernel is 'computation'.
-- Version 2 adds the collectives that are not NCCL's: PyTorch symmetric memory (NVLS
-- multimem_* kernels, seen on B200: multimem_all_reduce_kernel; one/two-shot all-reduce),
-- other NVLS kernels, and DeepEP's deep_ep:: dispatch/combine. No bare 'all_reduce' or
-- 'reduce': computation kernels carry those words (at::native::reduce_kernel, cub reductions),
-- and DeepEP's get_dispatch_layout is a computation.
CREATE TABLE IF NOT EXISTS kernel_class_patterns (pattern VARCHAR, class VARCHAR, what VARCHAR);
INSERT INTO kernel_class_patterns
SELECT * FROM (VALUES
    ('nccl', 'communication', 'NCCL kernels: ncclKernel_* (NCCL < 2.19), ncclDevKernel_* (later)'),
    ('rccl', 'communication', 'AMD RCCL kernels (most are named nccl* as well)'),
    ('hccl', 'communication', 'Habana / Ascend collective kernels'),
    ('dpsk::ep', 'communication', 'DeepEP expert-parallel all-to-all kernels (dpsk::ep names)'),
    ('deep_ep::\w+::(notify_|cached_notify_)?(dispatch|combine)\b', 'communication',
     'DeepEP dispatch / combine kernels (deep_ep::intranode, internode, internode_ll)'),
    ('multimem_', 'communication',
     'NVLS multimem kernels of PyTorch symmetric memory (multimem_all_reduce_kernel, …)'),
    ('(one|two)_shot_all_reduce', 'communication', 'symmetric-memory one/two-shot all-reduce'),
    ('nvls', 'communication', 'other NVLink SHARP (NVLS) collective kernels')
) AS v(pattern, class, what)
WHERE NOT EXISTS (SELECT 1 FROM kernel_class_patterns);
