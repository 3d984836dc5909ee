"""Ingestion speed and memory of the default (Kineto -> DuckDB) engine.

Generates an Anemoi-like trace set of realistic structure (anemoi_tp.demo) of the size asked
for, then loads it in a fresh process per run and prints MB/s of JSON, MB/s per core used
and peak RSS (the child's VmHWM, the highest of the runs) against the JSON size; the best run
and the median (this machine's timings vary by 15-30 % from run to run).

    python bench/bench_ingest.py --size-mb 200 --ranks 1
    python bench/bench_ingest.py --size-mb 400 --ranks 4          # a directory, files in parallel
    python bench/bench_ingest.py --size-mb 1000 --ranks 1 --gzip
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# batches per MB of pretty-printed JSON for the demo's default model shape (measured)
BATCHES_PER_MB = 600 / 103

CHILD = r"""
import json, resource, sys, time
from anemoi_tp.database import connect
from anemoi_tp.ingest import load_traces
target = sys.argv[2] if len(sys.argv) > 2 else None
con = connect(target)
ru0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
r = load_traces(con, sys.argv[1])
dt = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
con.close()
# VmHWM, not ru_maxrss: after fork+exec ru_maxrss keeps the parent's high-water mark
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
print(json.dumps({"seconds": dt, "cpu": cpu, "json_bytes": r.json_bytes,
                  "events": r.events,
                  "files": len(r.files), "maxrss_kb": int(hwm)}))
"""


def generate(out: Path, size_mb: float, ranks: int, gz: bool) -> None:
    from anemoi_tp.demo import DemoConfig, generate_trace_set
    batches = max(1, round(size_mb / ranks * BATCHES_PER_MB))
    generate_trace_set(out, DemoConfig(ranks=ranks, batches=batches, gzip=gz, slow_rank=None))


def run_once(trace: Path, to_file: Path | None) -> dict:
    args = [sys.executable, "-c", CHILD, str(trace)] + ([str(to_file)] if to_file else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=200, help="total JSON size to generate")
    ap.add_argument("--ranks", type=int, default=1, help="files (one per rank)")
    ap.add_argument("--gzip", action="store_true", help="write .json.gz files")
    ap.add_argument("--repeat", type=int, default=2, help="runs per target (best is printed)")
    ap.add_argument("--keep", type=Path, help="generate into / reuse this directory")
    ap.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_only:
        generate(args.generate_only, args.size_mb, args.ranks, args.gzip)
        return
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="anemoi-tp-bench-") as tmp:
        trace = args.keep or Path(tmp) / "trace"
        if not trace.exists():
            t0 = time.perf_counter()
            # in a child process, so that its memory is not counted with the loads'
            subprocess.run([sys.executable, __file__, "--generate-only", str(trace),
                            "--size-mb", str(args.size_mb), "--ranks", str(args.ranks)]
                           + (["--gzip"] if args.gzip else []), check=True)
            print(f"generated {args.ranks} file(s) in {time.perf_counter() - t0:.1f} s", flush=True)
        on_disk = sum(f.stat().st_size for f in trace.iterdir())
        print(f"trace: {trace} ({args.ranks} file(s), {on_disk / 1e6:.0f} MB on disk"
              f"{', gzip' if args.gzip else ''}); machine: {cores} cores")
        for label, target in (("in-memory database", None), ("DuckDB file", Path(tmp) / "b.duckdb")):
            runs = []
            for _ in range(args.repeat):
                if target and target.exists():
                    target.unlink()
                runs.append(run_once(trace, target))
            runs.sort(key=lambda r: r["seconds"])
            best, median = runs[0], runs[len(runs) // 2]
            mb = best["json_bytes"] / 1e6
            rate = mb / best["seconds"]
            rss = max(r["maxrss_kb"] for r in runs) / 1024
            print(f"{label:>20}: {mb:8.1f} MB JSON, {best['events']:>10,} events, "
                  f"{best['seconds']:6.2f} s, {rate:6.1f} MB/s = {rate / cores:6.1f} MB/s per core, "
                  f"peak RSS {rss:7.0f} MB = {rss / mb:4.2f}x JSON")
            print(f"{'':>20}  median of {len(runs)}: {median['seconds']:6.2f} s = "
                  f"{mb / median['seconds'] / cores:6.1f} MB/s per core; CPU time of the load "
                  f"{median['cpu']:6.2f} s = {mb / median['cpu']:6.1f} MB per CPU second")


if __name__ == "__main__":
    main()
