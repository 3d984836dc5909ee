-- views/ranks.sql (version 1): one row per rank: where it came from and what ran it.
-- Reads: trace_files.
--
-- @view ranks                  one row per rank (= per trace file)
-- @column rank                 rank index
-- @column file                 the trace file
-- @column rank_source          'distributedInfo', or 'file order' where files name no rank
-- @column world_size           distributedInfo.world_size
-- @column backend              distributedInfo.backend (nccl, gloo, …)
-- @column host                 host_name key, else the host in an Anemoi file name
-- @column pid                  main process id: from the Anemoi file name, else the pid with
--                              the most CPU events
-- @column framework            Framework key (e.g. pytorch-lightning), NULL where absent
-- @column trace_id             trace_id key
-- @column cupti_version        cupti_version key
-- @column cuda_runtime_version cuda_runtime_version key (e.g. 12090 = 12.9)
-- @column cuda_driver_version  cuda_driver_version key
-- @column nccl_version         distributedInfo.nccl_version
-- @column base_time_ns         baseTimeNanoseconds (0: timestamps were epoch µs already)
-- @column json_bytes           uncompressed size of the file's JSON
-- @column events_read          events in the file
-- @column metadata             every other top-level key, as JSON
CREATE OR REPLACE VIEW ranks AS
SELECT
    rank,
    path AS file,
    rank_source,
    TRY_CAST(metadata -> '$.distributedInfo' ->> 'world_size' AS INTEGER) AS world_size,
    metadata -> '$.distributedInfo' ->> 'backend' AS backend,
    coalesce(metadata ->> 'host_name', name_host) AS host,
    coalesce(name_pid, main_pid) AS pid,
    metadata ->> 'Framework' AS framework,
    metadata ->> 'trace_id' AS trace_id,
    TRY_CAST(metadata ->> 'cupti_version' AS BIGINT) AS cupti_version,
    TRY_CAST(metadata ->> 'cuda_runtime_version' AS BIGINT) AS cuda_runtime_version,
    TRY_CAST(metadata ->> 'cuda_driver_version' AS BIGINT) AS cuda_driver_version,
    metadata -> '$.distributedInfo' ->> 'nccl_version' AS nccl_version,
    base_time_ns,
    json_bytes,
    events_read,
    metadata
FROM trace_files
ORDER BY rank;
