"""Data valuation (DataPerf Table 1): predict the accuracy of training on A ∪ B_k before B_k is labelled.

The organizer ships a labelled set A and unlabelled candidate sets B_k (each optionally with a small
labelled sample, as sellers publish in DataPerf's data-acquisition benchmark). Participants submit,
per candidate, the test accuracy they expect from the fixed model trained on A ∪ B_k with B_k's true
labels. Primary score: the Spearman rank correlation between predicted and actual accuracies (higher
is better) - a buyer needs to *order* the candidates, and a constant guess of the overall level has
no order (scored 0). The regret of buying the top-ranked candidate and the mean absolute error are
reported beside it. The actual accuracies depend only on the data and the model, so they are
computed once per loaded problem. Layout and rationale: docs/benchmarks/valuation.md.
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from scipy.stats import spearmanr

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..data_io import check_name, embeddings, int_column, read_table, str_column, unique_ids, write_table
from ..models import accuracy, check_model, fit_predict
from ..registry import register
from ..submission_io import check_ids, collect_files, decode_text, parse_float, read_csv


@dataclasses.dataclass(eq=False)
class ValuationProblem:
    X_a: np.ndarray
    y_a: np.ndarray
    candidates: dict[str, np.ndarray]              # candidate_id -> (m, d) features
    candidate_labels: dict[str, np.ndarray] | None  # hidden, row-aligned with candidates
    X_test: np.ndarray | None                       # hidden
    y_test: np.ndarray | None
    # public labelled samples: candidate_id -> (row positions in the candidate, labels)
    samples: dict[str, tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=dict)
    # (model, seed) -> {"base": accuracy on A alone, "candidates": {candidate_id: accuracy}}
    truth: dict = dataclasses.field(default_factory=dict, repr=False)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def true_accuracies(self, model: str, seed: int, progress: ProgressCallback = no_progress) -> dict:
        """Train the fixed model on A and on each A ∪ B_k once; cached for every later submission."""
        if self.candidate_labels is None or self.X_test is None:
            raise DataError("hidden data (hidden/candidate_labels.parquet, hidden/test.parquet) not available")
        check_model(model)
        with self.lock, _single_threaded():
            key = (model, seed)
            if key not in self.truth:
                base = accuracy(fit_predict(model, self.X_a, self.y_a, self.X_test, seed), self.y_test)
                values = {}
                for position, (cid, X_b) in enumerate(self.candidates.items()):
                    progress(position / len(self.candidates), f"training on A + {cid}")
                    X = np.vstack([self.X_a, X_b])
                    y = np.concatenate([self.y_a, self.candidate_labels[cid]])
                    values[cid] = accuracy(fit_predict(model, X, y, self.X_test, seed), self.y_test)
                self.truth[key] = {"base": base, "candidates": values}
            return self.truth[key]


def _single_threaded():
    """One BLAS/OpenMP thread: the fits are small, threaded BLAS on a busy 2-core machine made them
    10-20x slower, and the result no longer depends on the machine's thread count (a fit's last
    digits did)."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    return threadpool_limits(1)


def write_data_dir(out_dir: Path, X_a, y_a, candidates: Mapping[str, tuple[np.ndarray, np.ndarray]],
                   X_test, y_test, samples: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write a valuation data directory; ``candidates`` maps candidate_id -> (X_b, y_b); ``samples``
    maps candidate_id -> row positions of B_k whose labels are published in ``samples/<id>.parquet``."""
    out_dir = Path(out_dir)
    write_table(out_dir / "a.parquet", {"id": [f"a-{i}" for i in range(len(y_a))], "encoding": np.asarray(X_a),
                                        "label": np.asarray(y_a, np.int64)})
    label_rows = {"candidate_id": [], "id": [], "label": []}
    for cid, (X_b, y_b) in candidates.items():
        check_name(cid, "candidate_id")
        ids = [f"{cid}-{i}" for i in range(len(y_b))]
        write_table(out_dir / "candidates" / f"{cid}.parquet", {"id": ids, "encoding": np.asarray(X_b)})
        label_rows["candidate_id"] += [cid] * len(ids)
        label_rows["id"] += ids
        label_rows["label"] += np.asarray(y_b, np.int64).tolist()
        if samples is not None and cid in samples:
            rows = np.asarray(samples[cid], np.int64)
            write_table(out_dir / "samples" / f"{cid}.parquet",
                        {"id": [ids[r] for r in rows], "label": np.asarray(y_b, np.int64)[rows]})
    write_table(out_dir / "hidden" / "candidate_labels.parquet", label_rows)
    write_table(out_dir / "hidden" / "test.parquet", {"encoding": np.asarray(X_test), "label": np.asarray(y_test, np.int64)})
    return out_dir


def _load_candidate_labels(path: Path, candidates: dict[str, list[str]]) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    table = read_table(path, ["candidate_id", "id", "label"])
    labels = {}
    groups: dict[str, dict[str, int]] = {}
    for cid, item, label in zip(str_column(table, "candidate_id", path.name), str_column(table, "id", path.name),
                                int_column(table, "label", path.name)):
        groups.setdefault(cid, {})[item] = int(label)
    for cid, ids in candidates.items():
        known = groups.get(cid, {})
        missing = [item for item in ids if item not in known]
        if missing:
            raise DataError(f"{path.name}: no label for {len(missing)} row(s) of candidate {cid} (e.g. {missing[0]!r})")
        labels[cid] = np.array([known[item] for item in ids], dtype=np.int64)
    return labels


def _load_samples(sample_dir: Path, candidate_ids: dict[str, list[str]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The optional public labelled samples, as (row positions in the candidate, labels)."""
    samples = {}
    for path in sorted(sample_dir.glob("*.parquet")) if sample_dir.is_dir() else []:
        if path.stem not in candidate_ids:
            raise DataError(f"samples/{path.name}: no candidate {path.stem!r} in candidates/")
        table = read_table(path, ["id", "label"])
        ids = str_column(table, "id", path.name)
        unique_ids(ids, path.name)
        position = {item: i for i, item in enumerate(candidate_ids[path.stem])}
        unknown = [item for item in ids if item not in position]
        if unknown:
            raise DataError(f"samples/{path.name}: {len(unknown)} id(s) not in candidates/{path.name} (e.g. {unknown[0]!r})")
        samples[path.stem] = (np.array([position[item] for item in ids], dtype=np.int64),
                              int_column(table, "label", path.name))
    return samples


def rank_correlation(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Spearman's rho with tied values given their average rank; 0.0 (no ranking information) when
    either side is constant or there is a single candidate, never NaN."""
    if len(predicted) < 2 or np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return 0.0
    return float(spearmanr(predicted, actual).statistic)


def top_choice_regret(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Accuracy lost by buying the candidate ranked first instead of the best one. Candidates tied at
    the top prediction are bought at random: their mean regret (a constant pays the mean regret)."""
    top = predicted == predicted.max()
    return float(actual.max() - actual[top].mean())


@register
class Valuation(BenchmarkType):
    slug = "valuation"
    title = "Data valuation"
    kind = "valuation"
    metrics = (
        Metric("spearman", "Spearman rank correlation with actual accuracy", higher_is_better=True),
        Metric("regret", "Accuracy lost by buying your top-ranked candidate", higher_is_better=False),
        Metric("mae", "Mean absolute error of predicted accuracy", higher_is_better=False),
        Metric("max_abs_error", "Largest absolute error", higher_is_better=False),
    )
    primary_metric = "spearman"
    # BUILD_INFO.json (written by fixtures/builders) names each candidate's recipe: it would give the ranking away
    hidden_patterns = ("hidden/*", "BUILD_INFO.json")
    submission_suffixes = (".csv",)
    default_config = {
        "model": "logreg",   # fixed model trained on A ∪ B_k (evaluation.models)
        "seed": 0,
    }

    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> ValuationProblem:
        data_dir = Path(data_dir)
        check_model(config["model"])
        a = read_table(data_dir / "a.parquet", ["encoding", "label"])
        X_a, y_a = embeddings(a, name="a.parquet"), int_column(a, "label", "a.parquet")
        paths = sorted((data_dir / "candidates").glob("*.parquet"))
        if not paths:
            raise DataError(f"{data_dir}: no candidates/<candidate_id>.parquet files")
        candidates, candidate_ids = {}, {}
        for path in paths:
            table = read_table(path, ["id", "encoding"])
            ids = str_column(table, "id", path.name)
            unique_ids(ids, path.name)
            candidates[path.stem], candidate_ids[path.stem] = embeddings(table, name=path.name), ids
            if candidates[path.stem].shape[1] != X_a.shape[1]:
                raise DataError(f"{path.name}: {candidates[path.stem].shape[1]} dims, a.parquet has {X_a.shape[1]}")
        labels = _load_candidate_labels(data_dir / "hidden" / "candidate_labels.parquet", candidate_ids)
        samples = _load_samples(data_dir / "samples", candidate_ids)
        if labels is not None:
            for cid, (rows, sample_labels) in samples.items():
                if not np.array_equal(labels[cid][rows], sample_labels):
                    raise DataError(f"samples/{cid}.parquet: labels differ from hidden/candidate_labels.parquet")
        X_test = y_test = None
        if (data_dir / "hidden" / "test.parquet").is_file():
            test = read_table(data_dir / "hidden" / "test.parquet", ["encoding", "label"])
            X_test, y_test = embeddings(test, name="test.parquet"), int_column(test, "label", "test.parquet")
        return ValuationProblem(X_a, y_a, candidates, labels, X_test, y_test, samples)

    def load_submission(self, problem: ValuationProblem, path: Path, config: dict[str, Any]) -> dict[str, float]:
        files = collect_files(Path(path), (".csv",))
        if len(files) != 1:
            raise SubmissionError(f"{Path(path).name}: expected one CSV file candidate_id,predicted_accuracy")
        name, data = next(iter(files.items()))
        rows = read_csv(decode_text(data, name), name, ["candidate_id", "predicted_accuracy"])
        predictions = {values["candidate_id"]: parse_float(values["predicted_accuracy"], f"{name}, line {line}", 0.0, 1.0)
                       for line, values in rows}
        check_ids([(line, values["candidate_id"]) for line, values in rows], set(problem.candidates), name,
                  what="candidate_id", complete=True)
        return predictions

    def evaluate(self, problem: ValuationProblem, solution: dict[str, float], config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        truth = problem.true_accuracies(config["model"], int(config["seed"]), progress)["candidates"]
        ids = list(problem.candidates)
        predicted = np.array([solution[cid] for cid in ids])
        actual = np.array([truth[cid] for cid in ids])
        errors = np.abs(predicted - actual)
        defined = len(ids) > 1 and np.ptp(predicted) > 0 and np.ptp(actual) > 0
        progress(1.0, "done")
        # Only aggregates: per-candidate errors would reveal the hidden accuracies.
        return Result(
            scores={"spearman": rank_correlation(predicted, actual), "regret": top_choice_regret(predicted, actual),
                    "mae": float(errors.mean()), "max_abs_error": float(errors.max())},
            details={"candidates": len(ids), "spearman_defined": bool(defined), "model": config["model"]},
        )
