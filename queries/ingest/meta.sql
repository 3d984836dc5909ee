-- ingest/meta.sql (version 1): what wrote the database, so that a file can be checked before use.
-- Reads: nothing.   Parameters: $schema_version, $tool_version (anemoi_tp/database.py).
--
-- `report` / `query` / `memory` open a DuckDB file only when this table is there, is a table
-- and names the schema version they know: a file written by something else (or by an older
-- layout) is refused before anything stored in it runs.
--
-- @table anemoi_tp_meta  one row: the layout of the tables and the tool that loaded them
-- @column schema_version the layout of the stored tables (anemoi_tp.database.SCHEMA_VERSION)
-- @column tool_version   the anemoi-tp version that loaded them
CREATE OR REPLACE TABLE anemoi_tp_meta AS
SELECT $schema_version::INTEGER AS schema_version, $tool_version::VARCHAR AS tool_version;
