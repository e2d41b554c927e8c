"""Slice discovery (DataPerf Table 1, DCBench ``slice_discovery``): find the examples a model fails on together.

Protocol as in DCBench / Domino (Eyuboglu et al.): every row's features (embedding, label, the fixed
model's prediction) are public; which rows belong to the k ground-truth slices is hidden
(``slices/*.csv``). ``heldout.csv`` (public) names the held-out rows: participants discover slices
on the other rows and submit, for every held-out row, one score per discovered slice (a likelihood
of membership, or 0/1). Only held-out rows are scored.

Primary metric: for each ground-truth slice g, the best precision@k over the submitted slices, with
k = the size of g among the held-out rows (R-precision; DCBench's precision@k with max over
predicted slices), averaged over ground-truth slices. Secondary: the same with AUROC, and the
number of submitted slices (capped by ``max_slices`` so "many random slices, take the max" cannot
buy precision). Layout and rationale: docs/benchmarks/slicing.md.
"""
from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..data_io import check_name, read_table, str_column, unique_ids, write_table
from ..registry import register
from ..submission_io import check_ids, collect_files, decode_text, format_items, parse_float, read_csv

EXTRA_PREFIX = "extra_"
HELDOUT_FILE = "heldout.csv"
# A row belongs to a submitted slice (for an organizer accepting it) when its score is at least this.
MEMBER_THRESHOLD = 0.5


@dataclasses.dataclass(eq=False)
class SliceProblem:
    ids: list[str]
    index: dict[str, int]                     # id -> row
    heldout: np.ndarray                       # sorted row numbers of the held-out (scored) rows
    slices: dict[str, np.ndarray] | None      # hidden: slice name -> boolean membership over all rows
    extra: frozenset[str] = frozenset()       # names of organizer-approved extra slices


@dataclasses.dataclass
class SliceSolution:
    labels: list[str]                     # submitted slice names, in column order
    scores: np.ndarray                    # (slices, rows) scores; NaN for rows the file does not list


def write_data_dir(out_dir: Path, ids: Sequence[str], slices: Mapping[str, Sequence[str]], heldout: Sequence[str],
                   extra_slices: Mapping[str, Sequence[str]] | None = None, **public_columns) -> Path:
    """Write a slicing data directory. ``public_columns`` (e.g. encoding=X, label=y, prediction=p)
    go into data.parquet next to ``id``; ``heldout`` lists the scored rows' ids (public);
    ``slices`` / ``extra_slices`` map slice names to member ids (hidden)."""
    out_dir = Path(out_dir)
    write_table(out_dir / "data.parquet", {"id": list(map(str, ids)), **public_columns})
    (out_dir / HELDOUT_FILE).write_text("\n".join(["id", *map(str, heldout)]) + "\n")
    (out_dir / "slices").mkdir(parents=True, exist_ok=True)
    for prefix, group in (("", slices), (EXTRA_PREFIX, extra_slices or {})):
        for name, members in group.items():
            check_name(name, "slice name")
            lines = ["id", *map(str, members)]
            (out_dir / "slices" / f"{prefix}{name}.csv").write_text("\n".join(lines) + "\n")
    return out_dir


def _read_ids(path: Path, index: dict[str, int], what: str) -> np.ndarray:
    """Boolean mask over rows of the ids listed in an organizer's one-column CSV."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"missing {what} ({path.name})")
    frame = pd.read_csv(path, dtype=str)
    if "id" not in frame.columns:
        raise DataError(f"{what}: needs an id column")
    unknown = [item for item in frame["id"] if item not in index]
    if unknown:
        raise DataError(f"{what}: ids not in data.parquet: {format_items(unknown)}")
    members = np.zeros(len(index), dtype=bool)
    members[[index[item] for item in frame["id"]]] = True
    return members


def expected_precision_at_k(scores: np.ndarray, positives: np.ndarray, k: int) -> float:
    """Precision of the top k by descending score, averaged over random orders of tied scores."""
    values, inverse, sizes = np.unique(-scores, return_inverse=True, return_counts=True)
    hits_per_group = np.bincount(inverse, weights=positives.astype(float), minlength=len(values))
    hits, remaining = 0.0, k
    for size, group_hits in zip(sizes, hits_per_group):
        take = min(size, remaining)
        hits += group_hits * take / size
        remaining -= take
        if remaining == 0:
            break
    return hits / k


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve, ties counted half (the Mann-Whitney U statistic)."""
    from scipy.stats import rankdata

    n_pos = int(positives.sum())
    n_neg = len(positives) - n_pos
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _header(text: str, name: str) -> list[str]:
    """The first non-blank CSV row, lowercased like ``read_csv`` does."""
    try:
        for fields in csv.reader(io.StringIO(text)):
            if any(field.strip() for field in fields):
                return [field.strip().lower() for field in fields]
    except csv.Error as error:
        raise SubmissionError(f"{name}, line 1: {error}") from None
    raise SubmissionError(f"{name}: the file is empty (expected a header id,<slice>,<slice>...)")


@register
class Slicing(BenchmarkType):
    slug = "slicing"
    title = "Slice discovery"
    kind = "slicing"
    metrics = (
        Metric("mean_precision_at_k", "Precision@k of the best submitted slice per hidden slice "
               "(k = its held-out size), mean over hidden slices", higher_is_better=True),
        Metric("mean_auroc", "AUROC of the best submitted slice per hidden slice, mean over hidden slices",
               higher_is_better=True),
        Metric("slices_submitted", "Number of slices submitted", higher_is_better=False),
    )
    primary_metric = "mean_precision_at_k"
    hidden_patterns = ("slices/*",)
    submission_suffixes = (".csv", ".zip")
    default_config = {
        "max_slices": 10,     # cap on submitted slice columns (the metric takes a max over them)
        "precision_k": 0,     # 0: k = each hidden slice's held-out size; a number: a fixed k (DCBench used 25)
    }

    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> SliceProblem:
        data_dir = Path(data_dir)
        ids = str_column(read_table(data_dir / "data.parquet", ["id"]), "id", "data.parquet")
        if not ids:
            raise DataError("data.parquet has no rows")
        index = unique_ids(ids, "data.parquet")
        heldout = np.flatnonzero(_read_ids(data_dir / HELDOUT_FILE, index, HELDOUT_FILE))
        if not len(heldout):
            raise DataError(f"{HELDOUT_FILE} lists no rows")
        slices, extra = None, set()
        paths = sorted((data_dir / "slices").glob("*.csv"))
        if paths:
            # originals first, then extras, each sorted by name: a fixed order in the details
            paths.sort(key=lambda path: (path.name.startswith(EXTRA_PREFIX), path.name))
            slices = {}
            for path in paths:
                slices[path.stem] = _read_ids(path, index, f"slices/{path.name}")
                if path.name.startswith(EXTRA_PREFIX):
                    extra.add(path.stem)
        return SliceProblem(ids, index, heldout, slices, frozenset(extra))

    def load_submission(self, problem: SliceProblem, path: Path, config: dict[str, Any]) -> SliceSolution:
        files = collect_files(Path(path), (".csv",))
        if len(files) != 1:
            found = f"found {format_items(files)}" if files else "found none"
            raise SubmissionError(f"{Path(path).name}: expected one CSV id,<slice>,<slice>... ({found})")
        (name, data), = files.items()
        text = decode_text(data, name)
        header = _header(text, name)
        if "id" not in header:
            raise SubmissionError(f"{name}: header must have an id column and one column per slice "
                                  f"(header is {','.join(header)!r})")
        labels = [column for column in header if column != "id"]
        if "" in labels:
            raise SubmissionError(f"{name}: a slice column has an empty name in the header")
        if not labels:
            raise SubmissionError(f"{name}: no slice columns; add one column of scores per discovered slice")
        if len(labels) > int(config["max_slices"]):
            raise SubmissionError(f"{name}: {len(labels)} slice columns; at most {config['max_slices']} are allowed")
        rows = read_csv(text, name, ["id"], optional=labels)
        check_ids([(line, values["id"]) for line, values in rows], problem.index, name)
        scores = np.full((len(labels), len(problem.ids)), np.nan)
        for line, values in rows:
            row = problem.index[values["id"]]
            for number, label in enumerate(labels):
                scores[number, row] = parse_float(values[label], f"{name}, line {line}, column {label!r}")
        missing = problem.heldout[np.isnan(scores[0, problem.heldout])]
        if len(missing):
            raise SubmissionError(f"{name}: {len(missing)} held-out row(s) of {HELDOUT_FILE} missing: "
                                  f"{format_items([problem.ids[row] for row in missing])}")
        return SliceSolution(labels, scores)

    def evaluate(self, problem: SliceProblem, solution: SliceSolution, config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        if not problem.slices:
            raise DataError("hidden ground-truth slices (slices/*.csv) not available")
        heldout = problem.heldout
        scores = solution.scores[:, heldout]                       # (S, H), finite: held-out rows are required
        per_slice: dict[str, dict[str, Any]] = {}
        for number, (name, members) in enumerate(problem.slices.items(), start=1):
            truth = members[heldout]
            size = int(truth.sum())
            entry: dict[str, Any] = {"heldout_size": size, "extra": name in problem.extra}
            # Numbered, not named: a hidden slice's file name describes the group (e.g. "case-x-upper").
            per_slice[f"hidden-{number}"] = entry
            if size == 0 or size == len(heldout):
                entry["scored"] = False          # no held-out members (or every row): nothing to rank
                continue
            k = min(int(config["precision_k"]), len(heldout)) if config.get("precision_k") else size
            precisions = [expected_precision_at_k(row, truth, k) for row in scores]
            aurocs = [auroc(row, truth) for row in scores]
            best = int(np.argmax(precisions))
            entry.update(scored=True, k=k, precision_at_k=float(precisions[best]), best_slice=solution.labels[best],
                         auroc=float(max(aurocs)))
        scored = [entry for entry in per_slice.values() if entry["scored"]]
        if not scored:
            raise DataError("no hidden slice has members among the held-out rows")
        progress(1.0, "done")
        return Result(
            scores={"mean_precision_at_k": float(np.mean([entry["precision_at_k"] for entry in scored])),
                    "mean_auroc": float(np.mean([entry["auroc"] for entry in scored])),
                    "slices_submitted": float(len(solution.labels))},
            details={"slices": per_slice, "heldout_rows": int(len(heldout))},
        )


def submitted_slice_members(problem: SliceProblem, solution: SliceSolution, label: str) -> list[str]:
    """Ids of the rows a submission put in its slice ``label`` (score >= MEMBER_THRESHOLD, over every
    row the file lists), e.g. for an organizer who accepts a newly discovered slice into the ground truth."""
    key = label.strip().lower()
    if key not in solution.labels:
        raise SubmissionError(f"the submission has no slice {label!r} (its slices: {format_items(solution.labels)})")
    scores = solution.scores[solution.labels.index(key)]
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(scores >= MEMBER_THRESHOLD)
    if not len(rows):
        raise SubmissionError(f"slice {label!r} of the submission has no rows with a score of at least "
                              f"{MEMBER_THRESHOLD}")
    return [problem.ids[row] for row in rows]


def extra_slice_file(name: str, members: Sequence[str]) -> tuple[str, bytes]:
    """(relative path, content) of an organizer-approved extra slice in the data directory layout."""
    check_name(name, "slice name")
    return f"slices/{EXTRA_PREFIX}{name}.csv", ("\n".join(["id", *members]) + "\n").encode()
