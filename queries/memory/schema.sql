-- memory/schema.sql (version 1): memory snapshot tables (torch.cuda.memory._dump_snapshot).
-- Filled by: anemoi_tp/ingest/snapshot.py.   Used by: memory/snapshot_summary.sql.
--
-- @table memory_snapshots  one row per snapshot file
-- @column snapshot_id      id
-- @column file             the pickle
CREATE TABLE IF NOT EXISTS memory_snapshots (snapshot_id INTEGER, file VARCHAR);

-- @table mem_segments      one row per allocator segment (cudaMalloc'd memory)
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column address          segment start address
-- @column total_size       bytes reserved by the segment
-- @column stream           stream it belongs to
-- @column segment_type     'small' or 'large' pool
-- @column pool             segment_pool_id (private pools of CUDA graphs differ from (0, 0))
-- @column is_expandable    expandable segment
CREATE TABLE IF NOT EXISTS mem_segments (
    snapshot_id INTEGER, device INTEGER, address UBIGINT, total_size BIGINT, stream BIGINT,
    segment_type VARCHAR, pool VARCHAR, is_expandable BOOLEAN);

-- @table mem_blocks        one row per block of a segment
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column segment_address  its segment
-- @column segment_type     its segment's pool type
-- @column pool             its segment's pool id
-- @column address          block address
-- @column size             bytes (rounded by the allocator)
-- @column requested_size   bytes the caller asked for
-- @column state            active_allocated | active_pending_free | inactive (free)
-- @column top_frame        innermost stack frame of the allocation, 'file:line function'
-- @column user_frame       innermost frame outside torch (the model code), if any
CREATE TABLE IF NOT EXISTS mem_blocks (
    snapshot_id INTEGER, device INTEGER, segment_address UBIGINT, segment_type VARCHAR, pool VARCHAR,
    address UBIGINT, size BIGINT, requested_size BIGINT, state VARCHAR, top_frame VARCHAR,
    user_frame VARCHAR);

-- @table mem_trace         the allocator's event history (device_traces), oldest first
-- @column snapshot_id      snapshot
-- @column device           GPU index
-- @column seq              position in the device's history
-- @column action           alloc | free_requested | free_completed | segment_alloc |
--                          segment_free | segment_map | segment_unmap | snapshot | oom
-- @column addr             address
-- @column size             bytes
-- @column stream           stream
-- @column time_us          when (µs)
-- @column device_free      free device memory reported with an oom
-- @column top_frame        innermost stack frame
-- @column user_frame       innermost frame outside torch
CREATE TABLE IF NOT EXISTS mem_trace (
    snapshot_id INTEGER, device INTEGER, seq BIGINT, action VARCHAR, addr UBIGINT, size BIGINT,
    stream BIGINT, time_us BIGINT, device_free BIGINT, top_frame VARCHAR, user_frame VARCHAR);
