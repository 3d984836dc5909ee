"""Time a multi-rank report spends after loading (the analyses and rendering only).

Generates (or reuses) an Anemoi-like trace set, loads it once, then times build_report and
each analysis SQL file on the loaded database.

    python bench/bench_report.py --ranks 4 --size-mb 200
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from anemoi_tp.analysis import ANALYSIS_FILES
from anemoi_tp.database import connect, run_sql
from anemoi_tp.ingest import load_traces
from anemoi_tp.report import build_report
from anemoi_tp.report.text import render_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, default=4)
    ap.add_argument("--size-mb", type=float, default=200, help="total JSON size")
    ap.add_argument("--keep", type=Path, help="generate into / reuse this directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="anemoi-tp-bench-") as tmp:
        trace = args.keep or Path(tmp) / "trace"
        if not trace.exists():
            subprocess.run([sys.executable, str(Path(__file__).with_name("bench_ingest.py")),
                            "--generate-only", str(trace), "--size-mb", str(args.size_mb),
                            "--ranks", str(args.ranks)], check=True)
        con = connect()
        t0 = time.perf_counter()
        r = load_traces(con, trace)
        t_load = time.perf_counter() - t0
        print(f"trace: {len(r.files)} rank(s), {r.json_bytes / 1e6:.0f} MB JSON, {r.events:,} events, "
              f"{con.execute('SELECT count(*) FROM gpu_activities').fetchone()[0]:,} GPU activities; "
              f"load {t_load:.2f} s")
        t0 = time.perf_counter()
        report = build_report(con)
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        text = render_text(report, detailed=True)
        js = json.dumps(report, default=str)
        t_render = time.perf_counter() - t0
        print(f"report after loading: {t_build + t_render:.2f} s "
              f"(analyses {t_build:.2f} s, text + JSON {t_render:.3f} s; {len(text):,} + {len(js):,} chars)")
        for f in ANALYSIS_FILES:  # again, one by one, to see where the time goes
            t0 = time.perf_counter()
            run_sql(con, f)
            print(f"  {f:<36} {time.perf_counter() - t0:6.2f} s")


if __name__ == "__main__":
    main()
