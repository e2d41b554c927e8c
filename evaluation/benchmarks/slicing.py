"""Slice discovery (DataPerf Table 1, DCBench slice_discovery): find the examples a model fails on together.

Public: every example's id (plus embeddings, labels and model predictions for the participant's
method). Hidden: the members of k ground-truth slices, one CSV per slice under ``slices/``;
organizer-approved extra slices are more files there (``slices/extra_<name>.csv``).

Submissions assign examples to slices (``id,slice``) and/or rank examples per slice
(``slice,id,score``). Submitted slices are matched one-to-one to ground-truth slices by the Hungarian
algorithm on their overlap; ``slice_accuracy`` is the fraction of examples in their matched slice
(unassigned examples are correct when they belong to no slice), and precision@k per ground-truth
slice ranks examples by the matched slice's score (or membership). Layout: docs/benchmarks/slicing.md.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..data_io import check_name, read_table, str_column, unique_ids, write_table
from ..registry import register
from ..submission_io import check_ids, collect_files, decode_text, format_items, parse_float, read_csv

EXTRA_PREFIX = "extra_"


@dataclasses.dataclass(eq=False)
class SliceProblem:
    ids: list[str]
    index: dict[str, int]                     # id -> row
    slices: dict[str, np.ndarray] | None      # hidden: slice name -> boolean membership over rows
    extra: frozenset[str] = frozenset()       # names of organizer-approved extra slices


@dataclasses.dataclass
class SliceSolution:
    assignment: np.ndarray                # row -> submitted slice number, -1 = no slice
    labels: list[str]                     # submitted slice number -> label
    scores: dict[int, np.ndarray]         # submitted slice number -> per-row score (-inf = not ranked)


def write_data_dir(out_dir: Path, ids: Sequence[str], slices: Mapping[str, Sequence[str]],
                   extra_slices: Mapping[str, Sequence[str]] | None = None, **public_columns) -> Path:
    """Write a slicing data directory. ``public_columns`` (e.g. encoding=X, label=y, prediction=p)
    go into data.parquet next to ``id``; ``slices`` / ``extra_slices`` map slice names to member ids."""
    out_dir = Path(out_dir)
    write_table(out_dir / "data.parquet", {"id": list(map(str, ids)), **public_columns})
    (out_dir / "slices").mkdir(parents=True, exist_ok=True)
    for prefix, group in (("", slices), (EXTRA_PREFIX, extra_slices or {})):
        for name, members in group.items():
            check_name(name, "slice name")
            lines = ["id", *map(str, members)]
            (out_dir / "slices" / f"{prefix}{name}.csv").write_text("\n".join(lines) + "\n")
    return out_dir


def _read_slice(path: Path, index: dict[str, int]) -> np.ndarray:
    import pandas as pd

    frame = pd.read_csv(path, dtype=str)
    if "id" not in frame.columns:
        raise DataError(f"slices/{path.name}: needs an id column")
    unknown = [item for item in frame["id"] if item not in index]
    if unknown:
        raise DataError(f"slices/{path.name}: ids not in data.parquet: {format_items(unknown)}")
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


@register
class Slicing(BenchmarkType):
    slug = "slicing"
    title = "Slice discovery"
    kind = "slicing"
    metrics = (
        Metric("slice_accuracy", "Fraction of examples in the correct slice", higher_is_better=True),
        Metric("mean_precision_at_k", "Mean precision@k over ground-truth slices", higher_is_better=True),
    )
    primary_metric = "slice_accuracy"
    hidden_patterns = ("slices/*",)
    submission_suffixes = (".csv", ".zip")
    default_config = {
        "max_slices": 20,     # cap on distinct submitted slice labels
        "precision_k": 25,    # DCBench's precision@25
    }

    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> SliceProblem:
        data_dir = Path(data_dir)
        ids = str_column(read_table(data_dir / "data.parquet", ["id"]), "id", "data.parquet")
        if not ids:
            raise DataError("data.parquet has no rows")
        index = unique_ids(ids, "data.parquet")
        slices, extra = None, set()
        paths = sorted((data_dir / "slices").glob("*.csv"))
        if paths:
            # originals first, then extras, each sorted by name: a fixed order for the matching
            paths.sort(key=lambda path: (path.name.startswith(EXTRA_PREFIX), path.name))
            slices = {}
            for path in paths:
                slices[path.stem] = _read_slice(path, index)
                if path.name.startswith(EXTRA_PREFIX):
                    extra.add(path.stem)
        return SliceProblem(ids, index, slices, frozenset(extra))

    def load_submission(self, problem: SliceProblem, path: Path, config: dict[str, Any]) -> SliceSolution:
        files = collect_files(Path(path), (".csv",))
        if not files:
            raise SubmissionError(f"{Path(path).name}: expected an id,slice CSV and/or a slice,id,score CSV")
        assignment_rows = ranking_rows = None
        for name, data in files.items():
            rows = read_csv(decode_text(data, name), name, ["id", "slice"], optional=["score"])
            is_ranking = bool(rows) and "score" in rows[0][1]
            if (ranking_rows if is_ranking else assignment_rows) is not None:
                kind = "slice,id,score ranking" if is_ranking else "id,slice assignment"
                raise SubmissionError(f"{name}: more than one {kind} file")
            if is_ranking:
                ranking_rows = (name, rows)
            else:
                assignment_rows = (name, rows)

        labels: list[str] = []
        numbers: dict[str, int] = {}

        def number(label: str, where: str) -> int:
            if not label:
                raise SubmissionError(f"{where}: empty slice label")
            if label not in numbers:
                if len(numbers) >= config["max_slices"]:
                    raise SubmissionError(f"{where}: more than {config['max_slices']} distinct slices")
                numbers[label] = len(labels)
                labels.append(label)
            return numbers[label]

        n = len(problem.ids)
        assignment = np.full(n, -1, dtype=np.int64)
        scores: dict[int, np.ndarray] = {}
        if ranking_rows:
            name, rows = ranking_rows
            check_ids([(line, values["id"]) for line, values in rows], problem.index, name, unique=False)
            seen: dict[tuple[str, str], int] = {}
            for line, values in rows:
                key = (values["slice"], values["id"])
                if key in seen:
                    raise SubmissionError(f"{name}, line {line}: id {key[1]!r} ranked twice in slice {key[0]!r} "
                                          f"(also line {seen[key]})")
                seen[key] = line
                where = f"{name}, line {line}"
                slice_number = number(values["slice"], where)
                row_scores = scores.setdefault(slice_number, np.full(n, -np.inf))
                row_scores[problem.index[values["id"]]] = parse_float(values["score"], where + " (score)")
        if assignment_rows:
            name, rows = assignment_rows
            check_ids([(line, values["id"]) for line, values in rows], problem.index, name)
            for line, values in rows:
                assignment[problem.index[values["id"]]] = number(values["slice"], f"{name}, line {line}")
        elif scores:
            # rankings only: each ranked example joins the slice where it scores highest (first on ties)
            best = np.full(n, -np.inf)
            for slice_number, row_scores in scores.items():
                better = row_scores > best
                assignment[better], best[better] = slice_number, row_scores[better]
        return SliceSolution(assignment, labels, scores)

    def evaluate(self, problem: SliceProblem, solution: SliceSolution, config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        if not problem.slices:
            raise DataError("hidden ground-truth slices (slices/*.csv) not available")
        names = list(problem.slices)
        truth = np.stack([problem.slices[name] for name in names])          # (G, N)
        submitted = np.stack([solution.assignment == s for s in range(len(solution.labels))]) \
            if solution.labels else np.zeros((0, truth.shape[1]), dtype=bool)  # (S, N)
        overlap = submitted.astype(np.int64) @ truth.T.astype(np.int64)      # (S, G)
        rows, cols = linear_sum_assignment(overlap, maximize=True) if overlap.size else ([], [])
        matched = {int(g): int(s) for s, g in zip(rows, cols) if overlap[s, g] > 0}

        background = ~truth.any(axis=0)
        correct = sum(overlap[s, g] for g, s in matched.items()) + int((background & (solution.assignment < 0)).sum())
        k = min(int(config["precision_k"]), len(problem.ids))
        per_slice = {}
        for g, name in enumerate(names):
            s = matched.get(g)
            if s is None:
                precision = 0.0
            else:
                ranking = solution.scores.get(s, submitted[s].astype(float))
                precision = expected_precision_at_k(ranking, truth[g], k)
            per_slice[name] = {"precision_at_k": precision, "matched_slice": None if s is None else solution.labels[s],
                               "extra": name in problem.extra}
        progress(1.0, "done")
        return Result(
            scores={"slice_accuracy": float(correct / len(problem.ids)),
                    "mean_precision_at_k": float(np.mean([v["precision_at_k"] for v in per_slice.values()]))},
            details={"slices": per_slice, "k": k, "submitted_slices": len(solution.labels)},
        )



def submitted_slice_members(problem: SliceProblem, solution: SliceSolution, label: str) -> list[str]:
    """Ids of the examples a submission put in its slice ``label`` (assigned, else ranked), e.g. for
    an organizer who accepts a newly discovered slice into the ground truth."""
    if label not in solution.labels:
        raise SubmissionError(f"the submission has no slice {label!r} (its slices: {format_items(solution.labels)})")
    number = solution.labels.index(label)
    rows = np.flatnonzero(solution.assignment == number)
    if not len(rows) and number in solution.scores:
        rows = np.flatnonzero(np.isfinite(solution.scores[number]))
    if not len(rows):
        raise SubmissionError(f"slice {label!r} of the submission has no examples")
    return [problem.ids[row] for row in rows]


def extra_slice_file(name: str, members: Sequence[str]) -> tuple[str, bytes]:
    """(relative path, content) of an organizer-approved extra slice in the data directory layout."""
    check_name(name, "slice name")
    return f"slices/{EXTRA_PREFIX}{name}.csv", ("\n".join(["id", *members]) + "\n").encode()
