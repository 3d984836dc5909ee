-- ingest/register_file.sql (version 1): one trace file, before its events are parsed.
-- Reads: $file_id, $rank, $rank_source, $path, $json_bytes, $base_ns, $metadata (JSON text),
--        $device_properties (JSON text), $name_host, $name_pid.   Writes: trace_files.
INSERT INTO trace_files (file_id, rank, rank_source, path, json_bytes, base_time_ns, metadata,
                         device_properties, name_host, name_pid)
VALUES ($file_id, $rank, $rank_source, $path, $json_bytes, $base_ns, $metadata,
        $device_properties, $name_host, $name_pid);
