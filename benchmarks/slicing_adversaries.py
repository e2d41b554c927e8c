"""Slicing: the shipped baselines against degenerate submissions on every demo slicing cell.

    .venv/bin/python benchmarks/slicing_adversaries.py [--tasks image,ocr,keyword,nlp]

Builds each cell the way the demo does (prebuilt task -> ``layouts.write_layout(..., "slicing", seed=0)``),
runs every baseline on the public copy, and scores the degenerate submissions that
``tests/evaluation/test_slicing_demo.py`` asserts stay below the best baseline. Prints the primary
metric (and AUROC for the baselines); the figures in docs/benchmarks/slicing.md come from here.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation import registry  # noqa: E402
from evaluation.baselines import BASELINES, run_baseline  # noqa: E402
from evaluation.baselines.slicing import load_public  # noqa: E402
from tests.evaluation.test_slicing_demo import degenerate_submissions, write_scores  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="image,ocr,keyword,nlp")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    from fixtures import builders
    from fixtures.builders import layouts

    bench = registry.get("slicing")
    config = bench.config()
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        for task in [t for t in args.tasks.split(",") if t]:
            full, public = Path(tmp) / task, Path(tmp) / f"{task}-public"
            layouts.write_layout(builders.load_prebuilt(task), "slicing", full, seed=0)
            shutil.copytree(full, public)
            shutil.rmtree(public / "slices")
            problem = bench.load_problem(full, config)

            def evaluate(path: Path):
                return bench.evaluate(problem, bench.load_submission(problem, path, config), config).scores

            print(f"## {task}")
            best = ("", -1.0)
            for name in BASELINES["slicing"]:
                out = Path(tmp) / "out" / task / name
                scores = evaluate(run_baseline("slicing", name, public, out, config, seed=0))
                print(f"  baseline   {name:34s} P@k {scores['mean_precision_at_k']:.3f}  "
                      f"AUROC {scores['mean_auroc']:.3f}")
                best = max(best, (name, scores["mean_precision_at_k"]), key=lambda item: item[1])
            ids = load_public(public)["ids"]
            worst = ("", -1.0)
            for j, (name, columns) in enumerate(degenerate_submissions(public, config["max_slices"]).items()):
                scores = evaluate(write_scores(Path(tmp) / f"{task}-degenerate{j}.csv", ids, columns))
                print(f"  degenerate {name:34s} P@k {scores['mean_precision_at_k']:.3f}  "
                      f"AUROC {scores['mean_auroc']:.3f}")
                worst = max(worst, (name, scores["mean_precision_at_k"]), key=lambda item: item[1])
            print(f"  best baseline {best[0]} {best[1]:.3f} vs best degenerate {worst[0]} {worst[1]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
