-- views/ranks.sql (version 2): one row per rank: where it came from and what ran it.
-- Reads: trace_files.
--
-- A rank's timeline may come in several files (segments: exports of one process, e.g.
-- Anemoi's training-cycle and teardown exports); the keys below are the first segment's
-- (the one whose events start first), sizes and counts are summed over the segments.
--
-- @view ranks                  one row per rank
-- @column rank                 rank index
-- @column file                 the trace file (the first segment where there are several)
-- @column segments             number of files of the rank (1, or more for segments)
-- @column files                every file of the rank, in time order
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
-- @column json_bytes           uncompressed size of the JSON, all segments
-- @column events_read          events in the file(s)
-- @column metadata             every other top-level key, as JSON
CREATE OR REPLACE VIEW ranks AS
WITH seg AS (
    SELECT *,
           row_number() OVER (PARTITION BY rank ORDER BY start_ns NULLS LAST, file_id) AS k,
           count(*) OVER (PARTITION BY rank) AS segments,
           list(path) OVER (PARTITION BY rank ORDER BY start_ns NULLS LAST, file_id
                            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS files,
           sum(json_bytes) OVER (PARTITION BY rank) AS all_json_bytes,
           sum(events_read) OVER (PARTITION BY rank) AS all_events_read
    FROM trace_files
)
SELECT
    rank,
    path AS file,
    segments,
    files,
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
    CAST(all_json_bytes AS BIGINT) AS json_bytes,
    CAST(all_events_read AS BIGINT) AS events_read,
    metadata
FROM seg
WHERE k = 1
ORDER BY rank;
