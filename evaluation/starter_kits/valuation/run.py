"""Run ``algorithm.predict`` on a DataPerf valuation data directory.

    python run.py --input DATA_DIR --output OUT_DIR/submission.csv [--model logreg]

DATA_DIR holds ``a.parquet`` (``id``, ``encoding``, ``label``), ``candidates/<candidate_id>.parquet``
(``id``, ``encoding``) and, when the sellers publish them, ``samples/<candidate_id>.parquet``
(``id``, ``label``). The output is ``candidate_id,predicted_accuracy`` CSV, every candidate once.
Add ``--score`` to score it with the DataPerf evaluation library when it is installed and the data
folder also has the hidden files.

In the closed division the platform runs, in a sandbox without network:

    python run.py --input /inputs/data --output /output/submission.csv

Do not change this file's command line; change ``algorithm.py``.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import baselines
from algorithm import predict


def score(data_dir: Path, output: Path, model: str) -> int:
    try:
        from evaluation.__main__ import main as evaluation_main
    except ImportError:
        print("--score needs the DataPerf evaluation library (python -m evaluation)", file=sys.stderr)
        return 1
    return evaluation_main(["score", "valuation", "--data", str(data_dir), "--submission", str(output),
                            "--model", model])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/inputs/data"), help="valuation data directory")
    parser.add_argument("--output", type=Path, default=Path("/output/submission.csv"), help="CSV file to write")
    parser.add_argument("--model", default="logreg", help="the benchmark's fixed model (logreg, knn, random_forest)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="score the predictions with the evaluation library")
    args = parser.parse_args(argv)

    if not (args.input / "a.parquet").is_file():
        raise SystemExit(f"error: no a.parquet in {args.input}")
    X_a, y_a, candidates = baselines.load_public(args.input)
    if not candidates:
        raise SystemExit(f"error: no candidates/<candidate_id>.parquet in {args.input}")
    predictions = predict(X_a, y_a, candidates, baselines.load_samples(args.input), args.model, args.seed)
    missing = sorted(set(candidates) - set(predictions))
    if missing:
        raise SystemExit(f"error: predict() gave no value for {len(missing)} candidate(s), e.g. {missing[0]!r}")
    bad = [cid for cid in candidates if not (isinstance(predictions[cid], (int, float))
                                             and math.isfinite(predictions[cid]) and 0 <= predictions[cid] <= 1)]
    if bad:
        raise SystemExit(f"error: predict() must give a number in [0, 1] per candidate ({bad[0]!r}: {predictions[bad[0]]!r})")
    path = baselines.write_submission({cid: float(predictions[cid]) for cid in candidates}, args.output)
    print(f"wrote {path} ({len(candidates)} candidates)")
    return score(args.input, path, args.model) if args.score else 0


if __name__ == "__main__":
    sys.exit(main())
