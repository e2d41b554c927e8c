"""Run ``algorithm.rank`` on every task of a DataPerf debugging data directory.

    python run.py --input DATA_DIR --output OUT_DIR [--tasks 01g317,04hgtk]

DATA_DIR holds ``embeddings/<task>_train_*.parquet`` (columns ``encoding``, ``label``,
``filename``) and ``embeddings/<task>_val_*.parquet`` (``encoding``, ``label``) per task. OUT_DIR
receives ``<task>.txt`` per task: every 0-based training row index once, one per line, the row to
fix first at the top. Add ``--score`` to score the rankings with the DataPerf evaluation library
when it is installed.

In the closed division the platform runs, in a sandbox without network:

    python run.py --input /inputs/data --output /output

Do not change this file's command line; change ``algorithm.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from algorithm import rank


def find_tasks(embeddings_dir: Path) -> dict[str, tuple[Path, Path]]:
    """task id -> (train parquet, validation parquet)."""
    tasks = {}
    for train in sorted(embeddings_dir.glob("*_train_*.parquet")):
        task = train.name.split("_train_", 1)[0]
        validation = sorted(embeddings_dir.glob(f"{task}_val_*.parquet"))
        if not validation:
            raise SystemExit(f"error: no {task}_val_*.parquet next to {train.name}")
        tasks[task] = (train, validation[0])
    if not tasks:
        raise SystemExit(f"error: no <task>_train_*.parquet in {embeddings_dir}")
    return tasks


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = pd.read_parquet(path, columns=["encoding", "label"])
    return np.vstack(table["encoding"].to_numpy()), table["label"].to_numpy()


def score(data_dir: Path, out_dir: Path, tasks: list[str]) -> int:
    try:
        from evaluation.__main__ import main as evaluation_main
    except ImportError:
        print("--score needs the DataPerf evaluation library (python -m evaluation)", file=sys.stderr)
        return 1
    return evaluation_main(["score", "debugging", "--data", str(data_dir), "--submission", str(out_dir),
                            "--tasks", ",".join(tasks)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/inputs/data"), help="debugging data directory")
    parser.add_argument("--output", type=Path, default=Path("/output"), help="directory to write")
    parser.add_argument("--tasks", default="", help="comma-separated task ids; default: every task found")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="score the rankings with the evaluation library")
    args = parser.parse_args(argv)

    tasks = find_tasks(args.input / "embeddings")
    wanted = [t for t in args.tasks.split(",") if t] or list(tasks)
    unknown = [t for t in wanted if t not in tasks]
    if unknown:
        raise SystemExit(f"error: no task {unknown[0]!r} (found: {', '.join(tasks)})")
    args.output.mkdir(parents=True, exist_ok=True)
    for task in wanted:
        train_X, train_y = load(tasks[task][0])
        val_X, val_y = load(tasks[task][1])
        order = [int(i) for i in rank(train_X, train_y, val_X, val_y, seed=args.seed)]
        if sorted(order) != list(range(len(train_y))):
            raise SystemExit(f"error: {task}: rank() must return each of the {len(train_y)} row indices once")
        (args.output / f"{task}.txt").write_text("".join(f"{i}\n" for i in order))
        print(f"wrote {args.output / f'{task}.txt'} ({len(order)} rows)")
    return score(args.input, args.output, wanted) if args.score else 0


if __name__ == "__main__":
    sys.exit(main())
