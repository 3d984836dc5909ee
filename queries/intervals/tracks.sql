-- intervals/tracks.sql (version 2): a number for every thread and every process of a rank.
-- Reads: events.   Used by: the range joins of ownership, rules and memory (with tkey).
--
-- @table interval_tracks  one row per (rank, pid, tid) that holds a complete event
-- @column rank         rank
-- @column pid          process
-- @column tid          thread
-- @column thread_no    the thread's track number: rank · 2^20 + 1, 2, … (the same for one thread
--                      everywhere, and whether the rank is loaded alone or with the others)
-- @column proc_no      the process's track number, likewise (all threads of a process share it)
CREATE OR REPLACE TABLE interval_tracks AS
SELECT rank, pid, tid,
       rank::BIGINT * 1048576 + dense_rank() OVER (PARTITION BY rank ORDER BY pid, tid) AS thread_no,
       rank::BIGINT * 1048576 + dense_rank() OVER (PARTITION BY rank ORDER BY pid) AS proc_no
FROM (SELECT DISTINCT rank, pid, tid FROM events WHERE ph = 'X');
