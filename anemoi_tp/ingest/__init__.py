"""Ingestion: trace files -> canonical DuckDB tables."""
from .kineto import LoadResult, load_traces

__all__ = ["LoadResult", "load_traces"]
