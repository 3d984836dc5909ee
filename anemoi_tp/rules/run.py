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


def rule_files() -> list[str]:
    root = resource_dir("queries") / "rules"
    return [f"rules/{p.name}" for p in sorted(root.glob("*.sql")) if not p.name.startswith("_")]


RULE_FILES = tuple(rule_files())


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
    """Fill `findings` (after run_analyses) and return them grouped across ranks, worst first."""
    run_sql(con, "rules/_setup.sql")
    run_sql(con, "memory/schema.sql")  # empty snapshot tables unless one was loaded: memory_oom reads them
    if thresholds:
        apply_thresholds(con, thresholds)
    for f in RULE_FILES:
        run_sql(con, f)
    for f in AFTER_RULES:
        run_sql(con, f)
    return grouped_findings(con)


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
