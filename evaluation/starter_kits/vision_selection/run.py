"""Run ``algorithm.select`` on a DataPerf vision data directory and write the training sets.

    python run.py --input DATA_DIR --output OUT_DIR [--format csv|json] [--max-train-size 1000]

DATA_DIR holds ``embeddings/train_emb_256_dataperf.parquet`` (one file or a directory of part
files; columns ``ImageID``, ``embedding``) and ``examples/alpha_example_set_<Concept>.csv``
(column ``ImageID``). OUT_DIR receives one ``<Concept>.csv`` (``ImageID,Confidence``) per concept,
or with ``--format json`` one ``submission.json`` ``{Concept: {ImageID: 0|1}}``. Add ``--score``
to score the result with the DataPerf evaluation library when it is installed.

In the closed division the platform runs, in a sandbox without network:

    python run.py --input /inputs/data --output /output

Do not change this file's command line; change ``algorithm.py``.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from algorithm import select

POOL = Path("embeddings") / "train_emb_256_dataperf.parquet"
EXAMPLE_PREFIX = "alpha_example_set_"


def load_pool(data_dir: Path) -> tuple[list[str], np.ndarray]:
    table = pd.read_parquet(data_dir / POOL, columns=["ImageID", "embedding"])
    return [str(i) for i in table["ImageID"]], np.vstack(table["embedding"].to_numpy())


def load_examples(data_dir: Path, concepts: list[str] | None) -> dict[str, list[str]]:
    files = {p.stem[len(EXAMPLE_PREFIX):]: p for p in sorted((data_dir / "examples").glob(f"{EXAMPLE_PREFIX}*.csv"))}
    concepts = concepts or sorted(files)
    missing = [c for c in concepts if c not in files]
    if missing or not concepts:
        raise SystemExit(f"error: no examples/{EXAMPLE_PREFIX}{(missing or ['<Concept>'])[0]}.csv in {data_dir}")
    return {c: [str(i) for i in pd.read_csv(files[c], dtype=str)["ImageID"]] for c in concepts}


def check_selection(selection: dict, concepts: list[str], pool_ids: list[str], max_train_size: int) -> None:
    pool = set(pool_ids)
    for concept in concepts:
        labels = selection.get(concept)
        if not isinstance(labels, dict):
            raise SystemExit(f"error: select() returned no labels for {concept}")
        if len(labels) > max_train_size:
            raise SystemExit(f"error: {concept}: {len(labels)} images, more than --max-train-size {max_train_size}")
        for image_id, label in labels.items():
            if image_id not in pool:
                raise SystemExit(f"error: {concept}: {image_id} is not in the candidate pool")
            if label not in (0, 1):
                raise SystemExit(f"error: {concept}: label {label!r} of {image_id} is not 0 or 1")
        if len(set(labels.values())) < 2:
            raise SystemExit(f"error: {concept}: the model needs both positive and negative images")


def write(selection: dict, concepts: list[str], out_dir: Path, fmt: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path = out_dir / "submission.json"
        path.write_text(json.dumps({c: {i: int(v) for i, v in selection[c].items()} for c in concepts}, indent=1))
        return path
    for concept in concepts:
        with open(out_dir / f"{concept}.csv", "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["ImageID", "Confidence"])
            writer.writerows((image_id, int(label)) for image_id, label in selection[concept].items())
    return out_dir


def score(data_dir: Path, submission: Path, concepts: list[str], max_train_size: int) -> int:
    try:
        from evaluation.__main__ import main as evaluation_main
    except ImportError:
        print("--score needs the DataPerf evaluation library (python -m evaluation)", file=sys.stderr)
        return 1
    return evaluation_main(["score", "vision-selection", "--data", str(data_dir), "--submission", str(submission),
                            "--concepts", ",".join(concepts), "--max-train-size", str(max_train_size)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/inputs/data"), help="vision data directory")
    parser.add_argument("--output", type=Path, default=Path("/output"), help="directory to write")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--max-train-size", type=int, default=1000)
    parser.add_argument("--concepts", default="", help="comma-separated; default: every example set found")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="score the result with the evaluation library")
    args = parser.parse_args(argv)

    pool_ids, pool_embeddings = load_pool(args.input)
    examples = load_examples(args.input, [c for c in args.concepts.split(",") if c])
    concepts = list(examples)
    selection = select(pool_ids, pool_embeddings, examples, args.max_train_size, seed=args.seed)
    check_selection(selection, concepts, pool_ids, args.max_train_size)
    written = write(selection, concepts, args.output, args.format)
    print(f"wrote {written} ({', '.join(f'{c}: {len(selection[c])} images' for c in concepts)})")
    return score(args.input, written, concepts, args.max_train_size) if args.score else 0


if __name__ == "__main__":
    sys.exit(main())
