"""The Python API: a trace in a notebook, as pandas DataFrames.

>>> import anemoi_tp
>>> with anemoi_tp.load("anemoi-tp-demo") as t:          # trace file, folder, or run.duckdb
...     t.sql("SELECT rank, count(*) AS n FROM batches GROUP BY rank ORDER BY rank")
...     t.table("gpu_time")                              # any view or analysis table
...     report = t.report()                              # == `anemoi-tp report -f json`
...     t.findings()                                     # the bottleneck rules' findings
...     t.perfetto("SELECT count(*) FROM slice")         # PerfettoSQL, embedded engine
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .database import has_relation
from .errors import InputError
from .persist import stored_analyses_status
from .session import Source, ThresholdOptions, open_set, report_data, report_json, resolve_settings

if TYPE_CHECKING:
    import pandas


def load(path: str | Path, *, config: str | Path | None = None, batch: list[str] | tuple = (),
         module_groups: list[str] | tuple = (), thresholds: ThresholdOptions = None,
         jobs: int | None = None, engine: str = "kineto", trace_processor: str | None = None,
         cache: bool = True, workers: int | None = None, scheduler: str | None = None) -> Trace:
    """Open a trace (a ``*.pt.trace.json[.gz]`` file or a folder of per-rank files, loaded in
    memory) or a database file written by ``anemoi-tp load`` (read-only; its stored analysis
    tables are used while they are current), and make the analysis and rule tables.

    The options are `anemoi-tp report`'s: ``config`` a TOML file ([patterns], [thresholds]),
    ``batch`` regexes of batch ranges, ``module_groups`` ``"NAME=REGEX"`` strings,
    ``thresholds`` ``{"data_loader_stall.pct_of_total": 5}`` (or ``{"rule": {"name": v}}``, or
    ``"RULE.NAME=VALUE"`` strings). ``engine="perfetto"`` loads with Perfetto's trace processor.
    Ingest warnings are Python warnings (``anemoi_tp.ingest.kineto.IngestWarning``).
    ``cache``, ``workers``, ``scheduler``: as `report`'s --no-cache, --workers, --scheduler.

    >>> t = anemoi_tp.load("run/", thresholds={"data_loader_stall.pct_of_total": 5})
    >>> t.sql("SELECT * FROM analysis_window")
    >>> t.close()
    """
    patterns, thr = resolve_settings(config, batch, module_groups, thresholds)
    source = Path(path)
    if not source.exists():
        raise InputError(source, "no such file or directory")

    import warnings

    from .ingest.kineto import IngestWarning
    from .pipeline import RunOptions

    run = RunOptions(cache=cache, workers=workers, scheduler=scheduler, progress=False)

    def reopen(patterns: dict, thresholds: dict) -> Source:
        return open_set(source, run, patterns=patterns, thresholds=thresholds, engine=engine,
                        trace_processor=trace_processor, threads=jobs,
                        warn=lambda w: warnings.warn(w, IngestWarning, stacklevel=4))

    src = reopen(patterns, thr)
    trace = Trace(src.con, source, src.is_database)
    trace._src = src
    if src.analysed:  # a trace set: made with these settings; others open it again
        trace._settings, trace._reopen = (patterns, thr), reopen
    try:
        trace._analyse(patterns, thr)
    except BaseException:
        trace.close()
        raise
    return trace


class Trace:
    """A loaded trace: its DuckDB database, queried into pandas DataFrames.

    Use it as a context manager (``with anemoi_tp.load(...) as t:``) or call `close`.
    Tables and views: `anemoi-tp tables` (the public views), the analysis tables (``batches``,
    ``analysis_window``, ``gpu_time``, ``gpu_owners``, ``attribution``, ``annotation_stats``,
    ``collective_matches``, …) and the rule tables (``findings``, ``rule_status``, …), each
    documented in its SQL file under queries/.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, source: Path, is_database: bool) -> None:
        self.con = con
        """The DuckDB connection (DuckDB's own API: ``t.con.sql(...)``)."""
        self.source = source
        self.is_database = is_database
        self._settings: tuple[dict, dict] | None = None  # what the analysis tables were made with
        self._computed = False  # analysis tables computed on this connection (not the stored ones)
        self._tps: dict[str, Any] = {}  # Perfetto trace processors, by file, opened on first use
        self._src: Source | None = None  # what load opened (a trace set holds its cache)
        self._reopen = None  # a trace set: (patterns, thresholds) -> Source with those settings

    # -- life cycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database and any Perfetto trace processor (idempotent)."""
        for tp in self._tps.values():
            tp.close()
        self._tps.clear()
        if self._src is not None:
            self._src.close()
            self._src = None
        elif self.con is not None:
            self.con.close()
        self.con = None

    def __enter__(self) -> Trace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.con is None else "open"
        return f"<anemoi_tp.Trace {str(self.source)!r} ({state})>"

    def _db(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            raise InputError(self.source, "the trace is closed")
        return self.con

    def _analyse(self, patterns: dict, thresholds: dict) -> bool:
        """Make the analysis tables for these settings unless they are there; True if reused."""
        from .session import ensure_analysed

        if self._settings == (patterns, thresholds):
            return True
        if self._reopen is not None:  # a trace set: the maps' tables depend on the settings
            src = self._reopen(patterns, thresholds)
            self._src.close()
            self._src, self.con, self._settings = src, src.con, (patterns, thresholds)
            return False
        # once computed in memory, those tables hide a file's stored ones: compute again
        reused = ensure_analysed(self._db(), patterns, thresholds, reuse=not self._computed)
        self._computed = self._computed or not reused
        self._settings = (patterns, thresholds)
        return reused

    @property
    def stored_analyses(self) -> tuple[bool, str]:
        """(current, why) for a database file's stored analysis tables (anemoi_tp/persist.py)."""
        return stored_analyses_status(self._db())

    # -- queries -----------------------------------------------------------------------------

    def sql(self, sql: str, params: list | dict | None = None) -> pandas.DataFrame:
        """Run DuckDB SQL; the result as a DataFrame (JSON columns as strings).

        >>> t.sql("SELECT rank, class, sum(dur) / 1e6 AS ms FROM gpu_activities GROUP BY ALL")
        >>> t.sql("SELECT * FROM batches WHERE rank = $rank", {"rank": 0})
        """
        try:
            return self._db().execute(sql, params).df()
        except duckdb.Error as exc:
            raise InputError(None, f"query failed: {str(exc).splitlines()[0]}") from None

    def table(self, name: str) -> pandas.DataFrame:
        """All rows of one table or view, e.g. ``t.table("batches")``."""
        if not has_relation(self._db(), name):
            raise InputError(None, f"no table or view named {name!r} (see `anemoi-tp tables`)")
        return self._db().execute(f'SELECT * FROM "{name}"').df()

    def tables(self) -> list[str]:
        """The names of the tables and views there are to query."""
        from .export import export_names
        return export_names(self._db())

    def findings(self, per_rank: bool = False) -> pandas.DataFrame:
        """The findings of the bottleneck rules, worst first, as the report lists them: one row
        per rule, scope and metric, across the ranks it holds on (``ranks``); ``per_rank``:
        the ``findings`` table, one row per rank.

        >>> t.findings()[["rule", "severity", "ranks", "value", "threshold"]]
        """
        import pandas as pd

        from .rules.run import grouped_findings

        if per_rank:
            return self.sql("SELECT * FROM findings ORDER BY rule, rank, scope, metric")
        rows = grouped_findings(self._db())
        cols = [d[0] for d in self._db().execute("SELECT * FROM findings_grouped LIMIT 0").description]
        return pd.DataFrame(rows, columns=cols)

    def perfetto(self, sql: str, rank: int | None = None, trace_processor: str | None = None
                 ) -> pandas.DataFrame:
        """Run PerfettoSQL in Perfetto's trace processor (the embedded WebAssembly build, or a
        native ``trace_processor_shell``) on one trace file: the source file, or for a folder
        or a database file the file of ``rank`` (default: the lowest rank; its first segment).

        >>> t.perfetto("INCLUDE PERFETTO MODULE slices.with_context; "
        ...            "SELECT name, dur FROM thread_slice ORDER BY dur DESC LIMIT 5")
        """
        import pandas as pd

        from .engines.perfetto import open_trace_processor, query_rows

        file = self._trace_file(rank)
        if file not in self._tps:
            self._tps[file] = open_trace_processor(file, trace_processor)
        columns, rows = query_rows(self._tps[file], sql)
        return pd.DataFrame(rows, columns=columns)

    def _trace_file(self, rank: int | None) -> str:
        if self.source.is_file() and not self.is_database:
            return str(self.source)
        if rank is None:
            row = self._db().execute("SELECT path FROM trace_files ORDER BY rank, file_id LIMIT 1").fetchone()
        else:
            row = self._db().execute("SELECT path FROM trace_files WHERE rank = ? ORDER BY file_id LIMIT 1",
                                     [rank]).fetchone()
        if row is None:
            raise InputError(self.source, f"no trace file of rank {rank}" if rank is not None
                             else "no trace file")
        if not Path(row[0]).is_file():
            raise InputError(row[0], "trace file not found (Perfetto reads the original file)")
        return row[0]

    # -- reports -----------------------------------------------------------------------------

    def report(self, *, config: str | Path | None = None, batch: list[str] | tuple = (),
               module_groups: list[str] | tuple = (), thresholds: ThresholdOptions = None,
               top: int = 25, mlflow: bool | str = False, run_name: str | None = None) -> dict:
        """The report as `anemoi-tp report -f json` writes it, parsed: ``json.dumps(r, indent=2)``
        gives the CLI's bytes. The options are the CLI's; settings that differ from the
        current ones recompute the analysis tables (in memory). ``top`` is the CLI's ``--top``
        (annotation rows per rank in the report's sections).

        ``mlflow``: True logs metrics and the HTML and JSON reports into the active MLflow run
        (else a new run; ``MLFLOW_TRACKING_URI`` or MLflow's default store); a string is the
        tracking URI (``file:///path/mlruns`` works offline). Needs ``anemoi-tp[mlflow]``.

        >>> r = t.report(thresholds={"data_loader_stall.pct_of_total": 5})
        >>> [(x["rank"], x["throughput_it_s"]) for x in r["ranks"]]
        """
        patterns, thr = resolve_settings(config, batch, module_groups, thresholds)
        self._analyse(patterns, thr)
        data = report_data(self._db(), analysed=True, top=top)
        text = report_json(data)
        if mlflow:
            from .report.render import render_html
            from .tracking import log_report

            uri = mlflow if isinstance(mlflow, str) else None
            log_report(data, text, render_html(data, top=top), uri,
                       run_name or f"anemoi-tp {self.source.name}")
        return json.loads(text)

    def export(self, out_dir: str | Path, format: str = "csv", force: bool = False) -> list[Path]:
        """Write the public views and the analysis tables, one file each (`anemoi-tp export`)."""
        from .export import export_tables
        return [p for _, p, _ in export_tables(self._db(), out_dir, format, force)]

