"""One pipeline for 1 and 1000 ranks: plan -> map per rank (cached) -> reduce.

``plan.py`` assigns ranks and makes one task per rank; ``rankmap.py`` loads and analyses one
rank into a cache entry of Parquet files (``cache.py``), in this process or on Dask workers
(``execute.py``); ``reduce.py`` puts the entries together and runs what needs every rank.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .cache import Cache
from .plan import Plan


@dataclass
class RunOptions:
    """How to run the maps: the cache (``cache=False``: a temporary one), workers, scheduler."""

    cache: bool = True
    cache_dir: str | None = None
    workers: int | None = None
    scheduler: str | None = None
    progress: bool | None = None  # None: on a terminal only
    # the raw events (and the flows the reduce derives from them): for SQL of the user's; the
    # report reads neither, so its maps do not write them (~10 % of a map) until a query asks
    events: bool = True


@dataclass
class Opened:
    """A trace set after the reduce: its database, the entries' summaries, the warnings."""

    con: duckdb.DuckDBPyConnection
    plan: Plan
    infos: list[dict]
    cache: Cache
    folders: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds: plan, maps, reduce

    @property
    def warnings(self) -> list[str]:
        out = [f"{f}: ignored: {why}" for f, why in self.plan.ignored]
        for info in self.infos:
            out.extend(info.get("warnings", []))
        if self.plan.rank_source == "file order" and len(self.plan.tasks) > 1:
            out.append("ranks follow file order: the files carry no distributedInfo.rank")
        return out

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self.cache.close()


def open_trace(path: str | Path, options: RunOptions | None = None, engine: str = "kineto",
               trace_processor: str | None = None, patterns: dict | None = None,
               module_depth: int | None = None, thresholds: dict | None = None,
               before_rules: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
               threads: int | None = None) -> Opened:
    """Plan, map every rank (or find it in the cache), reduce, and run the rules."""
    from ..analysis import query_versions
    from ..rules.run import classifying_thresholds
    from .execute import run_maps, scheduler_from_env, share
    from .plan import make_plan
    from .progress import map_progress
    from .reduce import reduce_set

    options = options or RunOptions()
    cache = Cache.open(options.cache_dir, enabled=options.cache)
    t0 = time.perf_counter()
    try:
        plan = make_plan(path, cache, engine=engine, patterns=patterns, module_depth=module_depth,
                         trace_processor=trace_processor, classifying=classifying_thresholds(thresholds))
        versions = query_versions()
        t1 = time.perf_counter()
        with map_progress(plan, options.progress) as tick:
            infos = run_maps(plan.tasks, cache, versions, options.workers,
                             scheduler_from_env(options.scheduler), tick, threads, options.events)
            tick(None)  # the reduce
            t2 = time.perf_counter()
            # the reduce and the report within half the maps' budget: the report's rows are
            # Python objects beside it (a 64-rank JSON report is ~28 MB); DuckDB spills beyond
            entries = infos + [i["events_entry"] for i in infos if i.get("events_entry")]
            con, folders = reduce_set(plan, entries, patterns, thresholds, before_rules,
                                      share(plan.tasks, 2)[1])
    except BaseException:
        cache.close()
        raise
    stages = {"plan": t1 - t0, "maps": t2 - t1, "reduce": time.perf_counter() - t2}
    return Opened(con=con, plan=plan, infos=infos, cache=cache, folders=folders, stages=stages)
