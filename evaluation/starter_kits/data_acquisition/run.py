"""Run ``algorithm.plan`` on a DataPerf data-acquisition data directory.

    python run.py --input DATA_DIR --output OUT_DIR/submission.csv

DATA_DIR holds ``market.json``, ``validation.parquet`` (``encoding``, ``label``) and
``samples/<seller_id>.parquet`` (``encoding``, ``label``). The output is ``seller_id,count`` CSV.
Add ``--score`` to score it with the DataPerf evaluation library when it is installed and the data
folder also has the hidden files.

In the closed division the platform runs, in a sandbox without network:

    python run.py --input /inputs/data --output /output/submission.csv

Do not change this file's command line; change ``algorithm.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import baselines
from algorithm import plan


def score(data_dir: Path, output: Path) -> int:
    try:
        from evaluation.__main__ import main as evaluation_main
    except ImportError:
        print("--score needs the DataPerf evaluation library (python -m evaluation)", file=sys.stderr)
        return 1
    return evaluation_main(["score", "data-acquisition", "--data", str(data_dir), "--submission", str(output)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/inputs/data"), help="data-acquisition data directory")
    parser.add_argument("--output", type=Path, default=Path("/output/submission.csv"), help="CSV file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="score the plan with the evaluation library")
    args = parser.parse_args(argv)

    if not (args.input / "market.json").is_file():
        raise SystemExit(f"error: no market.json in {args.input}")
    market = baselines.load_market(args.input)
    X_val, y_val = baselines.load_validation(args.input)
    chosen = plan(market, X_val, y_val, baselines.load_samples(args.input), args.seed)
    unknown = sorted(set(chosen) - set(market["sellers"]))
    if unknown:
        raise SystemExit(f"error: plan() names unknown seller(s), e.g. {unknown[0]!r}")
    counts = {sid: int(chosen.get(sid, 0)) for sid in market["sellers"]}
    bad = [sid for sid, n in counts.items() if n < 0 or n > market["sellers"][sid]["size"]]
    if bad:
        raise SystemExit(f"error: plan() asks seller {bad[0]} for {counts[bad[0]]} rows "
                         f"(0 to {market['sellers'][bad[0]]['size']})")
    cost = sum(market["sellers"][sid]["price"] * n for sid, n in counts.items())
    if cost > market["budget"] + 1e-9:
        raise SystemExit(f"error: the plan costs {cost:.6g}, over the budget of {market['budget']:.6g}")
    path = baselines.write_submission(counts, args.output)
    print(f"wrote {path} ({sum(counts.values())} rows from {sum(1 for n in counts.values() if n)} sellers, cost {cost:.6g})")
    return score(args.input, path) if args.score else 0


if __name__ == "__main__":
    sys.exit(main())
