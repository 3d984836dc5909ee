-- persist/analysis_versions.sql (version 1): which query versions made the stored analysis tables.
-- Reads: nothing.   Used by: anemoi_tp/persist.py (`anemoi-tp load` fills it; `report` on the
--        database file reuses the stored analysis and rule tables only while every version
--        here equals the current one, and recomputes them in memory otherwise).
--
-- @table analysis_versions  one row per SQL file whose tables `anemoi-tp load` stored in the file
-- @column file         the SQL file, relative to queries/
-- @column version      its `(version N)` when the tables were made
-- @column tool_version the anemoi-tp version that made them
CREATE OR REPLACE TABLE analysis_versions (file VARCHAR, version INTEGER, tool_version VARCHAR);
