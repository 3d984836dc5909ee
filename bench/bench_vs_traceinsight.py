"""anemoi-tp against traceinsight (HTA's successor) on the same trace set, side by side.

anemoi-tp: `python -m anemoi_tp report TRACE -f json` end to end (load, analyses, rules, JSON).
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
    ap.add_argument("--ti-python", required=True, help="a Python with traceinsight installed")
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

        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        at = measure([sys.executable, "-m", "anemoi_tp", "report", str(trace), "-f", "json",
                      "-o", str(Path(tmp) / "report.json")], env=env)
        if at["rc"] != 0:
            sys.exit(f"anemoi-tp failed (exit {at['rc']}): {at['stderr'].strip()[-2000:]}")
        ti = measure([args.ti_python, "-c", TI_CHILD, str(trace)])
        ti_ok = ti["rc"] == 0
        if ti_ok:
            ti_info = json.loads(ti["stdout"].strip().splitlines()[-1])

    rows = [("anemoi-tp", at)] + ([("traceinsight", ti)] if ti_ok else [])
    print(f"{'tool':<13} {'trace MB':>8} {'wall s':>7} {'CPU s':>7} {'MB/core-s':>9} "
          f"{'peak PSS GB':>11} {'max 1 proc GB':>13}")
    for name, r in rows:
        print(f"{name:<13} {mb:>8.0f} {r['wall']:>7.1f} {r['cpu']:>7.1f} {mb / r['cpu']:>9.1f} "
              f"{r['pss_kb'] / 1e6:>11.2f} {r['maxrss_kb'] / 1e6:>13.2f}")
    if ti_ok:
        print(f"{'ratio ti/at':<13} {'':>8} {ti['wall'] / at['wall']:>7.2f} {ti['cpu'] / at['cpu']:>7.2f} "
              f"{at['cpu'] / ti['cpu']:>9.2f} {ti['pss_kb'] / at['pss_kb']:>11.2f} "
              f"{ti['maxrss_kb'] / at['maxrss_kb']:>13.2f}")
        print(f"traceinsight: ranks {ti_info['ranks']}, load {ti_info['load_s']:.1f} s, "
              f"four analyses {ti_info['analyses_s']:.1f} s")
    else:
        print(f"traceinsight FAILED on these files (exit {ti['rc']}); its error:")
        print("\n".join(ti["stderr"].strip().splitlines()[-15:]))


if __name__ == "__main__":
    main()
