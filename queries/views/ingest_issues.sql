-- views/ingest_issues.sql (version 1): what ingestion skipped, flagged or had to guess.
-- Reads: trace_events, trace_files, ingest_notes (ingest/schema.sql).
--
-- @view ingest_issues  skipped events counted per (rank, issue), then the file-level notes
-- @column rank         rank of the file
-- @column file         the trace file
-- @column engine       which loader reports it
-- @column issue        what is wrong (e.g. 'negative dur', 'missing ts')
-- @column events       number of events skipped for it
-- @column example      name (or ph) of one such event
CREATE OR REPLACE VIEW ingest_issues AS
SELECT e.rank, f.path AS file, 'kineto' AS engine, e.issue, count(*) AS events,
       min(coalesce(e.name, 'ph=' || e.ph)) AS example
FROM trace_events e JOIN trace_files f USING (file_id)
WHERE e.issue IS NOT NULL
GROUP BY ALL
UNION ALL
SELECT n.rank, f.path, n.engine, n.issue, n.events, n.example
FROM ingest_notes n LEFT JOIN trace_files f ON f.rank = n.rank
ORDER BY rank NULLS FIRST, issue;
