"""Analysis and rule tables stored in a database file, with the query versions that made them.

``anemoi-tp load -o run.duckdb`` runs the analyses and rules (default settings) in the file,
so `query run.duckdb "SELECT * FROM batches"` works, and records each SQL file's version in
``analysis_versions``. A report on the file reuses the stored tables while every stored
version equals the current one and no option changes the settings; otherwise the tables are
recomputed in memory (the file, opened read-only, is never rewritten).
"""
from __future__ import annotations

import duckdb

from . import __version__
from .analysis import ANALYSIS_FILES, query_versions, run_analyses
from .database import has_relation, run_sql
from .rules import RULE_FILES, run_rules
from .rules.run import AFTER_RULES, RANK_INPUTS

MEMORY_FILES = ("memory/memory_events.sql",)
# every SQL file whose tables a stored analysis holds, once each, in the order they run
PERSISTED_FILES = tuple(dict.fromkeys(
    (*ANALYSIS_FILES, "rules/_thresholds.sql", "rules/_setup.sql", RANK_INPUTS, *RULE_FILES, *AFTER_RULES,
     *MEMORY_FILES)))
VERSIONS_TABLE = "analysis_versions"


def reset_settings(con: duckdb.DuckDBPyConnection) -> None:
    """Forget patterns and thresholds set by an earlier run on this connection, so that a rerun
    starts from the defaults (settings.sql and _thresholds.sql only fill empty tables). Only the
    in-memory database's copies: an attached file is read-only and keeps its own."""
    for table in ("analysis_patterns", "rule_thresholds"):
        con.execute(f"DROP TABLE IF EXISTS memory.main.{table}")


def analyse(con: duckdb.DuckDBPyConnection, patterns: dict | None = None,
            thresholds: dict | None = None, memory: bool = True,
            module_depth: int | None = None) -> None:
    """Run the analyses, rules and (``memory``) memory tables from the default settings plus
    the given ones (``module_depth``: the per-layer split's depth)."""
    reset_settings(con)
    run_analyses(con, patterns, module_depth=module_depth)
    run_rules(con, thresholds)
    if memory and has_relation(con, "trace_events"):
        for f in MEMORY_FILES:
            run_sql(con, f)


def store_analyses(con: duckdb.DuckDBPyConnection) -> None:
    """In a database file being loaded: the analysis, rule and memory tables (default settings)
    and the versions of the SQL files that made them."""
    analyse(con)
    run_sql(con, "persist/analysis_versions.sql")
    versions = query_versions()
    con.executemany(f"INSERT INTO {VERSIONS_TABLE} VALUES (?, ?, ?)",
                    [(f, versions[f], __version__) for f in PERSISTED_FILES])


def stored_analyses_status(con: duckdb.DuckDBPyConnection) -> tuple[bool, str]:
    """(reusable, why): whether the stored analysis tables were made by the current queries."""
    if not has_relation(con, VERSIONS_TABLE):
        return False, "no stored analyses (a trace, or a file from an older `anemoi-tp load`)"
    stored = dict(con.execute(f"SELECT file, version FROM {VERSIONS_TABLE}").fetchall())
    current = query_versions()
    wanted = {f: current[f] for f in PERSISTED_FILES}
    if stored != wanted:
        changed = sorted(f for f in set(stored) | set(wanted) if stored.get(f) != wanted.get(f))
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return False, f"stored analyses made by other query versions ({', '.join(changed[:3])}{more})"
    return True, "stored analyses are current"
