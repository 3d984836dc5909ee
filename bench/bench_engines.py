"""Start-up and load speed of both engines.

Embedded Perfetto: first call (compiling the WebAssembly module, with an empty cache) and a
cached call (the compiled module read back from disk); then load MB/s of a generated trace
for the default Kineto engine and for the Perfetto engine (into the canonical tables), each
in a fresh process.

    python bench/bench_engines.py --size-mb 100
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

STARTUP = r"""
import json, sys, time
t0 = time.perf_counter()
from perfetto.trace_processor.protos import ProtoFactory
from perfetto.trace_processor.platform import PlatformDelegate
from anemoi_tp.engines.perfetto_wasm import WasmBackend
b = WasmBackend(ProtoFactory(PlatformDelegate()))
print(json.dumps({"startup_s": b.startup_s, "with_imports_s": time.perf_counter() - t0}))
"""

LOAD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
from anemoi_tp.database import connect
con = connect()
t0 = time.perf_counter()
if sys.argv[2] == "perfetto":
    from anemoi_tp.ingest.perfetto_loader import load_with_perfetto
    r = load_with_perfetto(con, sys.argv[1])
else:
    from anemoi_tp.ingest import load_traces
    r = load_traces(con, sys.argv[1])
dt = time.perf_counter() - t0
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"seconds": dt, "json_bytes": r.json_bytes, "events": r.events, "rss_kb": int(hwm)}))
"""


def child(code: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=100)
    ap.add_argument("--keep", type=Path, help="generate into / reuse this directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="anemoi-tp-bench-") as tmp:
        cache = Path(tmp) / "cache"
        first = child(STARTUP, env={"ANEMOI_TP_CACHE": str(cache)})
        cached = child(STARTUP, env={"ANEMOI_TP_CACHE": str(cache)})
        print(f"embedded trace processor start-up: first call {first['startup_s']:.2f} s (compile), "
              f"cached {cached['startup_s'] * 1e3:.0f} ms (+ imports: {cached['with_imports_s']:.2f} s)")
        trace = args.keep or Path(tmp) / "trace"
        if not trace.exists():
            subprocess.run([sys.executable, str(Path(__file__).with_name("bench_ingest.py")),
                            "--generate-only", str(trace), "--size-mb", str(args.size_mb), "--ranks", "1"],
                           check=True)
        f = next(trace.iterdir())
        for engine in ("kineto", "perfetto"):
            r = child(LOAD, str(f), engine, env={"ANEMOI_TP_CACHE": str(cache)})
            mb = r["json_bytes"] / 1e6
            print(f"{engine:>9} engine: {mb:.0f} MB JSON, {r['events']:,} events in {r['seconds']:.2f} s = "
                  f"{mb / r['seconds']:.0f} MB/s, peak RSS {r['rss_kb'] / 1024:.0f} MB")


if __name__ == "__main__":
    main()
