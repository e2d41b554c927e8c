"""Time live predictions for created items (``evaluation.raw_items`` + ``evaluation.live_suite``), per task:
cold (train the suite, pickle it, load it back, load the featurizer and answer the first item) and warm
(featurise one raw item and let every member answer, median and worst of ``--items`` pool displays).

    /work/main/.venv/bin/python benchmarks/bench_predict.py                 # all four tasks, full reference set
    /work/main/.venv/bin/python benchmarks/bench_predict.py --tasks nlp --items 50

The raw items are the pool's own displays (text, 2x PNG, 8 kHz WAV), i.e. what the page sends. Test-set
layouts come from the prebuilt datasets (``fixtures.builders.layouts``), building them is not timed.
What the platform adds per request (auth, throttle, JSON) is not included. Wall-clock seconds on
whatever machine runs this (other processes share the cores).
"""
from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="nlp,ocr,image,keyword")
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--reference-size", type=int, default=None, help="default: the whole train split")
    args = parser.parse_args()

    from evaluation.benchmarks import test_set
    from evaluation.live_suite import LiveSuite
    from evaluation.raw_items import RawItem, load_featurizer
    from fixtures.builders import layouts, load_prebuilt

    bench = test_set.TestSetCreation()
    print(f"{'task':8s} {'ref':>5s} {'train s':>8s} {'MB':>6s} {'unpickle s':>10s} {'first item s':>12s} "
          f"{'warm median ms':>14s} {'warm max ms':>11s}")
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            data_dir = Path(tmp) / task
            layouts.write_test_set(load_prebuilt(task), data_dir, reference_size=args.reference_size)
            problem = bench.load_problem(data_dir, bench.config())
            start = time.perf_counter()
            suite = LiveSuite.from_config(problem, bench.config())
            trained = time.perf_counter()
            data = suite.to_bytes()
            start_load = time.perf_counter()
            suite = LiveSuite.from_bytes(data)
            loaded = time.perf_counter()
            featurizer = load_featurizer(data_dir)

            def raw(display: str) -> RawItem:
                if featurizer.raw_kind == "text":
                    return RawItem.of_text(display)
                payload = base64.b64decode(display)
                return RawItem.of_image(payload) if featurizer.raw_kind == "image" else RawItem.of_audio(payload)

            items = [raw(d) for d in problem.display[: args.items + 1]]
            first_start = time.perf_counter()
            suite.predict(featurizer(items[0]), label=problem.class_names[0])
            first = time.perf_counter() - first_start
            warm = []
            for item in items[1:]:
                t0 = time.perf_counter()
                suite.predict(featurizer(item), label=problem.class_names[0])
                warm.append(time.perf_counter() - t0)
            print(f"{task:8s} {len(problem.reference_y):5d} {trained - start:8.2f} {len(data) / 2**20:6.1f} "
                  f"{loaded - start_load:10.3f} {first:12.3f} {1000 * statistics.median(warm):14.1f} "
                  f"{1000 * max(warm):11.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
