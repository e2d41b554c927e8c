"""Seconds from a fault to the affected submissions being scored (exactly once), through real worker
processes: a whole worker killed mid-scoring, the broker restarted without persistence, the broker down
at upload. Runs the fault tests (tests/backend/test_job_faults.py) and prints the times they measure.

    .venv/bin/python benchmarks/bench_job_recovery.py                  # the tests' short timings
    .venv/bin/python benchmarks/bench_job_recovery.py --production     # the production defaults (5/20/10/5/40 s)

Set DATABASE_URL / CELERY_BROKER_URL as CI does for PostgreSQL and Redis. Times include starting the
replacement worker (about 10 s on a shared 2-vCPU box) and the scoring itself.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--production", action="store_true", help="the production job timings, not the tests' short ones")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.production:
        env["DATAPERF_JOB_TIMINGS"] = "production"
    out = subprocess.run([sys.executable, "-m", "pytest", "tests/backend/test_job_faults.py", "-q", "-s",
                          "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True, text=True)
    figures = [line for line in out.stdout.splitlines() if re.search(r" in [\d.]+ s|after the broker came back", line)]
    print(f"job timings: {'production' if args.production else 'tests (short)'}")
    for line in figures:
        print(" ", re.sub(r"^[.FEsx]+", "", line).strip())
    if out.returncode:
        print(out.stdout[-3000:])
    return out.returncode


if __name__ == "__main__":
    sys.exit(main())
