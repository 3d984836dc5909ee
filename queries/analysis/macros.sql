-- analysis/macros.sql (version 1): helpers shared by the analyses.
-- Reads: nothing.
--
-- tkey(n, t): one sortable key for "time t on track n" (a thread, a process, a rank). A range
-- join written on such keys has inequality conditions only, which DuckDB runs as a fast
-- inequality join; with an equality on the track beside the inequalities it would pair every
-- point with every range of its track. ts are epoch ns (< 1e19), so tracks never mix.
CREATE OR REPLACE MACRO tkey(n, t) AS n::HUGEINT * 10000000000000000000 + t;
