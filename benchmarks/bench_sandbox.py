"""How long a sandbox run takes end to end, and what the sweeper costs. Prints figures.

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 20]

* trivial run: ``print('hi')`` through ``run_in_sandbox`` (registration, cgroup, /output tmpfs,
  bubblewrap, copy-out, cleanup); median and p90 of ``--runs`` runs;
* the same with cgroups and the /output tmpfs turned off (the runner's fallback), to show their cost;
* ``sweep()`` on an idle machine (scans /proc, the cgroup hierarchies and the state directory).

Needs root and bubblewrap. Figures depend on the machine's load (the committed docs quote a shared
2-vCPU box).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.sandbox import Limits, cgroups, run_in_sandbox, scratch, sweep  # noqa: E402


def _time_runs(code: Path, work: Path, runs: int, label: str) -> list[float]:
    times = []
    for i in range(runs):
        started = time.perf_counter()
        result = run_in_sandbox(code, ["python", "main.py"], {}, work / f"{label}-{i}", Limits(wall_seconds=30))
        times.append(time.perf_counter() - started)
        assert result.ok, result
    return times


def _summary(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    print(f"{name:<44} median {statistics.median(ordered) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms   (n={len(ordered)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        code = work / "code"
        code.mkdir(mode=0o755)
        (code / "main.py").write_text("print('hi')\n")
        _summary("trivial run (cgroup + /output tmpfs)", _time_runs(code, work, args.runs, "full"))

        real_hierarchies, real_mount = cgroups.hierarchies, scratch.mount_tmpfs

        def no_mount(path, options):
            raise OSError(1, "disabled by the benchmark")

        cgroups.hierarchies, scratch.mount_tmpfs = (lambda: []), no_mount
        try:
            _summary("trivial run (no cgroup, no tmpfs: fallback)", _time_runs(code, work, args.runs, "bare"))
        finally:
            cgroups.hierarchies, scratch.mount_tmpfs = real_hierarchies, real_mount

        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            sweep()
            times.append(time.perf_counter() - started)
        _summary("sweep() with nothing to clean", times)


if __name__ == "__main__":
    main()
