-- ingest/kineto_events.sql (version 3): append the events of Kineto files to trace_events.
-- Reads: $paths (the traceEvents arrays cut out of the files by the loader, in parts, listed
--        file by file and, within a file, in file order), $part_file (the file_id of each
--        path), $file_rank and $file_base_ns (rank and baseTimeNanoseconds of each file_id),
--        $columns (the event fields and their JSON types).
-- DuckDB parses the parts in parallel, one per thread. A part's file is found by its index in
-- $paths (the file_index virtual column), never from its path: DuckDB reads key=value path
-- segments as columns (hive partitioning), and a TMPDIR such as /x/rank=7 or /x/name=y would
-- then overwrite rank or name of every event; hive partitioning is off for that reason.
-- Rows are inserted in the order of $paths and, within a part, of the array (DuckDB keeps
-- insertion order; see tests/test_ingest_order_tmpdir.py), so trace_events.rowid is the
-- position in (file, file order).
--
-- Times: DuckDB's JSON reader turns every non-integer number into a DOUBLE, so ns are built
-- from the integer and fractional parts apart: integer µs (2021 and HTA traces hold epoch µs
-- around 1.7e15) stay exact, and 3-decimal float µs are exact up to 2^43 µs (~100 days).
-- Multiplying the DOUBLE by 1000 instead would lose up to 128 ns at epoch scale.
-- An event gets an issue (and is later left out of `events`) when its ph is missing or
-- unknown, its ts is missing or not a number (metadata events may lack ts), or a complete
-- event's dur is missing, not a number or negative. $columns reads ts and dur as DOUBLE
-- (fast) or, for files where that fails, as VARCHAR, so bad values become issues here.
INSERT INTO trace_events
WITH raw AS (
    SELECT CAST($part_file[CAST(file_index AS BIGINT) + 1] AS INTEGER) AS file_id,
           ph, cat, name, pid, tid, args, id, bp, s,
           ts AS ts_raw, TRY_CAST(ts AS DOUBLE) AS ts_us,
           dur AS dur_raw, TRY_CAST(dur AS DOUBLE) AS dur_us
    FROM read_json($paths, format = 'array', columns = $columns, hive_partitioning = false)
)
SELECT
    file_id, CAST($file_rank[file_id + 1] AS INTEGER) AS rank, ph, cat, name, pid, tid,
    TRY_CAST(floor(ts_us) AS BIGINT) * 1000 + TRY_CAST(round((ts_us - floor(ts_us)) * 1000) AS BIGINT)
        + $file_base_ns[file_id + 1] AS ts,
    TRY_CAST(floor(dur_us) AS BIGINT) * 1000 + TRY_CAST(round((dur_us - floor(dur_us)) * 1000) AS BIGINT)
        AS dur,
    args, id, bp, s,
    CASE
        -- the common case in one cheap test (a 23-way IN and seven WHENs per event cost a
        -- fifth of the parse); the detailed reasons below run for the failing rows only
        WHEN length(ph) = 1 AND contains('XBEiICstfMbneSTFpPONDRc', ph)
             AND coalesce(isfinite(ts_us), ts_raw IS NULL AND ph = 'M')
             AND coalesce(isfinite(dur_us) AND dur_us >= 0, dur_raw IS NULL AND ph <> 'X')
            THEN NULL
        WHEN ph IS NULL THEN 'missing ph'
        WHEN ph NOT IN ('X', 'B', 'E', 'i', 'I', 'C', 's', 't', 'f', 'M', 'b', 'n', 'e', 'S', 'T',
                        'F', 'p', 'P', 'O', 'N', 'D', 'R', 'c') THEN 'unknown ph ' || ph
        WHEN ts_raw IS NULL AND ph <> 'M' THEN 'missing ts'
        WHEN ts_raw IS NOT NULL AND (ts_us IS NULL OR NOT isfinite(ts_us)) THEN 'ts is not a number'
        WHEN ph = 'X' AND dur_raw IS NULL THEN 'complete event without dur'
        WHEN dur_raw IS NOT NULL AND (dur_us IS NULL OR NOT isfinite(dur_us)) THEN 'dur is not a number'
        WHEN dur_us < 0 THEN 'negative dur'
    END AS issue
FROM raw;
