-- intervals/innermost.sql (version 2): the innermost range around each point of a track.
-- Reads: the tables given to it.   Used by: ownership, attribution, rules, memory.
--
-- innermost_enclosing(points, ranges) is a table macro over two materialised tables:
--   points: point_id (any key), k (tkey(track, t) of the point)
--   ranges: range_id, ks, ke (tkey of start and end on the same track numbering), ts, end_ts
--           (the range's own times, for the order), event_id (its position in the file)
-- A range encloses a point when start ≤ t < end. Of the ranges enclosing a point, the
-- innermost one (intervals/order.sql) is returned: one row per point that has any.
-- Plain tables keep DuckDB's inequality join (IEJoin); filters belong in the caller's tables.
--
-- @column point_id     the point
-- @column range_id     its innermost enclosing range
CREATE OR REPLACE MACRO innermost_enclosing(points, ranges) AS TABLE
SELECT p.point_id, arg_max(r.range_id, innermost_order(r.ts, r.end_ts, r.event_id)) AS range_id
FROM query_table(points) p JOIN query_table(ranges) r ON p.k >= r.ks AND p.k < r.ke
GROUP BY p.point_id;

-- innermost_enclosing_by_kind(points, ranges): the same, for ranges of several kinds on the
-- same tracks (ranges also carry kind_no): the innermost range of each kind around each point,
-- from one range join instead of one per kind. One row per point and kind that has any.
--
-- @column point_id     the point
-- @column kind_no      the kind
-- @column range_id     its innermost enclosing range of that kind
CREATE OR REPLACE MACRO innermost_enclosing_by_kind(points, ranges) AS TABLE
SELECT p.point_id, r.kind_no,
       arg_max(r.range_id, innermost_order(r.ts, r.end_ts, r.event_id)) AS range_id
FROM query_table(points) p JOIN query_table(ranges) r ON p.k >= r.ks AND p.k < r.ke
GROUP BY p.point_id, r.kind_no;
