-- ingest/segment_conflicts.sql (version 1): files that claim one rank but are not one process.
-- Reads: trace_files (after finish.sql).   Used by: the loaders, which refuse such a set.
--
-- Files of one rank are segments of one process's timeline when they name the same host and
-- pid (the pid from the Anemoi file name, else the pid with the most CPU events) and their
-- spans do not overlap (one process exports a window once; an overlap is the same events
-- twice, e.g. a file copied). Returns one row per offending pair: rank, the two files, why.
SELECT a.rank, a.path AS first_file, b.path AS second_file,
       CASE WHEN coalesce(a.metadata ->> 'host_name', a.name_host) IS NULL
                 OR coalesce(b.metadata ->> 'host_name', b.name_host) IS NULL
                THEN 'the host is unknown'
            WHEN coalesce(a.metadata ->> 'host_name', a.name_host)
                 <> coalesce(b.metadata ->> 'host_name', b.name_host)
                THEN 'hosts ' || coalesce(a.metadata ->> 'host_name', a.name_host) || ' and '
                     || coalesce(b.metadata ->> 'host_name', b.name_host)
            WHEN coalesce(a.name_pid, a.main_pid) IS DISTINCT FROM coalesce(b.name_pid, b.main_pid)
                THEN 'pids ' || coalesce(CAST(coalesce(a.name_pid, a.main_pid) AS VARCHAR), 'unknown')
                     || ' and ' || coalesce(CAST(coalesce(b.name_pid, b.main_pid) AS VARCHAR), 'unknown')
            ELSE 'one process, but their time spans overlap (the same events twice?)'
       END AS why
FROM trace_files a JOIN trace_files b ON a.rank = b.rank AND a.file_id < b.file_id
WHERE coalesce(a.metadata ->> 'host_name', a.name_host) IS NULL
   OR coalesce(b.metadata ->> 'host_name', b.name_host) IS NULL
   OR coalesce(a.metadata ->> 'host_name', a.name_host) <> coalesce(b.metadata ->> 'host_name', b.name_host)
   OR coalesce(a.name_pid, a.main_pid) IS DISTINCT FROM coalesce(b.name_pid, b.main_pid)
   OR (a.start_ns < b.end_ns AND b.start_ns < a.end_ns)
ORDER BY a.rank, a.file_id, b.file_id;
