"""The long profile of the loader fuzzer (tests/kineto_fuzz.py; the CI test runs 150).

    python bench/fuzz.py --examples 5000 [--seed N]

Prints the examples tried and what became of them (loaded, or refused with which message);
stops at the first input that breaks the property, with the shrunk input.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from kineto_fuzz import check_document, documents, fresh_folder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    outcomes: Counter = Counter()

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(documents())
    def fuzz(data: bytes) -> None:
        folder = fresh_folder()
        try:
            outcomes[check_document(data, folder)] += 1
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    t0 = time.perf_counter()
    fuzz()
    print(f"{sum(outcomes.values())} examples in {time.perf_counter() - t0:.0f} s, property held:")
    for outcome, n in outcomes.most_common():
        print(f"  {n:6d}  {outcome}")


if __name__ == "__main__":
    main()
