"""Run ``algorithm.discover`` on a slicing data directory and write the submission CSV.

    python run.py --input DATA_DIR --output submission.csv [--max-slices 10]

DATA_DIR holds ``data.parquet`` (``id``, ``encoding``, ``label``, ``prediction``, ...) and
``heldout.csv`` (the ids that are scored). The output is ``id,slice0,slice1,...``: every row, one
score per discovered slice. Add ``--score`` to score it with the DataPerf evaluation library when
it is installed and the data folder also has the hidden slices.

In the closed division the platform runs, in a sandbox without network:

    python run.py --input /inputs/data --output /output/submission.csv

Do not change this file's command line; change ``algorithm.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import baselines
from algorithm import discover


def score(data_dir: Path, out_path: Path, max_slices: int) -> int:
    try:
        from evaluation.__main__ import main as evaluation_main
    except ImportError:
        print("--score needs the DataPerf evaluation library (python -m evaluation)", file=sys.stderr)
        return 1
    return evaluation_main(["score", "slicing", "--data", str(data_dir), "--submission", str(out_path),
                            "--max-slices", str(max_slices)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/inputs/data"), help="slicing data directory")
    parser.add_argument("--output", type=Path, default=Path("/output/submission.csv"), help="CSV to write")
    parser.add_argument("--max-slices", type=int, default=10, help="the benchmark's cap on slices")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="score the submission with the evaluation library")
    args = parser.parse_args(argv)

    if not (args.input / "data.parquet").is_file() or not (args.input / "heldout.csv").is_file():
        raise SystemExit(f"error: {args.input} needs data.parquet and heldout.csv")
    data = baselines.load_public(args.input)
    if data["X"] is None or data["label"] is None or data["prediction"] is None:
        raise SystemExit("error: data.parquet needs encoding, label and prediction columns")
    scores = np.atleast_2d(np.asarray(discover(data["X"], data["label"], data["prediction"], data["heldout"],
                                               args.max_slices, args.seed), dtype=np.float64))
    if scores.shape[1] != len(data["ids"]) or not 1 <= len(scores) <= args.max_slices:
        raise SystemExit(f"error: discover() must return 1 to {args.max_slices} rows of {len(data['ids'])} scores, "
                         f"not shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise SystemExit("error: discover() returned NaN or infinite scores")
    path = baselines.write_submission(data["ids"], scores, args.output)
    print(f"wrote {path} ({len(scores)} slices x {len(data['ids'])} rows)")
    return score(args.input, path, args.max_slices) if args.score else 0


if __name__ == "__main__":
    sys.exit(main())
