"""Where the maps run: in this process (no Dask start-up cost), on a local Dask cluster of N
worker processes (``--workers N``), or on an existing Dask scheduler (``--scheduler ADDRESS``
or ``ANEMOI_TP_SCHEDULER``; e.g. dask-jobqueue's SLURMCluster on an HPC allocation). A worker
reads the trace files where they lie and writes its rank's entry to the cache folder, so on
several nodes both must be on a shared file system. Only the task (file names, settings) and
the entry's summary (a few hundred bytes) travel between processes."""
from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import InputError
from .cache import Cache
from .plan import RankTask
from .rankmap import map_rank

Tick = Callable[[dict], None]


def memory_budget(tasks: list[RankTask]) -> int:
    """Bytes DuckDB may hold for the maps running at once, in all (``ANEMOI_TP_MEMORY_MB``,
    else 1.5 x the largest rank's JSON + 192 MiB); beyond it a map spills to its temporary
    folder. With the interpreter (~0.2 GB), a run stays within 1.5 x the largest rank + 0.4 GB.
    Measured on 4 x 250 MB ranks: spilling costs ~25 % more CPU than an unbounded run (1.9 GB)."""
    env = os.environ.get("ANEMOI_TP_MEMORY_MB")
    if env and env.isdigit() and int(env) > 0:
        return int(env) << 20
    largest = max((t.json_bytes_hint for t in tasks), default=0)
    return int(1.5 * largest) + (192 << 20)


def share(tasks: list[RankTask], maps: int) -> tuple[int, str]:
    """(DuckDB threads, memory limit) of each of ``maps`` maps running at once on this machine."""
    return (max(1, (os.cpu_count() or 1) // max(1, maps)),
            f"{memory_budget(tasks) // max(1, maps) >> 20}MiB")


def run_maps(tasks: list[RankTask], cache: Cache, versions: dict[str, int], workers: int | None = None,
             scheduler: str | None = None, tick: Tick | None = None, threads: int | None = None,
             events: bool = True) -> list[dict]:
    """Each task's entry summary, in task order; ``tick(summary)`` after each finished map.

    In this process the ranks are mapped ``concurrency`` at a time (one per core, at most one
    per rank), each map a DuckDB database of its own with cores / concurrency threads and an
    equal part of the memory budget (a rank's analyses parallelise less well than different
    ranks do). ``threads``: DuckDB threads of each map, instead. ``events``: with each rank's
    raw events (``rankmap.map_rank``)."""
    if scheduler is None and not workers:
        concurrency = max(1, min(len(tasks), os.cpu_count() or 1))
        per_map, limit = share(tasks, concurrency)
        per_map = threads or per_map
        out: list[dict | None] = [None] * len(tasks)

        def one(i: int) -> None:
            out[i] = map_rank(tasks[i], str(cache.root), cache.temporary, versions, threads=per_map,
                              memory_limit=limit, events=events)
            if tick:
                tick(out[i])

        if concurrency == 1:
            for i in range(len(tasks)):
                one(i)
        else:
            _in_threads(one, len(tasks), concurrency)
        return out  # type: ignore[return-value]
    return _run_dask(tasks, cache, versions, workers, scheduler, tick, events)


def _in_threads(one: Callable[[int], None], n: int, concurrency: int) -> None:
    """one(0) … one(n - 1), ``concurrency`` at a time. When the run stops (Ctrl-C, SIGTERM: raised
    in this thread) or a map fails, no further map starts and the running ones are interrupted
    (again until their threads are done: an interrupt stops one statement, and a map may be
    between two), rather than every map being finished first."""
    from concurrent.futures import ThreadPoolExecutor, wait

    from .rankmap import interrupt_running

    pool = ThreadPoolExecutor(concurrency)
    futures = [pool.submit(one, i) for i in range(n)]
    try:
        for f in futures:
            f.result()  # the first failure, in task order
    except BaseException:
        for f in futures:
            f.cancel()
        while wait(futures, timeout=0.05).not_done:
            interrupt_running()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask():
    try:
        import distributed
    except ImportError:
        raise InputError(None, "--workers / --scheduler need Dask: pip install 'anemoi-tp[dask]' "
                               "(dask and distributed)") from None
    return distributed


def _run_dask(tasks, cache, versions, workers, scheduler, tick, events) -> list[dict]:
    distributed = _dask()
    cluster = None
    if scheduler is None:
        # processes, one thread each: DuckDB parallelises inside a map with the cores given
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)
        client = distributed.Client(cluster)
        threads, limit = share(tasks, workers)
    else:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except OSError as exc:
            raise InputError(None, f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        threads, limit = None, None  # the worker's own cores and DuckDB's default memory limit
    try:
        futures = client.map(map_rank, tasks, cache_root=str(cache.root), cache_temporary=cache.temporary,
                             versions=versions, threads=threads, memory_limit=limit, events=events,
                             pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[dict | None] = [None] * len(tasks)
        try:
            for fut in distributed.as_completed(futures):
                info = fut.result()  # re-raises the map's InputError here
                out[index[fut.key]] = info
                if tick:
                    tick(info)
        except BaseException:
            client.cancel(futures)  # a stopped run or a failed map: the others are not wanted
            raise
        return out  # type: ignore[return-value]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def scheduler_from_env(option: str | None) -> str | None:
    return option or os.environ.get("ANEMOI_TP_SCHEDULER") or None
