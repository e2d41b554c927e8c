"""Training-set creation (DataPerf Table 1): build the training set, the models are fixed.

Participants pick (and may relabel) rows of a public candidate pool and may add augmented examples
as embeddings; a fixed model suite is trained on the result and scored on a hidden test set.
Score: mean test accuracy over the suite. Layout: docs/benchmarks/training-set.md.
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..data_io import embeddings, int_column, read_table, str_column, unique_ids, write_table
from ..models import accuracy, fit_predict, resolve_suite
from ..registry import register
from ..submission_io import check_ids, collect_files, decode_text, parse_int, read_csv, read_npz


@dataclasses.dataclass(eq=False)
class TrainingSetProblem:
    ids: list[str]
    index: dict[str, int]
    X: np.ndarray               # pool embeddings (n, d)
    y: np.ndarray               # pool labels
    baseline: np.ndarray        # row indices of the baseline training set
    X_test: np.ndarray | None   # hidden
    y_test: np.ndarray | None
    baseline_scores: dict = dataclasses.field(default_factory=dict, repr=False)   # (suite, seed) -> accuracies
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @property
    def classes(self) -> set[int]:
        return set(np.unique(self.y).tolist())


@dataclasses.dataclass
class TrainingSet:
    rows: np.ndarray            # pool rows, in submission order (repeats allowed)
    labels: np.ndarray          # label per row (may differ from the pool's)
    X_extra: np.ndarray         # augmented examples (m, d)
    y_extra: np.ndarray

    def __len__(self) -> int:
        return len(self.rows) + len(self.y_extra)


def write_data_dir(out_dir: Path, X_pool, y_pool, baseline_rows: Sequence[int], X_test, y_test,
                   ids: Sequence[str] | None = None) -> Path:
    """Write a training-set data directory: the pool, the baseline ids and the hidden test set."""
    out_dir = Path(out_dir)
    ids = list(ids) if ids is not None else [f"p{i}" for i in range(len(y_pool))]
    write_table(out_dir / "pool.parquet", {"id": ids, "encoding": np.asarray(X_pool), "label": np.asarray(y_pool, np.int64)})
    (out_dir / "baseline.csv").write_text("id\n" + "".join(f"{ids[row]}\n" for row in baseline_rows))
    write_table(out_dir / "hidden" / "test.parquet", {"encoding": np.asarray(X_test), "label": np.asarray(y_test, np.int64)})
    return out_dir


def _read_npz(data: bytes, name: str, problem: TrainingSetProblem) -> tuple[np.ndarray, np.ndarray]:
    archive = read_npz(data, name)
    missing = [key for key in ("X", "y") if key not in archive]
    if missing:
        raise SubmissionError(f"{name}: missing array(s) {', '.join(missing)} (expected an .npz with X and y)")
    X, y = archive["X"], archive["y"]
    d = problem.X.shape[1]
    if X.ndim != 2 or X.shape[1] != d or y.shape != (len(X),):
        raise SubmissionError(f"{name}: X must be (m, {d}) and y (m,), got {X.shape} and {y.shape}")
    if not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
        raise SubmissionError(f"{name}: X must hold finite numbers")
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise SubmissionError(f"{name}: y must hold integer labels")
    y = y.astype(np.int64)
    unknown = sorted(set(y.tolist()) - problem.classes)
    if unknown:
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise SubmissionError(f"{name}: unknown label(s) {unknown[:10]}{more} (labels: {sorted(problem.classes)})")
    return X.astype(np.float32), y


@register
class TrainingSetCreation(BenchmarkType):
    slug = "training-set"
    title = "Training-set creation"
    kind = "training-set"
    metrics = (Metric("accuracy", "Mean test accuracy of the model suite", higher_is_better=True),)
    primary_metric = "accuracy"
    hidden_patterns = ("hidden/*",)
    submission_suffixes = (".csv", ".npz", ".zip")
    default_config = {
        "max_train_size": 1000,      # pool rows + augmented examples
        "allow_augmented": True,
        "suite": "default",          # evaluation.models.SUITES name
        "seed": 0,
    }

    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> TrainingSetProblem:
        data_dir = Path(data_dir)
        resolve_suite(config["suite"])
        pool = read_table(data_dir / "pool.parquet", ["id", "encoding", "label"])
        ids = str_column(pool, "id", "pool.parquet")
        index = unique_ids(ids, "pool.parquet")
        X, y = embeddings(pool, name="pool.parquet"), int_column(pool, "label", "pool.parquet")
        baseline_path = data_dir / "baseline.csv"
        if not baseline_path.is_file():
            raise DataError(f"missing data file baseline.csv ({baseline_path})")
        try:
            rows = read_csv(baseline_path.read_text(), "baseline.csv", ["id"])
            check_ids([(line, values["id"]) for line, values in rows], index, "baseline.csv")
        except SubmissionError as error:   # the organizer's file, not the participant's
            raise DataError(str(error)) from None
        baseline = np.array([index[values["id"]] for _, values in rows], dtype=np.int64)
        X_test = y_test = None
        if (data_dir / "hidden" / "test.parquet").is_file():
            test = read_table(data_dir / "hidden" / "test.parquet", ["encoding", "label"])
            X_test, y_test = embeddings(test, name="test.parquet"), int_column(test, "label", "test.parquet")
            if X_test.shape[1] != X.shape[1]:
                raise DataError(f"test.parquet has {X_test.shape[1]} dims, pool.parquet {X.shape[1]}")
        return TrainingSetProblem(ids, index, X, y, baseline, X_test, y_test)

    def load_submission(self, problem: TrainingSetProblem, path: Path, config: dict[str, Any]) -> TrainingSet:
        files = collect_files(Path(path), (".csv", ".npz"))
        csvs = [name for name in files if name.lower().endswith(".csv")]
        npzs = [name for name in files if name.lower().endswith(".npz")]
        if not files or len(csvs) > 1 or len(npzs) > 1:
            raise SubmissionError(f"{Path(path).name}: expected one id,label CSV and/or one .npz (X, y) of augmented "
                                  f"examples, found {', '.join(files) or 'nothing'}")
        rows, labels = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if csvs:
            name = csvs[0]
            parsed = read_csv(decode_text(files[name], name), name, ["id", "label"])
            # repeated ids are allowed (oversampling); each counts towards max_train_size
            check_ids([(line, values["id"]) for line, values in parsed], problem.index, name, unique=False)
            labels = np.array([parse_int(values["label"], f"{name}, line {line} (label)") for line, values in parsed],
                              dtype=np.int64)
            for (line, values), label in zip(parsed, labels):
                if label not in problem.classes:
                    raise SubmissionError(f"{name}, line {line}: unknown label {label} (labels: {sorted(problem.classes)})")
            rows = np.array([problem.index[values["id"]] for _, values in parsed], dtype=np.int64)
        X_extra, y_extra = np.zeros((0, problem.X.shape[1]), np.float32), np.zeros(0, np.int64)
        if npzs:
            if not config["allow_augmented"]:
                raise SubmissionError(f"{npzs[0]}: this benchmark does not accept augmented examples")
            X_extra, y_extra = _read_npz(files[npzs[0]], npzs[0], problem)
        solution = TrainingSet(rows, labels, X_extra, y_extra)
        if len(solution) == 0:
            raise SubmissionError(f"{Path(path).name}: the training set is empty")
        if len(solution) > config["max_train_size"]:
            raise SubmissionError(f"{Path(path).name}: {len(solution)} training examples "
                                  f"({len(rows)} pool rows + {len(y_extra)} augmented), the limit is {config['max_train_size']}")
        return solution

    def _suite_scores(self, problem: TrainingSetProblem, X, y, config) -> dict[str, float]:
        return {name: accuracy(fit_predict(name, X, y, problem.X_test, int(config["seed"])), problem.y_test)
                for name in resolve_suite(config["suite"])}

    def baseline_accuracies(self, problem: TrainingSetProblem, config: dict[str, Any]) -> dict[str, float]:
        """Suite accuracies of the baseline training set, computed once per loaded problem."""
        key = (tuple(resolve_suite(config["suite"])), int(config["seed"]))
        with problem.lock:
            if key not in problem.baseline_scores:
                rows = problem.baseline
                problem.baseline_scores[key] = self._suite_scores(problem, problem.X[rows], problem.y[rows], config)
            return problem.baseline_scores[key]

    def evaluate(self, problem: TrainingSetProblem, solution: TrainingSet, config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        if problem.X_test is None:
            raise DataError("hidden test set (hidden/test.parquet) not available")
        progress(0.0, "baseline training set")
        baseline = self.baseline_accuracies(problem, config)
        progress(0.3, "training the model suite")
        X = np.vstack([problem.X[solution.rows], solution.X_extra])
        y = np.concatenate([solution.labels, solution.y_extra])
        per_model = self._suite_scores(problem, X, y, config)
        progress(1.0, "done")
        mean = float(np.mean(list(per_model.values())))
        baseline_mean = float(np.mean(list(baseline.values())))
        return Result(
            scores={"accuracy": mean},
            details={"models": per_model, "baseline_accuracy": baseline_mean, "baseline_models": baseline,
                     "improvement": mean - baseline_mean, "train_size": len(solution),
                     "pool_rows": int(len(solution.rows)), "augmented": int(len(solution.y_extra))},
        )
