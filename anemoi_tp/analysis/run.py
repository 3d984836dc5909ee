"""Run the analysis SQL files, in dependency order."""
from __future__ import annotations

import re

import duckdb

from ..database import run_sql
from ..resources import read_sql, resource_dir

# Each file reads only tables made by the files before it.
ANALYSIS_FILES = (
    "intervals/order.sql",
    "intervals/clip.sql",
    "intervals/islands.sql",
    "intervals/innermost.sql",
    "intervals/tracks.sql",
    "analysis/settings.sql",
    "analysis/range_candidates.sql",
    "analysis/module_ranges.sql",
    "analysis/host_ranges.sql",
    "analysis/batches.sql",
    "analysis/analysis_window.sql",
    "analysis/gpu_time.sql",
    "analysis/ownership.sql",
    "analysis/module_layers.sql",
    "analysis/attribution.sql",
    "analysis/annotations.sql",
    "analysis/collectives.sql",
    "analysis/batch_series.sql",
    "analysis/batch_flags.sql",
    "analysis/batch_trend.sql",
    "analysis/kernel_stats.sql",
    "analysis/operator_stats.sql",
    "analysis/rank_facts.sql",
)
_VERSION = re.compile(r"^--\s*\S+\.sql\s*\(version\s+(\d+)\)")


def run_analyses(con: duckdb.DuckDBPyConnection, patterns: dict[str, list] | None = None,
                 module_depth: int | None = None) -> None:
    """Create every analysis table. ``patterns`` replaces the default patterns of a kind;
    ``module_depth`` is the depth of the per-layer split (None: groups and their children)."""
    # read by analysis/module_layers.sql; set every time, so that an earlier run's value never stays
    con.execute("SET VARIABLE module_depth = ?", [module_depth])
    for f in ANALYSIS_FILES:
        run_sql(con, f)
        if f == "analysis/settings.sql" and patterns:
            from ..config import apply_patterns
            apply_patterns(con, patterns)


def query_versions() -> dict[str, int]:
    """{file: version} of every SQL file, from its header line."""
    out = {}
    root = resource_dir("queries")
    for path in sorted(root.rglob("*.sql")):
        rel = str(path.relative_to(root))
        m = _VERSION.match(read_sql(rel).splitlines()[0])
        out[rel] = int(m.group(1)) if m else None
    return out
