"""Scale evidence: one generated trace set (default 64 ranks x 50 MB) through the pipeline in
this process, on 1 and 2 local Dask workers, and through a --scheduler cluster; per stage
(plan, maps, reduce + rules, report) and for the whole process tree: wall, CPU, peak PSS.

Each configuration runs in a child process (first run: a fresh cache each time; then once
more from the in-process run's cache), measured like bench_vs_traceinsight.py (CPU of the tree
from /usr/bin/time, peak of the summed PSS of every live descendant, sampled every 0.1 s).
Also prints what crosses from the maps to the reduce: the entries' Parquet bytes per rank.

    python bench/bench_scale.py                          # 64 x 50 MB (3.2 GB; ~15 min on 2 cores)
    python bench/bench_scale.py --ranks 16 --rank-mb 20 --keep /tmp/scale16
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vs_traceinsight import json_bytes, measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
mode, trace = sys.argv[1], sys.argv[2]
from anemoi_tp.pipeline import RunOptions
from anemoi_tp.report import build_report
from anemoi_tp.session import open_set, report_json
cluster = None
run = RunOptions(progress=False)
if mode.startswith("workers"):
    run.workers = int(mode[7:])
elif mode == "scheduler":
    import distributed
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    run.scheduler = cluster.scheduler_address
t0 = time.perf_counter()
src = open_set(trace, run)
t1 = time.perf_counter()
text = report_json(build_report(src.con, analysed=True, top=25))
t2 = time.perf_counter()
st = src.opened.stages
sizes = [sum(p.stat().st_size for p in __import__("pathlib").Path(i["path"]).glob("*.parquet"))
         for i in src.opened.infos]
print(json.dumps({"plan_s": st["plan"], "maps_s": st["maps"], "reduce_s": st["reduce"],
                  "report_s": t2 - t1, "open_s": t1 - t0, "cached": sum(i["cached"] for i in src.opened.infos),
                  "entry_bytes": sizes, "json_len": len(text)}))
src.close()
if cluster is not None:
    cluster.close()
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, default=64)
    ap.add_argument("--rank-mb", type=float, default=50, help="JSON per rank, MB")
    ap.add_argument("--keep", type=Path, help="generate into / reuse this directory")
    ap.add_argument("--modes", default="inprocess,workers1,workers2,scheduler",
                    help="comma-separated: inprocess, workersN, scheduler")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="anemoi-tp-scale-") as tmp:
        trace = args.keep or Path(tmp) / "trace"
        if not trace.exists():
            subprocess.run([sys.executable, str(ROOT / "bench" / "bench_ingest.py"), "--generate-only",
                            str(trace), "--size-mb", str(args.ranks * args.rank_mb), "--ranks",
                            str(args.ranks)], check=True)
        mb = json_bytes(trace) / 1e6
        largest = max(p.stat().st_size for p in trace.iterdir()) / 1e9
        print(f"trace: {args.ranks} ranks, {mb:.0f} MB of JSON (largest rank {largest * 1e3:.0f} MB); "
              f"{os.cpu_count()} cores; memory goal: 1.5 x largest + 0.4 GB = {1.5 * largest + 0.4:.2f} GB")
        print(f"{'mode':<22}{'wall s':>8}{'CPU s':>8}{'MB/core-s':>10}{'peak PSS GB':>12}"
              f"{'plan':>7}{'maps':>8}{'reduce':>8}{'report':>8}")
        outputs = {}
        runs = [(m, Path(tmp) / f"cache-{m}") for m in args.modes.split(",")]
        runs.append(("inprocess (cached)", Path(tmp) / "cache-inprocess"))
        for mode, cache in runs:
            env = dict(os.environ, ANEMOI_TP_CACHE=str(cache))
            m = measure([sys.executable, "-c", CHILD, mode.split(" ")[0], str(trace)], env=env)
            if m["rc"] != 0:
                print(f"{mode}: failed\n{m['stderr'][-2000:]}")
                continue
            r = json.loads(m["stdout"].strip().splitlines()[-1])
            outputs[mode] = r["json_len"]
            print(f"{mode:<22}{m['wall']:8.1f}{m['cpu']:8.1f}{mb / m['cpu']:10.1f}{m['pss_kb'] / 1e6:12.2f}"
                  f"{r['plan_s']:7.1f}{r['maps_s']:8.1f}{r['reduce_s']:8.1f}{r['report_s']:8.1f}")
            if mode == "inprocess":
                sizes = r["entry_bytes"]
                print(f"{'':<22}map -> reduce: entries {sum(sizes) / 1e6:.0f} MB in all, per rank median "
                      f"{statistics.median(sizes) / 1e6:.1f} MB ({100 * sum(sizes) / (mb * 1e6):.1f} % of "
                      f"the JSON); projected to 1000 ranks of this size: "
                      f"{statistics.median(sizes) * 1000 / 1e9:.1f} GB")
        same = len(set(outputs.values())) <= 1
        print(f"reports of every mode the same length: {same}")


if __name__ == "__main__":
    main()
