-- report/report_snapshot.sql (version 1): memory-snapshot sections of a report.
-- Reads: memory_snapshots, mem_device_summary, mem_sites, mem_ooms (memory/snapshot_summary.sql).
-- Used by: anemoi_tp/report (run only where a snapshot was loaded).
--
-- @view section_snapshot_devices one row per (snapshot, device)
-- @column file             the snapshot
-- @column device           GPU index
-- @column segments         allocator segments
-- @column reserved_mib     reserved, MiB
-- @column allocated_mib    allocated, MiB
-- @column requested_mib    requested by callers, MiB
-- @column inactive_mib     free inside segments, MiB
-- @column fragmentation_pct inactive / reserved × 100
CREATE OR REPLACE VIEW section_snapshot_devices AS
SELECT s.file, d.device, d.segments, d.reserved_bytes / 2 ^ 20 AS reserved_mib,
       d.allocated_bytes / 2 ^ 20 AS allocated_mib, d.requested_bytes / 2 ^ 20 AS requested_mib,
       d.inactive_bytes / 2 ^ 20 AS inactive_mib, d.fragmentation_pct
FROM mem_device_summary d JOIN memory_snapshots s USING (snapshot_id)
ORDER BY s.snapshot_id, d.device;

-- @view section_snapshot_sites the 10 largest live allocation sites of each (snapshot, device)
-- @column file             the snapshot
-- @column device           GPU index
-- @column site             user frame, else top frame
-- @column module           encoder | processor | decoder when the frames name one
-- @column blocks           live blocks
-- @column mib              their size, MiB
CREATE OR REPLACE VIEW section_snapshot_sites AS
SELECT s.file, x.device, x.site, x.module, x.blocks, x.bytes / 2 ^ 20 AS mib
FROM mem_sites x JOIN memory_snapshots s USING (snapshot_id)
QUALIFY row_number() OVER (PARTITION BY x.snapshot_id, x.device ORDER BY x.bytes DESC, x.site) <= 10
ORDER BY s.snapshot_id, x.device, x.bytes DESC, x.site;

-- @view section_snapshot_ooms out-of-memory events recorded in the snapshots
-- @column file             the snapshot
-- @column device           GPU index
-- @column time_us          when, µs
-- @column size_mib         the request that failed, MiB
-- @column free_mib         free device memory then, MiB
-- @column site             where
CREATE OR REPLACE VIEW section_snapshot_ooms AS
SELECT s.file, o.device, o.time_us, o.size / 2 ^ 20 AS size_mib, o.device_free / 2 ^ 20 AS free_mib, o.site
FROM mem_ooms o JOIN memory_snapshots s USING (snapshot_id)
ORDER BY s.snapshot_id, o.device, o.time_us;
