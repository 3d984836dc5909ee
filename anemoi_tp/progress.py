"""A progress bar for loads, shown on a terminal once a load has taken over a second."""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DELAY_S = 1.0


@contextmanager
def load_progress(label: str, enabled: bool | None = None) -> Iterator[Callable[[int, int, str], None]]:
    """Yields a ``callback(done_bytes, total_bytes, stage)``; draws a bar on stderr after DELAY_S."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda done, total, stage: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    state = {"done": 0, "total": 0, "stage": "reading"}
    lock = threading.Lock()

    def callback(done: int, total: int, stage: str) -> None:
        with lock:
            state["done"], state["total"], state["stage"] = done, total, stage

    def draw(stop: threading.Event) -> None:
        if stop.wait(DELAY_S):
            return  # finished within a second: no bar
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=state["total"] or None)
            while not stop.wait(0.1):
                with lock:
                    bar.update(task, completed=state["done"], total=state["total"] or None,
                               description=f"{label}: {state['stage']}")
            with lock:
                bar.update(task, completed=state["total"] or state["done"])

    with drawing(draw):
        yield callback


@contextmanager
def drawing(draw: Callable[[threading.Event], None]) -> Iterator[None]:
    """Runs ``draw(stop)`` in a thread while the block runs; ``stop`` is set at its end (the
    one place our progress displays start and stop)."""
    stop = threading.Event()
    thread = threading.Thread(target=draw, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def stage_status(label: str, enabled: bool | None = None) -> Iterator[None]:
    """A spinner with ``label`` on stderr (a terminal only) while a stage without a measurable
    size runs (the report after the reduce), after DELAY_S."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield
        return
    from rich.console import Console

    def draw(stop: threading.Event) -> None:
        if stop.wait(DELAY_S):
            return
        with Console(stderr=True).status(label):
            stop.wait()

    with drawing(draw):
        yield
