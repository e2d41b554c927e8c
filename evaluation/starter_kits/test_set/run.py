"""Run ``algorithm.propose`` on a DataPerf test-set creation data directory.

    python run.py --input DATA_DIR --output OUT_DIR/submission.csv [--max-items 50]

DATA_DIR holds ``meta.json`` (``class_names``), ``pool.parquet`` (``id``, ``encoding``, ``display``)
and ``reference_train.parquet`` (``encoding``, ``label``). The output is an ``item_id,label`` CSV
(labels as class names), every item once, at most ``--max-items`` lines. Add ``--score`` to count,
with the DataPerf evaluation library, the items that fool the model suite.

Do not change this file's command line; change ``algorithm.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import baselines
from algorithm import propose


def score(data_dir: Path, output: Path, max_items: int) -> int:
    try:
        from evaluation.__main__ import main as evaluation_main
    except ImportError:
        print("--score needs the DataPerf evaluation library (python -m evaluation)", file=sys.stderr)
        return 1
    return evaluation_main(["score", "test-set", "--data", str(data_dir), "--submission", str(output),
                            "--max-items", str(max_items)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/inputs/data"), help="test-set data directory")
    parser.add_argument("--output", type=Path, default=Path("/output/submission.csv"), help="CSV file to write")
    parser.add_argument("--max-items", type=int, default=50, help="the benchmark's max_items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="count the items that fool the model suite")
    args = parser.parse_args(argv)

    if not (args.input / "pool.parquet").is_file():
        raise SystemExit(f"error: no pool.parquet in {args.input}")
    class_names, ids, X, X_ref, y_ref = baselines.load_public(args.input)
    rows, labels = propose(ids, X, X_ref, y_ref, class_names, args.max_items, args.seed)
    rows, labels = np.asarray(rows, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    if rows.shape != labels.shape or rows.ndim != 1:
        raise SystemExit(f"error: propose() must return two equally long 1-d arrays, got {rows.shape} and {labels.shape}")
    if not 0 < len(rows) <= args.max_items or len(set(rows.tolist())) != len(rows):
        raise SystemExit(f"error: propose() must return between 1 and {args.max_items} distinct rows, got {len(rows)}")
    if rows.min() < 0 or rows.max() >= len(ids) or labels.min() < 0 or labels.max() >= len(class_names):
        raise SystemExit("error: propose() returned a row outside the pool or a label outside class_names")
    path = baselines.write_submission(ids, rows, labels, class_names, args.output)
    print(f"wrote {path} ({len(rows)} items)")
    return score(args.input, path, args.max_items) if args.score else 0


if __name__ == "__main__":
    sys.exit(main())
