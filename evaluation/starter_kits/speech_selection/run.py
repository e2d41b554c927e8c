"""Run ``algorithm.select`` on a DataPerf speech data directory and write the submission JSON.

    python run.py --input DATA_DIR --output submission.json --train-size 25

DATA_DIR is a ``dataperf_<lang>_data`` folder with ``allowed_training_set.yaml`` and
``train_embeddings/<word>.parquet`` (columns ``clip_id``, ``mswc_embedding_vector``). Add
``--score`` to score the result with the DataPerf evaluation library when it is installed
(``python -m evaluation``; DATA_DIR then also needs ``eval.yaml`` and ``eval_embeddings/``).

In the closed division the platform runs, in a sandbox without network:

    python run.py --input /inputs/data --output /output/submission.json --train-size <25|60>

Do not change this file's command line; change ``algorithm.py``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from algorithm import select


def load_allowed_embeddings(data_dir: Path) -> dict:
    """The candidates as DataPerf's ``load_samples`` builds them (targets in parquet order)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    allowed = yaml.load((data_dir / "allowed_training_set.yaml").read_text(), Loader=loader)
    embeddings_dir = data_dir / "train_embeddings"
    result = {"targets": {}, "nontargets": []}
    for word, ids in allowed["targets"].items():
        table = pd.read_parquet(embeddings_dir / f"{word}.parquet", columns=["clip_id", "mswc_embedding_vector"])
        table = table[table["clip_id"].isin(set(ids))]
        result["targets"][word] = [
            {"ID": clip_id, "feature_vector": np.asarray(vector)}
            for clip_id, vector in zip(table["clip_id"], table["mswc_embedding_vector"])
        ]
    by_word: dict[str, list[str]] = {}
    for clip_id in allowed["nontargets"]:  # "<word>/<clip>.wav" lives in <word>.parquet
        by_word.setdefault(clip_id.split("/", 1)[0], []).append(clip_id)
    for word, ids in by_word.items():
        table = pd.read_parquet(embeddings_dir / f"{word}.parquet", columns=["clip_id", "mswc_embedding_vector"])
        vectors = dict(zip(table["clip_id"], table["mswc_embedding_vector"]))
        for clip_id in ids:
            if clip_id not in vectors:
                raise SystemExit(f"error: {clip_id} is allowed but missing from train_embeddings/{word}.parquet")
            result["nontargets"].append({"ID": clip_id, "feature_vector": np.asarray(vectors[clip_id])})
    return result


def check_selection(selection: dict, allowed_embeddings: dict, train_size: int) -> None:
    """Stop with a readable message when the selection would be rejected by the platform."""
    if not isinstance(selection, dict) or set(selection) != {"targets", "nontargets"}:
        raise SystemExit('error: select() must return {"targets": {...}, "nontargets": [...]}')
    allowed_targets = {word: {s["ID"] for s in samples} for word, samples in allowed_embeddings["targets"].items()}
    missing_words = sorted(set(allowed_targets) - set(selection["targets"]))
    if missing_words:
        raise SystemExit(f"error: select() left out target word {missing_words[0]!r} (use an empty list instead)")
    for word, ids in selection["targets"].items():
        if word not in allowed_targets:
            raise SystemExit(f"error: {word!r} is not a target word")
        unknown = [clip for clip in ids if clip not in allowed_targets[word]]
        if unknown:
            raise SystemExit(f"error: targets[{word!r}] contains {unknown[0]}, which is not an allowed {word} clip")
    allowed_nontargets = {s["ID"] for s in allowed_embeddings["nontargets"]}
    unknown = [clip for clip in selection["nontargets"] if clip not in allowed_nontargets]
    if unknown:
        raise SystemExit(f"error: nontargets contains {unknown[0]}, which is not an allowed nontarget clip")
    total = sum(len(ids) for ids in selection["targets"].values()) + len(selection["nontargets"])
    if total > train_size:
        raise SystemExit(f"error: select() chose {total} clips, more than --train-size {train_size}")


def score(data_dir: Path, submission: Path, train_size: int) -> int:
    try:
        from evaluation.__main__ import main as evaluation_main
    except ImportError:
        print("--score needs the DataPerf evaluation library (python -m evaluation)", file=sys.stderr)
        return 1
    return evaluation_main(["score", "speech-selection", "--data", str(data_dir), "--submission", str(submission),
                            "--train-size", str(train_size)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=Path("/inputs/data"), help="speech data directory")
    parser.add_argument("--output", type=Path, default=Path("/output/submission.json"), help="JSON file to write")
    parser.add_argument("--train-size", type=int, default=25, help="maximum number of clips (25 or 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="score the result with the evaluation library")
    args = parser.parse_args(argv)

    allowed_embeddings = load_allowed_embeddings(args.input)
    selection = select(allowed_embeddings, args.train_size, seed=args.seed)
    check_selection(selection, allowed_embeddings, args.train_size)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(selection, sort_keys=True, indent=4))
    total = sum(len(ids) for ids in selection["targets"].values()) + len(selection["nontargets"])
    print(f"wrote {args.output} ({total} clips)")
    return score(args.input, args.output, args.train_size) if args.score else 0


if __name__ == "__main__":
    sys.exit(main())
