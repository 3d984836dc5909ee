"""Producer side: record traces that anemoi-tp's analyses can read fully.

Needs torch (``pip install 'anemoi-tp[capture]'``); Lightning only for ``ModuleRanges``.
Nothing here imports the analysis dependencies (duckdb, jinja2, …), and torch / Lightning
are imported on first use, so ``import anemoi_tp.capture`` works anywhere.

* ``module_ranges(model, include=None, depth=None)``: a context manager emitting
  "<Class> <path> fwd" / "<Class> <path> bwd" ``record_function`` ranges (torch's fast kind,
  ``cpu_op`` in the trace; ``user_annotation=True``: record_function's own kind).
* ``ModuleRanges``: the same as a Lightning callback, plus distributedInfo and memory snapshots.
* ``distributed_info()``, ``mark_distributed_info(prof)``, ``add_distributed_info(path)``:
  the trace's rank metadata; ``memory_history(dir)``: one memory snapshot per rank (CUDA).
"""
from __future__ import annotations

from typing import Any

_LAZY = {
    "module_ranges": ".ranges", "select_modules": ".ranges", "default_modules": ".ranges",
    "ModuleRanges": ".lightning",
    "distributed_info": ".traces", "add_distributed_info": ".traces",
    "mark_distributed_info": ".traces", "memory_history": ".traces",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'anemoi_tp.capture' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(_LAZY[name], __name__), name)
