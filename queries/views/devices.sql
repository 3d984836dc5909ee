-- views/devices.sql (version 2): GPU properties from each file's deviceProperties.
-- Reads: trace_files.
--
-- @view devices                        one row per (rank, device) listed in the trace (a rank
--                                      of several segments: the first segment listing it)
-- @column rank                         rank whose file lists the device
-- @column device                       device index (id)
-- @column name                         device name (e.g. NVIDIA A100-SXM4-80GB)
-- @column total_memory_bytes           totalGlobalMem
-- @column compute_capability           computeMajor.computeMinor (e.g. 8.0; 9.0 on MI250)
-- @column num_sms                      numSms (compute units on AMD)
-- @column warp_size                    warpSize (64 on AMD)
-- @column max_threads_per_block        maxThreadsPerBlock
-- @column max_threads_per_sm           maxThreadsPerMultiprocessor
-- @column regs_per_block               regsPerBlock
-- @column regs_per_sm                  regsPerMultiprocessor
-- @column shared_mem_per_block         sharedMemPerBlock, bytes
-- @column shared_mem_per_sm            sharedMemPerMultiprocessor (AMD: maxSharedMemoryPerMultiProcessor)
-- @column shared_mem_per_block_optin   sharedMemPerBlockOptin, bytes
-- @column properties                   the whole entry as JSON
CREATE OR REPLACE VIEW devices AS
WITH d AS (
    SELECT f.rank, f.start_ns, f.file_id, unnest(CAST(f.device_properties AS JSON[])) AS p
    FROM trace_files f
    WHERE json_type(f.device_properties) = 'ARRAY'
)
SELECT
    rank,
    TRY_CAST(p ->> 'id' AS INTEGER) AS device,
    p ->> 'name' AS name,
    TRY_CAST(p ->> 'totalGlobalMem' AS BIGINT) AS total_memory_bytes,
    (p ->> 'computeMajor') || '.' || (p ->> 'computeMinor') AS compute_capability,
    TRY_CAST(p ->> 'numSms' AS INTEGER) AS num_sms,
    TRY_CAST(p ->> 'warpSize' AS INTEGER) AS warp_size,
    TRY_CAST(p ->> 'maxThreadsPerBlock' AS INTEGER) AS max_threads_per_block,
    TRY_CAST(p ->> 'maxThreadsPerMultiprocessor' AS INTEGER) AS max_threads_per_sm,
    TRY_CAST(p ->> 'regsPerBlock' AS INTEGER) AS regs_per_block,
    TRY_CAST(p ->> 'regsPerMultiprocessor' AS INTEGER) AS regs_per_sm,
    TRY_CAST(p ->> 'sharedMemPerBlock' AS BIGINT) AS shared_mem_per_block,
    TRY_CAST(coalesce(p ->> 'sharedMemPerMultiprocessor', p ->> 'maxSharedMemoryPerMultiProcessor')
             AS BIGINT) AS shared_mem_per_sm,
    TRY_CAST(p ->> 'sharedMemPerBlockOptin' AS BIGINT) AS shared_mem_per_block_optin,
    p AS properties
FROM d
QUALIFY row_number() OVER (PARTITION BY rank, TRY_CAST(p ->> 'id' AS INTEGER)
                           ORDER BY start_ns NULLS LAST, file_id) = 1
ORDER BY rank, device;
