"""anemoi-tp against traceinsight (HTA's successor) on the same trace set, side by side.

anemoi-tp: `python -m anemoi_tp report TRACE -f json --no-cache` end to end (load, analyses,
rules, JSON: a first run), and the same without --no-cache once the cache holds the ranks.
traceinsight: in a child run by --ti-python (a Python with `pip install traceinsight`), load
the folder with TraceAnalysis(trace_dir=...) and run the set issue 13 names: temporal
breakdown, comm/comp overlap, kernel breakdown, idle time breakdown (visualize=False).

Each side runs in its own process tree, measured the same way: wall seconds; CPU seconds of the
whole tree (/usr/bin/time; traceinsight parses ranks in a fork pool, joined before exit, so
the workers count); peak memory of the tree (summed PSS of every live descendant, sampled every
0.1 s: forked workers share pages, so summed RSS would count them twice) and the largest single
process (max RSS from /usr/bin/time). MB/core-s = uncompressed JSON MB / CPU seconds.

traceinsight 0.6.1 with pandas 3 fails on the demo files (TypeError: Invalid value ... for
dtype 'int16' in transform_correlation_to_index: small correlation ids are downcast to int16,
then upcasting on assignment raises); with pandas 2.3 it runs:
    python3 -m venv /work/venv-ti && /work/venv-ti/bin/pip install traceinsight 'pandas<3'

    python bench/bench_vs_traceinsight.py --ti-python /work/venv-ti/bin/python \
        --size-mb 100 --ranks 4            # generates a demo set (4 x 25 MB)
    python bench/bench_vs_traceinsight.py --ti-python ... --trace DIR   # an existing folder
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TI_CHILD = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import logging; logging.disable(logging.WARNING)
from hta.trace_analysis import TraceAnalysis
t0 = time.perf_counter()
a = TraceAnalysis(trace_dir=sys.argv[1])
t1 = time.perf_counter()
out = {"ranks": sorted(int(r) for r in a.t.traces)}
a.get_temporal_breakdown(visualize=False)
a.get_comm_comp_overlap(visualize=False)
a.get_gpu_kernel_breakdown(visualize=False)
a.get_idle_time_breakdown(visualize=False)
t2 = time.perf_counter()
out.update(load_s=t1 - t0, analyses_s=t2 - t1)
print(json.dumps(out))
"""


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _tree_pss_kb(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(_children(pid))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass  # exited between listing and reading
    return total


def measure(cmd: list[str], env: dict | None = None) -> dict:
    """Run cmd; wall, CPU of the tree, peak summed PSS and largest single RSS."""
    # /usr/bin/time: its own RUSAGE_CHILDREN holds this one command's tree only (ours would
    # also hold the generator's and the other tool's high-water mark)
    fd, tfile = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", tfile] + cmd,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_pss_kb(p.pid))

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    last = Path(tfile).read_text().strip().splitlines()[-1].split()
    os.unlink(tfile)
    maxrss, user, sys_ = int(last[0]), float(last[1]), float(last[2])
    return {"rc": p.returncode, "wall": wall, "cpu": user + sys_, "pss_kb": peak[0],
            "maxrss_kb": maxrss, "stdout": out, "stderr": err}


def json_bytes(trace: Path) -> int:
    files = [trace] if trace.is_file() else sorted(p for p in trace.iterdir() if ".json" in p.name)
    total = 0
    for f in files:
        if f.name.endswith(".gz"):
            with gzip.open(f, "rb") as g:
                while chunk := g.read(1 << 24):
                    total += len(chunk)
        else:
            total += f.stat().st_size
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ti-python", help="a Python with traceinsight installed (else anemoi-tp only)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (best and median are printed)")
    ap.add_argument("--trace", type=Path, help="an existing trace folder (else one is generated)")
    ap.add_argument("--size-mb", type=float, default=100, help="total JSON size to generate")
    ap.add_argument("--ranks", type=int, default=4, help="files (one per rank) to generate")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="anemoi-tp-vs-ti-") as tmp:
        trace = args.trace
        if trace is None:
            trace = Path(tmp) / "trace"
            subprocess.run([sys.executable, str(ROOT / "bench" / "bench_ingest.py"), "--generate-only",
                            str(trace), "--size-mb", str(args.size_mb), "--ranks", str(args.ranks)],
                           check=True)
        mb = json_bytes(trace) / 1e6
        nfiles = 1 if trace.is_file() else len([p for p in trace.iterdir() if ".json" in p.name])
        print(f"trace: {trace} ({nfiles} file(s), {mb:.0f} MB of JSON); {os.cpu_count()} cores",
              flush=True)

        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                   ANEMOI_TP_CACHE=str(Path(tmp) / "cache"))
        cmd = [sys.executable, "-m", "anemoi_tp", "report", str(trace), "-f", "json",
               "-o", str(Path(tmp) / "report.json")]
        runs: dict[str, list[dict]] = {"anemoi-tp": [], "anemoi-tp cached": [], "traceinsight": []}
        ti_info = None
        for _ in range(args.repeat):
            # first run: nothing cached (--no-cache); then the run the cache makes cheap
            at = measure(cmd + ["--no-cache"], env=env)
            if at["rc"] != 0:
                sys.exit(f"anemoi-tp failed (exit {at['rc']}): {at['stderr'].strip()[-2000:]}")
            runs["anemoi-tp"].append(at)
            measure(cmd, env=env) if not runs["anemoi-tp cached"] else None  # fills the cache once
            runs["anemoi-tp cached"].append(measure(cmd, env=env))
            if args.ti_python:
                ti = measure([args.ti_python, "-c", TI_CHILD, str(trace)])
                if ti["rc"] != 0:
                    print(f"traceinsight FAILED on these files (exit {ti['rc']}); its error:")
                    print("\n".join(ti["stderr"].strip().splitlines()[-15:]))
                    args.ti_python = None
                    continue
                ti_info = json.loads(ti["stdout"].strip().splitlines()[-1])
                runs["traceinsight"].append(ti)

    print(f"{args.repeat} run(s) each; best / median")
    print(f"{'tool':<17} {'wall s':>13} {'CPU s':>13} {'MB/core-s':>13} {'peak PSS GB':>13} {'max 1 proc GB':>13}")

    def bm(vals: list[float], fmt: str, low_is_best: bool = True) -> str:
        best = min(vals) if low_is_best else max(vals)
        return f"{fmt.format(best)} / {fmt.format(statistics.median(vals))}"

    for name, rs in runs.items():
        if not rs:
            continue
        wall, cpu = bm([r["wall"] for r in rs], "{:.1f}"), bm([r["cpu"] for r in rs], "{:.1f}")
        rate = bm([mb / r["cpu"] for r in rs], "{:.1f}", False)
        pss, rss = bm([r["pss_kb"] / 1e6 for r in rs], "{:.2f}"), bm([r["maxrss_kb"] / 1e6 for r in rs], "{:.2f}")
        print(f"{name:<17} {wall:>13} {cpu:>13} {rate:>13} {pss:>13} {rss:>13}")
    if runs["traceinsight"]:
        at_cpu = statistics.median(r["cpu"] for r in runs["anemoi-tp"])
        at_wall = statistics.median(r["wall"] for r in runs["anemoi-tp"])
        ti_cpu = statistics.median(r["cpu"] for r in runs["traceinsight"])
        ti_wall = statistics.median(r["wall"] for r in runs["traceinsight"])
        print(f"traceinsight / anemoi-tp (medians, first runs): wall {ti_wall / at_wall:.2f}x, "
              f"CPU {ti_cpu / at_cpu:.2f}x")
        print(f"traceinsight: ranks {ti_info['ranks']}, load {ti_info['load_s']:.1f} s, "
              f"four analyses {ti_info['analyses_s']:.1f} s")
    largest = max((p.stat().st_size for p in (trace.iterdir() if trace.is_dir() else [trace])), default=0) / 1e9
    print(f"memory goal: 1.5 x largest rank file + 0.4 GB = {1.5 * largest + 0.4:.2f} GB")


if __name__ == "__main__":
    main()
