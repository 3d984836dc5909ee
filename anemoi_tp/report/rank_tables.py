"""The report tables whose rows are per rank: the ranks' maps make them (pipeline/rankmap.py,
where each is cheap: its rank's rows alone), the report makes those absent (a whole set in one
database, a database from `load` stored without them)."""
from __future__ import annotations

import duckdb

from ..database import has_relation, run_sql

# table -> the file that makes it (after the analyses)
RANK_TABLES = {"report_layers": "report/report_layers.sql",
               "report_idle_gaps": "report/report_idle_gaps.sql"}


def make_rank_tables(con: duckdb.DuckDBPyConnection, absent_only: bool = True) -> None:
    """Run the file of each per-rank report table (only of those absent, by default)."""
    for table, f in RANK_TABLES.items():
        if not (absent_only and has_relation(con, table)):
            run_sql(con, f)
