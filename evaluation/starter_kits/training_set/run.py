"""Run ``algorithm.build`` on a DataPerf training-set creation data directory.

    python run.py --input DATA_DIR --output OUT_DIR/submission.csv [--max-train-size 1000]

DATA_DIR holds ``pool.parquet`` (``id``, ``encoding``, ``label``: the candidate pool with its given,
possibly noisy labels) and ``baseline.csv``. The output is an ``id,label`` CSV, one pool row per
line (repeats allowed), at most ``--max-train-size`` lines. Add ``--score`` to score it with the
DataPerf evaluation library when it is installed and the data folder also has the hidden files.

In the closed division the platform runs, in a sandbox without network:

    python run.py --input /inputs/data --output /output/submission.csv --max-train-size N

Do not change this file's command line; change ``algorithm.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import baselines
from algorithm import build


def score(data_dir: Path, output: Path, max_train_size: int) -> int:
    try:
        from evaluation.__main__ import main as evaluation_main
    except ImportError:
        print("--score needs the DataPerf evaluation library (python -m evaluation)", file=sys.stderr)
        return 1
    return evaluation_main(["score", "training-set", "--data", str(data_dir), "--submission", str(output),
                            "--max-train-size", str(max_train_size)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/inputs/data"), help="training-set data directory")
    parser.add_argument("--output", type=Path, default=Path("/output/submission.csv"), help="CSV file to write")
    parser.add_argument("--max-train-size", type=int, default=1000, help="the benchmark's max_train_size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="score the training set with the evaluation library")
    args = parser.parse_args(argv)

    if not (args.input / "pool.parquet").is_file():
        raise SystemExit(f"error: no pool.parquet in {args.input}")
    ids, X, y = baselines.load_pool(args.input)
    rows, labels = build(ids, X, y, args.max_train_size, args.seed)
    rows, labels = np.asarray(rows, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    if rows.shape != labels.shape or rows.ndim != 1:
        raise SystemExit(f"error: build() must return two equally long 1-d arrays, got {rows.shape} and {labels.shape}")
    if not 0 < len(rows) <= args.max_train_size:
        raise SystemExit(f"error: build() returned {len(rows)} rows; between 1 and {args.max_train_size} are allowed")
    if rows.min() < 0 or rows.max() >= len(ids):
        raise SystemExit(f"error: build() returned a row index outside the pool (0..{len(ids) - 1})")
    path = baselines.write_submission(ids, rows, labels, args.output)
    print(f"wrote {path} ({len(rows)} rows)")
    return score(args.input, path, args.max_train_size) if args.score else 0


if __name__ == "__main__":
    sys.exit(main())
