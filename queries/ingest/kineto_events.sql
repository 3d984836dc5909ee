-- ingest/kineto_events.sql (version 5): append the events of Kineto files to trace_events.
-- Reads: $paths (the traceEvents arrays cut out of the files by the loader, in parts, listed
--        file by file and, within a file, in file order), $part_file (the file_id of each
--        path: an index into the next three lists), $file_ids (the file_id of each index: a
--        rank's map loads some files of the set, under their set-wide ids), $file_rank and
--        $file_base_ns (rank and baseTimeNanoseconds of each index),
--        $columns (the event fields and their JSON types).
-- DuckDB parses the parts in parallel, one per thread. A part's file is found by its index in
-- $paths (the file_index virtual column), never from its path: DuckDB reads key=value path
-- segments as columns (hive partitioning), and a TMPDIR such as /x/rank=7 or /x/name=y would
-- then overwrite rank or name of every event; hive partitioning is off for that reason.
-- Rows are inserted in the order of $paths and, within a part, of the array (DuckDB keeps
-- insertion order; see tests/test_ingest_order_tmpdir.py), so trace_events.rowid is the
-- position in (file, file order) of the database's files; event ids add event_base()
-- (schema.sql), which makes them unique across the ranks of a set.
--
-- Times: ts and dur are parsed as DOUBLE, so ns are built
-- from the integer and fractional parts apart: integer µs (2021 and HTA traces hold epoch µs
-- around 1.7e15) stay exact, and 3-decimal float µs are exact up to 2^43 µs (~100 days).
-- Multiplying the DOUBLE by 1000 instead would lose up to 128 ns at epoch scale.
-- An event gets an issue (and is later left out of `events`) when its ph is missing or
-- unknown, its ts is missing (metadata events may lack ts), not a JSON number (a string, a
-- boolean, NaN: never coerced) or out of range, or a complete event's dur is missing, not a
-- number, negative or out of range. NaN and Infinity are no JSON at all (DuckDB reads them,
-- Perfetto refuses the file): their issue makes the loader refuse the file, as Perfetto does. ts and dur are read as JSON text ($columns) so that
-- "ts": "5" or "ts": true is told from 5; the range is |ts| and dur below 2^52 µs (142 years:
-- ns then fit BIGINT with any baseTimeNanoseconds below 2^62, which the loader checks), so a
-- ts of 1e17 or 1e30 is one skipped event, not an overflow of the file or a silent NULL.
INSERT INTO trace_events
WITH raw AS (
    SELECT CAST($part_file[CAST(file_index AS BIGINT) + 1] AS INTEGER) AS file_ix,
           ph, cat, name, pid, tid, args, id, bp, s,
           ts AS ts_raw, TRY_CAST(CAST(ts AS VARCHAR) AS DOUBLE) AS ts_us,
           dur AS dur_raw, TRY_CAST(CAST(dur AS VARCHAR) AS DOUBLE) AS dur_us
    FROM read_json($paths, format = 'array', columns = $columns, hive_partitioning = false)
)
SELECT
    CAST($file_ids[file_ix + 1] AS INTEGER) AS file_id, CAST($file_rank[file_ix + 1] AS INTEGER) AS rank,
    ph, cat, name, pid, tid,
    -- NaN and inf fail the range test too (DuckDB orders NaN above every number)
    CASE WHEN abs(ts_us) < 4503599627370496 THEN
        CAST(floor(ts_us) AS BIGINT) * 1000 + CAST(round((ts_us - floor(ts_us)) * 1000) AS BIGINT)
        + $file_base_ns[file_ix + 1] END AS ts,
    CASE WHEN abs(dur_us) < 4503599627370496 THEN
        CAST(floor(dur_us) AS BIGINT) * 1000 + CAST(round((dur_us - floor(dur_us)) * 1000) AS BIGINT)
        END AS dur,
    args, id, bp, s,
    CASE
        -- the common case in one cheap test (a 23-way IN and seven WHENs per event cost a
        -- fifth of the parse); the detailed reasons below run for the failing rows only
        WHEN length(ph) = 1 AND contains('XBEiICstfMbneSTFpPONDRc', ph)
             AND coalesce(abs(ts_us) < 4503599627370496, ts_raw IS NULL AND ph = 'M')
             AND coalesce(dur_us >= 0 AND dur_us < 4503599627370496, dur_raw IS NULL AND ph <> 'X')
            THEN NULL
        WHEN ph IS NULL THEN 'missing ph'
        WHEN ph NOT IN ('X', 'B', 'E', 'i', 'I', 'C', 's', 't', 'f', 'M', 'b', 'n', 'e', 'S', 'T',
                        'F', 'p', 'P', 'O', 'N', 'D', 'R', 'c') THEN 'unknown ph ' || ph
        WHEN ts_raw IS NULL AND ph <> 'M' THEN 'missing ts'
        WHEN lower(CAST(ts_raw AS VARCHAR)) IN ('nan', '-nan', 'inf', '-inf', 'infinity', '-infinity')
            THEN 'ts is NaN or Infinity (not JSON)'
        WHEN ts_raw IS NOT NULL AND (ts_us IS NULL OR NOT isfinite(ts_us)) THEN 'ts is not a number'
        WHEN ts_raw IS NOT NULL AND NOT abs(ts_us) < 4503599627370496 THEN 'ts out of range'
        WHEN ph = 'X' AND dur_raw IS NULL THEN 'complete event without dur'
        WHEN lower(CAST(dur_raw AS VARCHAR)) IN ('nan', '-nan', 'inf', '-inf', 'infinity', '-infinity')
            THEN 'dur is NaN or Infinity (not JSON)'
        WHEN dur_raw IS NOT NULL AND (dur_us IS NULL OR NOT isfinite(dur_us)) THEN 'dur is not a number'
        WHEN dur_us < 0 THEN 'negative dur'
        WHEN dur_raw IS NOT NULL AND NOT dur_us < 4503599627370496 THEN 'dur out of range'
    END AS issue
FROM raw;
