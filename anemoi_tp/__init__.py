"""anemoi-tp: PyTorch profiler traces of distributed training -> answers, with SQL.

In Python: ``anemoi_tp.load(PATH) -> Trace`` (anemoi_tp/api.py).
"""
__version__ = "0.1.0"

__all__ = ["Trace", "load", "__version__"]


def __getattr__(name: str):
    # imported on first use: the command line does not pay for pandas
    if name in ("load", "Trace"):
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'anemoi_tp' has no attribute {name!r}")
