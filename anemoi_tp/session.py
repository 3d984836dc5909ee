"""What `anemoi-tp report`, `export` and the Python API share: settings from options, opening a
source, the report built on stored analyses where they are current, and the report's JSON text."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from .config import load_config, merge_options, merge_thresholds
from .database import attach_loaded, is_duckdb_file
from .errors import InputError
from .jsonout import dumps as strict_json
from .persist import analyse, stored_analyses_status

if TYPE_CHECKING:
    from .pipeline import RunOptions

ThresholdOptions = Mapping[str, float] | Mapping[str, Mapping[str, float]] | Iterable[str] | None


def threshold_strings(thresholds: ThresholdOptions) -> tuple[str, ...]:
    """``RULE.NAME=VALUE`` strings from {"rule.name": v}, {"rule": {"name": v}} or the strings."""
    if not thresholds:
        return ()
    if isinstance(thresholds, str):
        return (thresholds,)
    if isinstance(thresholds, Mapping):
        out = []
        for key, value in thresholds.items():
            if isinstance(value, Mapping):
                out.extend(f"{key}.{name}={v}" for name, v in value.items())
            else:
                out.append(f"{key}={value}")
        return tuple(out)
    return tuple(thresholds)


def resolve_settings(config: str | Path | None = None, batch: Iterable[str] = (),
                     module_groups: Iterable[str] = (),
                     thresholds: ThresholdOptions = None) -> tuple[dict, dict]:
    """(patterns, thresholds) as `report` builds them: the TOML file, then the options on top."""
    file_patterns, file_thresholds = load_config(Path(config) if config is not None else None)
    if isinstance(batch, str):
        batch = (batch,)
    if isinstance(module_groups, str):
        module_groups = (module_groups,)
    patterns = merge_options(file_patterns, tuple(batch), tuple(module_groups))
    return patterns, merge_thresholds(file_thresholds, threshold_strings(thresholds))


@dataclass
class Source:
    """An opened source: its database; whether the analyses and rules are done already (a
    trace set through the pipeline) and with which settings."""

    con: duckdb.DuckDBPyConnection
    is_database: bool
    analysed: bool
    opened: object | None = None  # pipeline.Opened: holds the cache of a --no-cache run

    def close(self) -> None:
        if self.opened is not None:
            self.opened.close()
        else:
            self.con.close()


def open_set(source: str | Path, run: RunOptions | None = None, *, patterns: dict | None = None,
             thresholds: dict | None = None, module_depth: int | None = None,
             engine: str = "kineto", trace_processor: str | None = None,
             threads: int | None = None, warn: Callable[[str], None] | None = None) -> Source:
    """A `.duckdb` from `load` (attached read-only; analyses to do), or a trace file or folder
    through the pipeline (anemoi_tp/pipeline: per-rank maps, cached, then the reduce, the
    rules and any memory snapshot beside the traces): analysed with these settings.
    ``run``: pipeline.RunOptions (cache, workers, scheduler, progress); ``warn`` gets each
    ingest warning."""
    from .ingest.snapshot import is_pickle
    from .pipeline import open_trace

    path = Path(source)
    if path.is_file() and is_pickle(path):
        raise InputError(path, "is a pickle (a memory snapshot?): use `anemoi-tp memory` for snapshots, "
                               "or put it beside the traces of a directory")
    if is_duckdb_file(path):
        return Source(attach_loaded(path), True, False)
    if engine not in ("kineto", "perfetto"):
        raise InputError(None, f"unknown engine {engine!r} (kineto, perfetto)")

    def snapshots(con: duckdb.DuckDBPyConnection) -> None:
        if path.is_dir():
            for i, snap in enumerate(sorted(p for p in path.iterdir() if p.suffix == ".pickle" and is_pickle(p))):
                load_snapshot_checked(con, snap, snapshot_id=i)

    opened = open_trace(path, run, engine=engine, trace_processor=trace_processor, patterns=patterns,
                        module_depth=module_depth, thresholds=thresholds, before_rules=snapshots,
                        threads=threads)
    if warn:
        for w in opened.warnings:
            warn(w)
    return Source(opened.con, False, True, opened)


def load_snapshot_checked(con: duckdb.DuckDBPyConnection, path: Path, snapshot_id: int = 0) -> None:
    """load_snapshot, with what its reader and DuckDB raise on odd values as bad input."""
    import re

    from .ingest.snapshot import load_snapshot

    try:
        load_snapshot(con, path, snapshot_id=snapshot_id)
    except RecursionError:
        raise InputError(path, "the snapshot is nested too deeply") from None
    except (OverflowError, duckdb.Error) as exc:
        # the first line, without the temporary file DuckDB names (ours, not the user's)
        why = re.sub(r'\s*in file "[^"]*",?', "", str(exc).splitlines()[0])[:200]
        raise InputError(path, f"a value of the snapshot is out of range or of the wrong type ({why})") from None


def ensure_analysed(con: duckdb.DuckDBPyConnection, patterns: dict | None = None,
                    thresholds: dict | None = None, memory: bool = True, reuse: bool = True,
                    module_depth: int | None = None) -> bool:
    """Make the analysis and rule tables: reuse stored ones where they are current and no
    setting differs from the defaults; else compute them (in memory). True when reused."""
    if (reuse and not patterns and not thresholds and module_depth is None
            and stored_analyses_status(con)[0]):
        return True
    analyse(con, patterns, thresholds, memory=memory, module_depth=module_depth)
    return False


def report_data(con: duckdb.DuckDBPyConnection, patterns: dict | None = None,
                thresholds: dict | None = None, analysed: bool = False,
                top: int | None = None, module_depth: int | None = None) -> dict:
    """The report as a dict (`build_report`), on stored analyses where they are current.

    ``analysed``: the tables were just made with these settings (the Python API keeps track)."""
    from .report import build_report

    if not analysed:
        # the memory tables are made by the report itself (report/memory.py)
        ensure_analysed(con, patterns, thresholds, memory=False, module_depth=module_depth)
    return build_report(con, analysed=True, top=top)


def report_json(data: dict) -> str:
    """The text of `anemoi-tp report -f json` (and of the JSON that MLflow gets)."""
    return strict_json(data, default=str) + "\n"
