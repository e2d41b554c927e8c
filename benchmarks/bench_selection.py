"""Timing of the selection scorers against the reference procedure, at the reference data size.

    .venv/bin/python benchmarks/bench_selection.py [--oracle-calls 1] [--submissions 5] [--out benchmarks/out]

Generates (once, then reuses) reference-size data with ``fixtures.synthetic`` under ``--out``
(git-ignored): speech = 5 target words, 10,000 train / 30,000 eval nontarget clips, 1024-d;
vision = 200,000-row 256-d pool (Spark-style partitioned), 3 concepts. Then times

* the reference oracle (tests/evaluation/reference_oracle.py, a faithful re-statement of eval.py /
  main.py) per evaluation, with the default BLAS thread pools, like running the official script;
* our ``load_problem`` (cold: parse every parquet/YAML once) and our warm per-submission time
  (``load_submission`` + ``evaluate`` on the cached problem) over a few random submissions;

and checks that both give the same score. Prints wall-clock and CPU seconds (the box is shared,
so CPU time is the steadier figure).

``--spark`` additionally runs the real Spark pipeline of the vision reference (main.py/utils.py/
eval.py: Spark CSV read, ``train_df.join(emb_df, 'ImageID')``, ``toPandas``) on one submission when
``pyspark`` is importable (not a project dependency: e.g. ``pip install --target DIR pyspark`` and
``PYTHONPATH=DIR``; needs Java), and reports whether its metrics equal ours and how its join orders
the rows.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation import registry  # noqa: E402
from fixtures.synthetic import (random_speech_submission, random_vision_submission, write_speech_data,  # noqa: E402
                                write_speech_submission, write_vision_data, write_vision_submission)
from tests.evaluation import reference_oracle as oracle  # noqa: E402


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def ensure(path: Path, writer, regenerate: bool) -> Path:
    marker = path / ".complete"
    if regenerate or not marker.exists():
        import shutil
        shutil.rmtree(path, ignore_errors=True)
        with Timer() as t:
            writer(path)
        marker.write_text("ok")
        print(f"generated {path} in {t.wall:.1f} s")
    return path


def row(name: str, walls: list[float], cpus: list[float], note: str = "") -> str:
    med = statistics.median
    return f"| {name:<44} | {len(walls):>2} | {med(walls):>9.3f} | {min(walls):>8.3f} | {med(cpus):>8.3f} | {note}"


def spark_check(data: Path, folder: Path, problem) -> list[str]:
    """The vision reference with real Spark (as in CoactiveAI/dataperf-vision-selection)."""
    import csv

    import numpy as np
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return ["(pyspark not importable: Spark check skipped)"]
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    bench = registry.get("vision-selection")
    config = bench.config()
    ours = bench.evaluate(problem, bench.load_submission(problem, folder, config), config)
    with Timer() as t:
        ss = SparkSession.builder.config("spark.driver.memory", "2g").config("spark.ui.enabled", "false").getOrCreate()
        ss.sparkContext.setLogLevel("ERROR")
        emb_df = ss.read.parquet(str(data / "embeddings" / "train_emb_256_dataperf.parquet"))
        results = {}
        for task in problem.concepts:
            train_df = ss.read.option("header", True).csv(str(folder / f"{task}.csv")).join(
                emb_df.select("ImageID", "embedding"), "ImageID")
            test_df = ss.read.parquet(str(data / "test_sets" / f"alpha_test_set_{task}_256.parquet"))
            df = train_df.select("ImageID", "Confidence", "embedding").toPandas()
            clf = LogisticRegression(random_state=0).fit(df["embedding"].values.tolist(), df["Confidence"].values.tolist())
            tdf = test_df.select("Confidence", "embedding").toPandas()
            pred = clf.predict(tdf["embedding"].values.tolist()).tolist()
            with open(folder / f"{task}.csv", newline="") as handle:
                submitted = [r["ImageID"] for r in csv.DictReader(handle)]
            results[task] = (f1_score(tdf["Confidence"].values.tolist(), pred, pos_label="1"),
                             df["ImageID"].tolist() == submitted)
        ss.stop()
    diff = max(abs(f1 - ours.scores[f"f1_{task}"]) for task, (f1, _) in results.items())
    same_order = {task: kept for task, (_, kept) in results.items()}
    return [row("vision: reference with real Spark (incl. JVM start)", [t.wall], [t.cpu],
                f"CPU excludes the JVM; max |spark - ours| F1 = {diff:.1e}; "
                f"join kept submission order: {same_order}")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--submissions", type=int, default=5, help="warm submissions per benchmark")
    parser.add_argument("--oracle-calls", type=int, default=1, help="reference-oracle evaluations per benchmark")
    parser.add_argument("--only", choices=["speech", "vision"], default=None)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--spark", action="store_true", help="also run the real pyspark vision reference")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["| measurement | n | median wall s | min wall s | median CPU s | note",
             "|---|---|---|---|---|---|"]

    if args.only in (None, "speech"):
        data = ensure(args.out / "speech_ref", lambda p: write_speech_data(p), args.regenerate)
        bench = registry.get("speech-selection")
        config = bench.config({"train_size": 25})
        paths = []
        for seed in range(max(args.submissions, args.oracle_calls)):
            path = args.out / f"speech_sub_{seed}.json"
            write_speech_submission(path, random_speech_submission(data, 25, seed))
            paths.append(path)
        with Timer() as cold:
            problem = bench.load_problem(data, config)
        lines.append(row("speech: our load_problem (cold)", [cold.wall], [cold.cpu],
                         f"eval {problem.x_eval.shape}, train pool {problem.x_train.shape}"))
        walls, cpus, ours = [], [], {}
        for path in paths[: args.submissions]:
            with Timer() as t:
                result = bench.evaluate(problem, bench.load_submission(problem, path, config), config)
            walls.append(t.wall)
            cpus.append(t.cpu)
            ours[path] = result.scores["macro_f1"]
        lines.append(row("speech: ours per submission (warm)", walls, cpus,
                         f"first call {walls[0]:.3f} s incl. sklearn imports"))
        if len(walls) > 1:
            lines.append(row("speech: ours per submission (warm, excl. first)", walls[1:], cpus[1:]))
        walls, cpus, diffs = [], [], []
        for path in paths[: args.oracle_calls]:
            with Timer() as t:
                reference = oracle.speech_reference_score(data, path, 25)
            walls.append(t.wall)
            cpus.append(t.cpu)
            if path in ours:
                diffs.append(abs(reference - ours[path]))
        if walls:
            lines.append(row("speech: reference oracle per evaluation", walls, cpus,
                             f"max |oracle - ours| = {max(diffs) if diffs else float('nan'):.1e}"))
        del problem

    if args.only in (None, "vision"):
        data = ensure(args.out / "vision_ref", lambda p: write_vision_data(p), args.regenerate)
        bench = registry.get("vision-selection")
        config = bench.config()
        folders = []
        for seed in range(max(args.submissions, args.oracle_calls)):
            folder = args.out / f"vision_sub_{seed}"
            write_vision_submission(folder, random_vision_submission(data, size=1000, seed=seed))
            folders.append(folder)
        with Timer() as cold:
            problem = bench.load_problem(data, config)
        lines.append(row("vision: our load_problem (cold)", [cold.wall], [cold.cpu], f"pool {problem.pool.shape}"))
        walls, cpus, ours = [], [], {}
        for folder in folders[: args.submissions]:
            with Timer() as t:
                result = bench.evaluate(problem, bench.load_submission(problem, folder, config), config)
            walls.append(t.wall)
            cpus.append(t.cpu)
            ours[folder] = result.scores
        lines.append(row("vision: ours per submission (warm, 3x1000 rows)", walls, cpus))
        walls, cpus, diffs = [], [], []
        for folder in folders[: args.oracle_calls]:
            with Timer() as t:
                reference = oracle.vision_reference_scores(
                    data, {c: folder / f"{c}.csv" for c in problem.concepts}, problem.dim)
            walls.append(t.wall)
            cpus.append(t.cpu)
            if folder in ours:
                diffs += [abs(reference[c]["f1"] - ours[folder][f"f1_{c}"]) for c in reference]
        if walls:
            lines.append(row("vision: reference oracle (pandas) per evaluation", walls, cpus,
                             f"max |oracle - ours| = {max(diffs) if diffs else float('nan'):.1e}"))

    if args.spark and args.only in (None, "vision"):
        lines += spark_check(args.out / "vision_ref", args.out / "vision_sub_0", problem)

    print("\n".join(lines))
    (args.out / "bench_selection.json").write_text(json.dumps({"table": lines}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
