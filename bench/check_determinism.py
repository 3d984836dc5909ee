"""The same trace must give the same JSON report, byte for byte: run after run, whatever the
number of jobs, wherever the temporary files live.

For each trace (the shared real traces, Anemoi's profiler folder, a generated demo set), runs
`anemoi-tp report TRACE -f json --no-cache` --runs times with -j 1, 2 and 4 in turn (a map per
rank with -j 1, small ranks mapped together with -j 2 and 4), plus once with a
TMPDIR whose path holds `key=value` folders, and prints one line per trace: how many distinct
reports came out (1 = deterministic) and the seconds per run.

    python bench/check_determinism.py [--runs 5] [--shared ../shared/traces] [TRACE ...]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def report(trace: Path, jobs: int, tmpdir: str | None = None) -> tuple[str, float, str]:
    env = dict(os.environ)
    if tmpdir:
        env["TMPDIR"] = tmpdir
    t0 = time.perf_counter()
    # --no-cache: every run computes (a cached run would only read the first one's tables);
    # ANEMOI_TP_GROUP_MB alternates between a map per rank and small ranks mapped together
    env["ANEMOI_TP_GROUP_MB"] = "0" if jobs % 2 else "96"
    p = subprocess.run([sys.executable, "-m", "anemoi_tp", "report", str(trace), "-f", "json",
                        "-j", str(jobs), "--no-cache"], capture_output=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        return f"exit {p.returncode}: {p.stderr.decode().strip()[-200:]}", dt, ""
    return hashlib.sha256(p.stdout).hexdigest()[:16], dt, p.stdout.decode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="*", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shared", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "traces")
    ap.add_argument("--diff-dir", type=Path, help="write the differing reports here")
    args = ap.parse_args()
    traces = list(args.traces)
    if not traces:
        if args.shared.is_dir():
            traces += sorted(args.shared.glob("*.json.gz"))
            if (args.shared / "anemoi_cpu_profile_stock").is_dir():
                traces.append(args.shared / "anemoi_cpu_profile_stock")
        demo = Path(tempfile.mkdtemp(prefix="determinism-demo-"))
        subprocess.run([sys.executable, "-m", "anemoi_tp", "demo", "-o", str(demo), "-f", "json"],
                       check=True, capture_output=True)
        traces.append(demo)
    odd = Path(tempfile.mkdtemp(prefix="determinism-")) / "rank=7" / "ts=1" / "name=x" / "file_id=9"
    odd.mkdir(parents=True)
    bad = 0
    for trace in traces:
        digests: dict[str, str] = {}
        times = []
        for _run in range(args.runs):
            for jobs in (1, 2, 4):
                d, dt, out = report(trace, jobs)
                digests.setdefault(d, out)
                times.append(dt)
        d, dt, out = report(trace, 2, str(odd))
        digests.setdefault(d, out)
        n = len(digests)
        bad += n != 1
        print(f"{trace.name:55s} {n} distinct report(s) in {3 * args.runs + 1} runs "
              f"({sum(times) / len(times):.2f} s/run) {' '.join(digests)}", flush=True)
        if n != 1 and args.diff_dir:
            args.diff_dir.mkdir(parents=True, exist_ok=True)
            for k, (_digest, text) in enumerate(digests.items()):
                (args.diff_dir / f"{trace.name}.{k}.json").write_text(text)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
