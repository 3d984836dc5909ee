-- rules/_rank_inputs.sql (version 3): what the rules need of a rank's large relations, made where the rank is.
-- Reads: gpu_activities, gpu_activity_args, gpu_owners, analysis_window, rank_facts.
-- Used by: rules/low_occupancy.sql, rules/exposed_communication.sql, rules/_status.sql.
--
-- Runs in each rank's map (anemoi_tp/pipeline/rankmap.py), before the per-rank rules, and
-- where one database holds the set, before all rules. Its tables are small; the reduce then
-- reads them instead of every rank's kernels, args and ranges. (Measured against reading
-- those in the reduce: no faster at 8 or 64 ranks, the Parquet reads moving to the report's
-- views; kept so that only small per-rank tables cross from map to reduce.)

-- Kineto's "est. achieved occupancy %" of each computation kernel, parsed from its JSON args
-- once for low_occupancy.sql and rule_rank_facts. Kineto writes 0 where it could not estimate
-- occupancy: 0 is unknown (NULL), not low.
CREATE OR REPLACE TEMP TABLE rule_occupancy AS
SELECT g.activity_id, nullif(TRY_CAST(a.args ->> 'est. achieved occupancy %' AS DOUBLE), 0) AS occ
FROM gpu_activities g JOIN gpu_activity_args a USING (activity_id)
WHERE g.class = 'computation';

-- @table rule_rank_facts  per rank, why a rule could not be evaluated on it (rules/_status.sql)
-- @column rank           rank
-- @column no_window      why the rank has no analysis window (NULL: it has one)
-- @column no_gpu         'no GPU activity in the window' (NULL: there is some)
-- @column no_data_loader 'no data-loader ranges' (NULL: there are some)
-- @column no_occupancy   why no kernel in the window has an occupancy estimate (NULL: one has)
CREATE OR REPLACE TABLE rule_rank_facts AS
SELECT f.rank,
       CASE WHEN w.ts IS NULL THEN coalesce(w.missing, 'no analysis window') END AS no_window,
       CASE WHEN f.gpu_in_window = 0 THEN 'no GPU activity in the window' END AS no_gpu,
       CASE WHEN f.data_loader_ranges = 0 THEN 'no data-loader ranges' END AS no_data_loader,
       CASE WHEN NOT EXISTS (SELECT 1 FROM gpu_activities g JOIN rule_occupancy o USING (activity_id)
                             WHERE g.rank = f.rank AND g.ts < w.end_ts AND g.ts + g.dur > w.ts
                               AND o.occ IS NOT NULL)
            THEN 'no kernel with an occupancy estimate (est. achieved occupancy %)' END AS no_occupancy
FROM rank_facts f LEFT JOIN analysis_window w USING (rank)
ORDER BY f.rank;

-- @table rule_comm_kernels  the communication kernels and the computation kernels that overlap one (exposed_communication.sql)
-- @column activity_id    gpu_activities.activity_id
-- @column rank           rank
-- @column name           kernel name
-- @column ts             start, ns (not clipped to the window)
-- @column end_ts         end, ns
-- @column compute        true: a computation kernel overlapping a communication kernel of
--                        its rank (the others cannot overlap a transfer, which lies inside one)
-- @column owned          whether gpu_owners has the kernel (communication kernels)
-- @column phase          gpu_owners.phase (communication kernels)
-- @column module_group   gpu_owners.module_group (communication kernels)
CREATE OR REPLACE TEMP TABLE _rci_comm AS
SELECT activity_id, rank, name, ts, ts + dur AS end_ts FROM gpu_activities WHERE class = 'communication';
CREATE OR REPLACE TEMP TABLE _rci_comm_timed AS SELECT * FROM _rci_comm WHERE end_ts > ts;
CREATE OR REPLACE TEMP TABLE _rci_compute AS
SELECT activity_id, rank, name, ts, ts + dur AS end_ts FROM gpu_activities WHERE class = 'computation';
CREATE OR REPLACE TABLE rule_comm_kernels AS
SELECT c.activity_id, c.rank, c.name, c.ts, c.end_ts, false AS compute,
       o.activity_id IS NOT NULL AS owned, o.phase, o.module_group
FROM _rci_comm c LEFT JOIN gpu_owners o USING (activity_id)
UNION ALL
SELECT activity_id, rank, name, ts, end_ts, true, false, NULL, NULL
FROM overlap_flags(_rci_compute, _rci_comm_timed) WHERE meets
ORDER BY rank, ts, activity_id;
DROP TABLE _rci_comm;
DROP TABLE _rci_comm_timed;
DROP TABLE _rci_compute;
