-- views/ingest_issues.sql (version 2): what ingestion skipped, flagged, ignored or had to guess.
-- Reads: trace_events, trace_files, ingest_notes (ingest/schema.sql).
--
-- @view ingest_issues  skipped events counted per (file, issue), then the file-level notes
--                      (e.g. files of the trace folder that are no traces: ignored)
-- @column rank         rank of the file (NULL: a file that is no rank's, e.g. ignored)
-- @column file         the file
-- @column engine       which loader reports it
-- @column issue        what is wrong (e.g. 'negative dur', 'missing ts', 'ignored: …')
-- @column events       number of events skipped for it (NULL: a note not about events)
-- @column example      name (or ph) of one such event, or a detail
CREATE OR REPLACE VIEW ingest_issues AS
SELECT e.rank, f.path AS file, 'kineto' AS engine, e.issue, count(*) AS events,
       min(coalesce(e.name, 'ph=' || e.ph)) AS example
FROM trace_events e JOIN trace_files f USING (file_id)
WHERE e.issue IS NOT NULL
GROUP BY ALL
UNION ALL
SELECT rank, file, engine, issue, events, example
FROM ingest_notes
ORDER BY rank NULLS FIRST, file, issue;
