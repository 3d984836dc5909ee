"""Run every rule file into the `findings` table (one row per rank), and read back the
findings grouped across ranks (`findings_grouped`), worst first, and each rule's status."""
from __future__ import annotations

import duckdb

from ..config import threshold_problem
from ..database import run_sql
from ..errors import InputError
from ..resources import resource_dir

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# run after the rules: the findings across ranks, and whether each rule could be evaluated
AFTER_RULES = ("rules/_grouped.sql", "rules/_status.sql")
# what the rules read of a rank's large relations: made where the rank is (its map, or the
# database holding the set) so that the reduce reads small tables
RANK_INPUTS = "rules/_rank_inputs.sql"


def rule_files() -> list[str]:
    root = resource_dir("queries") / "rules"
    return [f"rules/{p.name}" for p in sorted(root.glob("*.sql")) if not p.name.startswith("_")]


RULE_FILES = tuple(rule_files())
# Rules that need every rank (collectives matched across ranks, spread across ranks, memory
# snapshots of the set): they run in the reduce. The others run in each rank's map, as
# candidates (rules/_candidates.sql).
SET_RULES = frozenset({"rules/straggler.sql", "rules/load_imbalance.sql",
                       "rules/exposed_communication.sql", "rules/memory_oom.sql"})
RANK_RULES = tuple(f for f in RULE_FILES if f not in SET_RULES)


def setup_rules(con: duckdb.DuckDBPyConnection) -> None:
    """The thresholds (default values where none are set yet) and the rules' macros."""
    run_sql(con, "rules/_thresholds.sql")
    run_sql(con, "rules/_setup.sql")


def apply_thresholds(con: duckdb.DuckDBPyConnection, thresholds: dict[str, dict[str, float]]) -> None:
    """Replace threshold values: {rule: {name: value}}; unknown ones are bad input."""
    known = set(con.execute("SELECT rule || '.' || name FROM rule_thresholds").fetchall())
    known = {k for (k,) in known}
    for rule, values in thresholds.items():
        for name, value in values.items():
            if f"{rule}.{name}" not in known:
                raise InputError(None, f"unknown threshold {rule}.{name} "
                                       f"(known: {', '.join(sorted(known))})")
            why = threshold_problem(value)
            if why:
                raise InputError(None, f"threshold {rule}.{name} {why}")
            con.execute("UPDATE rule_thresholds SET value = ? WHERE rule = ? AND name = ?",
                        [float(value), rule, name])


def run_rules(con: duckdb.DuckDBPyConnection, thresholds: dict | None = None) -> list[dict]:
    """Fill `findings` (after run_analyses) and return them grouped across ranks, worst first.
    Where the ranks' maps left ``rule_candidates``, the per-rank rules' findings come from
    them (with these thresholds) and only the set's rules run here."""
    from ..database import has_relation

    setup_rules(con)
    run_sql(con, "memory/schema.sql")  # empty snapshot tables unless one was loaded: memory_oom reads them
    if thresholds:
        apply_thresholds(con, thresholds)
    if has_relation(con, "rule_candidates"):
        run_sql(con, "rules/_candidates.sql")
        files = [f for f in RULE_FILES if f in SET_RULES]
    else:
        run_sql(con, RANK_INPUTS)
        files = list(RULE_FILES)
    for f in files:
        run_sql(con, f)
    for f in AFTER_RULES:
        run_sql(con, f)
    return grouped_findings(con)


def classifying_thresholds(thresholds: dict | None) -> dict:
    """The given thresholds whose role is 'classifies' (they change what a rank's map measures:
    part of its cache key), as {rule: {name: value}}."""
    if not thresholds:
        return {}
    con = duckdb.connect()
    try:
        run_sql(con, "rules/_thresholds.sql")
        roles = {(r, n): role for r, n, role in con.execute("SELECT rule, name, role FROM rule_thresholds").fetchall()}
    finally:
        con.close()
    out: dict = {}
    for rule, values in thresholds.items():
        for name, value in values.items():
            if roles.get((rule, name)) == "classifies":
                out.setdefault(rule, {})[name] = value
    return out


def run_rank_rules(con: duckdb.DuckDBPyConnection, classifying: dict | None = None) -> None:
    """In a rank's map: the per-rank rules, every 'fires' threshold at -infinity, into
    ``rule_candidates`` (rules/_candidates.sql applies the run's thresholds)."""
    setup_rules(con)
    if classifying:
        apply_thresholds(con, classifying)
    con.execute("UPDATE rule_thresholds SET value = '-infinity' WHERE role = 'fires'")
    run_sql(con, RANK_INPUTS)
    for f in RANK_RULES:
        run_sql(con, f)
    con.execute("CREATE OR REPLACE TABLE rule_candidates AS SELECT * FROM findings")
    con.execute("DELETE FROM findings")


def grouped_findings(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The findings grouped across ranks (after run_rules, or stored by `load`), worst first."""
    cur = con.execute(
        "SELECT * FROM findings_grouped ORDER BY CASE severity WHEN 'critical' THEN 0 "
        "WHEN 'warning' THEN 1 ELSE 2 END, value / nullif(threshold, 0) DESC NULLS LAST, "
        "rule, rank, scope, metric")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def rule_status(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per rule (after run_rules): status 'ran' / 'not evaluated', ranks, skipped ranks, reason."""
    cur = con.execute("SELECT * FROM rule_status ORDER BY rule")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]
