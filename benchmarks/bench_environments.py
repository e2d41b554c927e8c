"""Evaluation environments: build time, the 2023 reproduction, and the cost of scoring in a subprocess.

    .venv/bin/python benchmarks/bench_environments.py [--rebuild] [--repeats 3] [--out benchmarks/out]

* ``--rebuild`` times ``environments.build("dataperf-2023")`` into a fresh directory under ``--out``
  (pip's cache makes a second build faster than the first);
* the reproduction: the demo's real keyword-spotting data (prebuilt espeak-ng embeddings) with the
  ``random`` baseline (train_size 25, seed 0), scored by ``python -m evaluation score ...`` in
  ``current`` and in ``dataperf-2023`` (the 2023-era scikit-learn 1.2.2);
* the overhead of a subprocess: the in-process score (problem loaded and cached, as a warm worker)
  against the wall time of ``<env python> -m evaluation score`` (new interpreter, imports, data
  loading, scoring, JSON), for both environments, with one BLAS thread.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation import baselines, environments, registry  # noqa: E402
from fixtures.builders import layouts, load_prebuilt  # noqa: E402

PINNED = "dataperf-2023"


def _env(extra: dict | None = None) -> dict:
    env = environments.subprocess_env(environments.CURRENT)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", **(extra or {}))
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, stdout)."""
    cpu, start = _children_cpu(), time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=_env(), check=True)
    return time.perf_counter() - start, _children_cpu() - cpu, out.stdout


def subprocess_score(name: str, data: Path, submission: Path) -> tuple[float, float, dict]:
    wall, cpu, out = _timed(environments.evaluation_command(
        name, ["score", "speech-selection", "--data", str(data), "--submission", str(submission), "--train-size", "25",
               "--json"]))
    return wall, cpu, json.loads(out)


def startup(name: str) -> float:
    """CPU s of interpreter start + importing the evaluation library and its registry (sklearn, pandas, pyarrow)."""
    imports = "import evaluation.__main__, sklearn.ensemble, sklearn.svm, sklearn.linear_model, pandas, pyarrow.parquet"
    return _timed([str(environments.python_executable(name)), "-c", imports])[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="time a fresh build of dataperf-2023")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    if args.rebuild:
        with tempfile.TemporaryDirectory(dir=args.out) as fresh:
            os.environ["DATAPERF_ENVIRONMENTS_DIR"] = fresh
            start = time.perf_counter()
            environments.build(PINNED, log=lambda line: None)
            print(f"build {PINNED} from scratch (pip cache as it is): {time.perf_counter() - start:.1f} s")
            os.environ.pop("DATAPERF_ENVIRONMENTS_DIR")
    if not environments.is_built(PINNED):
        start = time.perf_counter()
        environments.build(PINNED)
        print(f"build {PINNED}: {time.perf_counter() - start:.1f} s")

    data = args.out / "environments" / "keyword-speech-selection"
    if not (data / "BUILD_INFO.json").is_file():
        layouts.write_layout(load_prebuilt("keyword"), "speech-selection", data)
    submission = baselines.run_baseline("speech-selection", "random", data, args.out / "environments" / "random",
                                        {"train_size": 25}, 0)

    print("\nkeyword speech-selection, random baseline (train_size 25, seed 0): macro F1")
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for name in (environments.CURRENT, PINNED):
        payload = None
        wall[name], cpu[name] = [], []
        for _ in range(args.repeats):
            seconds, cpu_seconds, payload = subprocess_score(name, data, submission)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
        env = payload["environment"]
        print(f"  {name:14s} scikit-learn {env['scikit-learn']:6s} numpy {env['numpy']:7s} "
              f"macro_f1 = {payload['score']:.5f} ({payload['score']!r})")

    from threadpoolctl import threadpool_limits

    bench = registry.get("speech-selection")
    config = bench.config({"train_size": 25})
    with threadpool_limits(1):
        start, start_cpu = time.perf_counter(), time.process_time()
        problem = bench.load_problem(data, config)
        load, load_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        warm, warm_cpu = [], []
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            bench.evaluate(problem, bench.load_submission(problem, submission, config), config)
            warm.append(time.perf_counter() - start)
            warm_cpu.append(time.process_time() - start_cpu)
    in_wall, in_cpu = statistics.median(warm), statistics.median(warm_cpu)
    print(f"\nper scoring (median of {args.repeats}; one BLAS thread; CPU s is the steadier figure on a shared box)")
    print(f"  in process, problem cached (a warm worker): {in_cpu:.2f} s CPU / {in_wall:.2f} s wall "
          f"(+ {load_cpu:.2f} s CPU to load the problem once)")
    for name in (environments.CURRENT, PINNED):
        median_cpu, median_wall = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"  subprocess in {name:14s}: {median_cpu:.2f} s CPU / {median_wall:.2f} s wall = overhead "
              f"{median_cpu - in_cpu:+.2f} s CPU (interpreter + imports alone: {startup(name):.2f} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
