"""The progress bar of a run, across ranks and stages: ranks mapped (bytes of JSON, cached
ones at once), then the reduce. Drawn on stderr when it is a terminal, after a second."""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..progress import DELAY_S, drawing
from .plan import Plan


def fully_cached(info: dict) -> bool:
    """A map that found everything it was asked for in the cache: its analyses and, where it
    was asked for them (``events_entry``), its raw events (a map that loads a rank again for
    its events alone does the ingest's work: not "cached")."""
    events = info.get("events_entry")
    return bool(info.get("cached")) and (events is None or bool(events.get("cached")))


@contextmanager
def map_progress(plan: Plan, enabled: bool | None = None) -> Iterator[Callable[[dict | None], None]]:
    """Yields ``tick(info)``: one rank's map is done (``None``: the maps are, the reduce runs)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    total = sum(t.json_bytes_hint for t in plan.tasks) or 1
    state = {"done": 0, "ranks": 0, "cached": 0, "stage": "ranks"}
    n = sum(len(set(t.ranks)) for t in plan.tasks)
    lock = threading.Lock()

    def tick(info: dict | None) -> None:
        with lock:
            if info is None:
                state["stage"] = "reduce"
                return
            n_ranks = len(info["ranks"])
            state["ranks"] += n_ranks
            state["cached"] += n_ranks if fully_cached(info) else 0
            files = set(info["files"])
            state["done"] += sum(t.json_bytes_hint for t in plan.tasks if t.files[0] in files)

    if not enabled:
        yield tick
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    def label() -> str:
        if state["stage"] == "reduce":
            return f"{n} rank(s) mapped ({state['cached']} cached); reduce, rules and report"
        return f"ranks {state['ranks']}/{n} ({state['cached']} cached)"

    def draw(stop: threading.Event) -> None:
        if stop.wait(DELAY_S):
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label(), total=total)
            while not stop.wait(0.1):
                with lock:
                    bar.update(task, completed=state["done"], description=label())

    with drawing(draw):
        yield tick
