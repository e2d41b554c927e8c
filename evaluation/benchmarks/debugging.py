"""Data debugging (DataPerf vision debugging, paper §3.3): rank noisy training rows for inspection.

Per task, for i = 1..n the first i ranked rows get their clean label, the fixed model is retrained
and its test accuracy (2 dp) recorded; the score is i*/n for the first 0-based i* whose accuracy
reaches ``target_ratio`` x the accuracy after all n fixes. Lower is better.

The reference retrains n times per task. This evaluator returns the identical number with far fewer
trainings (see ``Scorer``): the last step of a ranking that fixes every row is the clean training
set, so the target is known per problem and cached; the scan then stops at i*; steps whose fix did
not change a label reuse the previous accuracy; only the label vector is patched. For the k-NN model
the test points' neighbours never change, so every step is an exact incremental vote update.
Layout: docs/benchmarks/debugging.md.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..cache import derived_arrays
from ..data_io import check_name, embeddings, int_column, read_table, str_column, write_table
from ..models import KNN_NEIGHBORS, MODELS, accuracy as plain_accuracy, fit_predict
from ..registry import register
from ..submission_io import check_ids, collect_files, decode_text, format_items, parse_float, parse_int, read_csv, shorten

TRAIN_FILE = re.compile(r"^(?P<id>[^_]+)_train_(?P<noise>[^_]+)_(?P<size>\d+)\.parquet$")
TORCH_MODEL = "dataperf-torch"


# --- data ---------------------------------------------------------------------------------------
@dataclasses.dataclass(eq=False)
class DebugTask:
    data_id: str
    X: np.ndarray                 # (n, d) float32 train embeddings
    noisy: np.ndarray             # (n,) int64 labels as shipped
    filenames: list[str]
    clean: np.ndarray | None      # hidden: human-verified labels, row-aligned
    X_test: np.ndarray | None     # hidden
    y_test: np.ndarray | None     # hidden
    # (model key) -> scorer with its cached clean/noisy accuracies; built on first use
    scorers: dict = dataclasses.field(default_factory=dict, repr=False)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)
    sources: list = dataclasses.field(default_factory=list, repr=False)  # the task's data files

    @property
    def size(self) -> int:
        return len(self.noisy)

    @property
    def hidden_available(self) -> bool:
        return self.clean is not None and self.X_test is not None


@dataclasses.dataclass(eq=False)
class DebugProblem:
    data_dir: Path
    tasks: dict[str, DebugTask]


@dataclasses.dataclass
class DebugSolution:
    rankings: dict[str, np.ndarray]  # data_id -> permutation of row indices, most suspicious first
    files: dict[str, str]            # data_id -> submitted file name


def _load_task(data_dir: Path, data_id: str, train_path: Path) -> DebugTask:
    train = read_table(train_path, ["encoding", "label", "filename"])
    X = embeddings(train, name=train_path.name)
    noisy = int_column(train, "label", train_path.name)
    filenames = str_column(train, "filename", train_path.name)
    if len(noisy) == 0:
        raise DataError(f"{train_path.name}: no training rows")

    clean = X_test = y_test = None
    gt_path = data_dir / "data" / f"dataset_{data_id}_train.csv"
    if gt_path.is_file():
        clean = _clean_labels(gt_path, filenames)
    test_paths = sorted((data_dir / "embeddings").glob(f"{data_id}_test_*.parquet"))
    if len(test_paths) > 1:
        raise DataError(f"several test files for task {data_id}: {format_items(p.name for p in test_paths)}")
    if test_paths:
        test = read_table(test_paths[0], ["encoding", "label"])
        X_test, y_test = embeddings(test, name=test_paths[0].name), int_column(test, "label", test_paths[0].name)
        if len(y_test) == 0:
            raise DataError(f"{test_paths[0].name}: no test rows")
        if X_test.shape[1] != X.shape[1]:
            raise DataError(f"task {data_id}: test embeddings have {X_test.shape[1]} dims, train {X.shape[1]}")
    sources = [train_path, *([gt_path] if gt_path.is_file() else []), *test_paths]
    return DebugTask(data_id, X, noisy, filenames, clean, X_test, y_test, sources=sources)


def _clean_labels(gt_path: Path, filenames: list[str]) -> np.ndarray:
    """hv_label per train row from data/dataset_<id>_train.csv (first row per ImageID, like the
    reference's ``gt_df[gt_df["ImageID"] == f]["hv_label"].values[0]``). Read with the csv module:
    pandas costs a cold command ~0.5 s of imports for a two-column file."""
    import csv
    import io

    try:
        text = gt_path.read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{gt_path.name}: not a readable CSV file ({error})") from None
    header = [h.strip() for h in rows[0]] if rows else []
    if not {"ImageID", "hv_label"} <= set(header):
        raise DataError(f"{gt_path.name}: needs columns ImageID, hv_label")
    id_col, label_col = header.index("ImageID"), header.index("hv_label")
    lookup: dict[str, str] = {}
    for row in rows[1:]:
        if not row:
            continue  # pandas skips blank lines
        image_id = row[id_col] if id_col < len(row) else ""
        lookup.setdefault(image_id, row[label_col] if label_col < len(row) else "")
    missing = [name for name in filenames if name not in lookup]
    if missing:
        raise DataError(f"{gt_path.name}: no hv_label for {format_items(missing)}")
    values = []
    for name in filenames:
        try:
            value = float(lookup[name])
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and value == round(value)):
            raise DataError(f"{gt_path.name}: hv_label must be integers")
        values.append(int(value))
    return np.asarray(values, dtype=np.int64)


def write_data_dir(out_dir: Path, tasks: Mapping[str, Mapping[str, Any]], noise_level: float | str = 0.3) -> Path:
    """Write a debugging data directory in the DataPerf layout.

    ``tasks`` maps data_id -> arrays: ``X_train``, ``noisy_labels``, ``clean_labels``, ``X_test``,
    ``y_test``; optional ``X_val``/``y_val`` (public, clean labels) and ``filenames``.
    """
    out_dir = Path(out_dir)
    for data_id, arrays in tasks.items():
        check_name(data_id, "data_id")
        X = np.asarray(arrays["X_train"])
        n = len(X)
        filenames = list(arrays.get("filenames") or [f"{data_id}-{row:06d}" for row in range(n)])
        write_table(out_dir / "embeddings" / f"{data_id}_train_{noise_level}_{n}.parquet",
                    {"encoding": X, "label": np.asarray(arrays["noisy_labels"], np.int64), "filename": np.array(filenames)})
        X_test = np.asarray(arrays["X_test"])
        write_table(out_dir / "embeddings" / f"{data_id}_test_{len(X_test)}.parquet",
                    {"encoding": X_test, "label": np.asarray(arrays["y_test"], np.int64)})
        if arrays.get("X_val") is not None:
            X_val = np.asarray(arrays["X_val"])
            write_table(out_dir / "embeddings" / f"{data_id}_val_{len(X_val)}.parquet",
                        {"encoding": X_val, "label": np.asarray(arrays["y_val"], np.int64)})
        import pandas as pd

        (out_dir / "data").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"ImageID": filenames, "hv_label": np.asarray(arrays["clean_labels"], np.int64)}).to_csv(
            out_dir / "data" / f"dataset_{data_id}_train.csv", index=False)
    return out_dir


def synthetic_task(seed: int = 0, n_train: int = 300, n_test: int = 500, n_val: int = 100, dim: int = 2048,
                   noise: float = 0.3, n_classes: int = 2, latent_dim: int = 16, separation: float = 0.8) -> dict:
    """Generated embeddings shaped like a DataPerf debugging task (for tests, benchmarks, demos).

    Classes are Gaussian clusters in a low-dimensional latent space, projected to ``dim``; a
    ``noise`` fraction of training labels is replaced by a different random class.
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, latent_dim)) * separation
    projection = rng.normal(size=(latent_dim, dim)) / np.sqrt(latent_dim)

    def sample(count):
        y = rng.integers(0, n_classes, size=count)
        latent = means[y] + rng.normal(size=(count, latent_dim))
        return (latent @ projection + 0.3 * rng.normal(size=(count, dim))).astype(np.float32), y

    X_train, clean = sample(n_train)
    X_test, y_test = sample(n_test)
    X_val, y_val = sample(n_val)
    noisy = clean.copy()
    flipped = rng.choice(n_train, size=int(round(noise * n_train)), replace=False)
    noisy[flipped] = (clean[flipped] + rng.integers(1, n_classes, size=len(flipped))) % n_classes
    return {"X_train": X_train, "noisy_labels": noisy, "clean_labels": clean, "X_test": X_test, "y_test": y_test,
            "X_val": X_val, "y_val": y_val}


# --- fixed models ---------------------------------------------------------------------------------
class Scorer:
    """2-dp test accuracy of one fixed model, retrained from scratch on given training labels.

    Accuracies are memoised by label vector for the life of the loaded problem: the clean and noisy
    sets are trained once per problem, and submissions that reach the same training set (e.g. the
    same noisy rows fixed, in any order) share the result.
    """

    MEMO_LIMIT = 200_000

    def __init__(self, task: DebugTask):
        self.task = task
        self.memo: dict[bytes, float] = {}
        self.trainings = 0

    def accuracy(self, labels: np.ndarray) -> float:
        raise NotImplementedError

    @staticmethod
    def _key(labels: np.ndarray) -> bytes:
        return hashlib.blake2b(np.ascontiguousarray(labels, dtype=np.int64).tobytes(), digest_size=16).digest()

    def prime(self, labels: np.ndarray, value: float) -> None:
        """Record a known accuracy (e.g. from the on-disk cache) without training."""
        self.memo.setdefault(self._key(labels), float(value))

    def lookup(self, labels: np.ndarray) -> float:
        key = self._key(labels)
        value = self.memo.get(key)
        if value is None:
            self.trainings += 1
            value = self.accuracy(labels)
            if len(self.memo) < self.MEMO_LIMIT:
                self.memo[key] = value
        return value

    def cached(self, which: str) -> float:
        return self.lookup(self.task.clean if which == "clean" else self.task.noisy)

    def steps(self, ranking: np.ndarray) -> Iterator[float]:
        """Accuracy after fixing ranking[:1], ranking[:2], ... (lazily, so callers can stop early)."""
        labels = self.task.noisy.copy()
        clean = self.task.clean
        current = None
        for row in ranking:
            if labels[row] != clean[row]:
                labels[row] = clean[row]
                current = self.lookup(labels)
            elif current is None:   # nothing changed yet: the noisy training set
                current = self.cached("noisy")
            yield current


class RefitScorer(Scorer):
    """Any scikit-learn model from ``evaluation.models``: fit and predict each time."""

    def __init__(self, task: DebugTask, model: str, params: dict):
        super().__init__(task)
        self.model, self.params = model, params

    def accuracy(self, labels):
        predictions = fit_predict(self.model, self.task.X, labels, self.task.X_test, **self.params)
        return float(np.round(plain_accuracy(predictions, self.task.y_test), 2))


class KnnScorer(Scorer):
    """Exact k-NN (uniform weights, brute force) via precomputed test neighbours.

    The training features never change, so each test point's k neighbours are fixed and a label fix
    only moves one vote of the test points that have that row among their neighbours. Predictions
    are the majority vote with ties to the smallest label, as in scikit-learn (argmax over sorted
    classes). A near-tie in distance at the k-th neighbour would make the neighbour set depend on
    sklearn internals, so then ``exact`` is False and the caller refits sklearn instead.
    """

    def __init__(self, task: DebugTask, n_neighbors: int):
        super().__init__(task)
        from sklearn.neighbors import NearestNeighbors

        X = np.asarray(task.X, dtype=np.float64)
        X_test = np.asarray(task.X_test, dtype=np.float64)
        k = self.k = min(n_neighbors, len(X))
        query = min(k + 1, len(X))
        distances, neighbours = NearestNeighbors(n_neighbors=query, algorithm="brute").fit(X).kneighbors(X_test)
        self.exact = True
        if query > k:
            squared = distances ** 2
            scale = (X_test ** 2).sum(1) + (X ** 2).sum(1).max()
            self.exact = bool(np.all(squared[:, k] - squared[:, k - 1] > 1e-9 * scale))
        self.neighbours = neighbours[:, :k]
        self.classes = np.unique(np.concatenate([task.noisy, task.clean, task.y_test]))
        self.test_index = np.searchsorted(self.classes, task.y_test)
        # row -> test points having it as a neighbour (CSR), for incremental vote updates
        flat = self.neighbours.ravel()
        order = np.argsort(flat, kind="stable")
        self.affected = order // k
        self.starts = np.searchsorted(flat[order], np.arange(len(X) + 1))

    def _votes(self, labels: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.classes, labels)[self.neighbours]
        votes = np.zeros((len(index), len(self.classes)), dtype=np.int64)
        np.add.at(votes, (np.repeat(np.arange(len(index)), self.k), index.ravel()), 1)
        return votes

    def _accuracy(self, correct: int) -> float:
        return float(np.round(correct / len(self.test_index), 2))

    def accuracy(self, labels):
        return self._accuracy(int((self._votes(labels).argmax(1) == self.test_index).sum()))

    def steps(self, ranking):
        labels = np.searchsorted(self.classes, self.task.noisy)
        clean = np.searchsorted(self.classes, self.task.clean)
        votes = self._votes(self.classes[labels])
        predicted = votes.argmax(1)
        correct = int((predicted == self.test_index).sum())
        for row in ranking:
            old, new = labels[row], clean[row]
            if old != new:
                labels[row] = new
                points = self.affected[self.starts[row]:self.starts[row + 1]]
                # a row is at most once among a test point's neighbours: plain indexing is safe
                votes[points, old] -= 1
                votes[points, new] += 1
                before = predicted[points] == self.test_index[points]
                predicted[points] = votes[points].argmax(1)
                correct += int((predicted[points] == self.test_index[points]).sum() - before.sum())
            yield self._accuracy(correct)


class TorchScorer(Scorer):
    """The DataPerf 2023 reference model (evaluation.torch_reference), imported only when used."""

    def __init__(self, task: DebugTask, threads: int):
        super().__init__(task)
        from ..torch_reference import ReferenceScorer

        self.reference = ReferenceScorer(task.X, task.X_test, task.y_test, threads=threads or None)

    def accuracy(self, labels):
        return self.reference.accuracy(labels)


def model_key(config: Mapping[str, Any]) -> tuple:
    return (config["model"], config["n_neighbors"] if config["model"] == "knn" else None)


def get_scorer(task: DebugTask, config: Mapping[str, Any]) -> Scorer:
    """The task's scorer for the configured model, built once per loaded problem."""
    if not task.hidden_available:
        raise DataError(f"task {task.data_id}: hidden data (test parquet, data/dataset_*_train.csv) not available")
    key = model_key(config)
    with task.lock:
        if key not in task.scorers:
            task.scorers[key] = _build_scorer(task, config)
        return task.scorers[key]


def _build_scorer(task: DebugTask, config: Mapping[str, Any]) -> Scorer:
    name = config["model"]
    if name == TORCH_MODEL:
        values = np.unique(np.concatenate([task.noisy, task.clean, task.y_test]))
        if not set(values.tolist()) <= {0, 1}:
            raise DataError(f"task {task.data_id}: the DataPerf torch model needs 0/1 labels, found {values.tolist()}")
        scorer = TorchScorer(task, config["torch_threads"])
        _prime_from_disk(scorer, task)
        return scorer
    if name == "knn":
        scorer = KnnScorer(task, int(config["n_neighbors"]))
        if scorer.exact:
            return scorer
        return RefitScorer(task, "knn", {"n_neighbors": int(config["n_neighbors"])})
    if name not in MODELS:
        raise DataError(f"unknown model {name!r} (known: {', '.join(sorted([*MODELS, TORCH_MODEL]))})")
    return RefitScorer(task, name, {})


def _prime_from_disk(scorer: Scorer, task: DebugTask) -> None:
    """The clean and noisy accuracies of the torch model are facts of the benchmark's data: keep them
    in the on-disk cache (evaluation.cache, keyed by the data files' checksums and the torch/numpy
    versions) so that a cold command does not retrain them for every submission."""
    if not task.sources:
        return
    import torch

    kind = f"debugging-torch-accuracies-v1-torch{torch.__version__}-numpy{np.__version__}"
    values = derived_arrays(kind, task.sources,
                            lambda: {"accuracies": {"clean": scorer.cached("clean"), "noisy": scorer.cached("noisy")}})
    scorer.prime(task.clean, values["accuracies"]["clean"])
    scorer.prime(task.noisy, values["accuracies"]["noisy"])


# --- scoring ---------------------------------------------------------------------------------------
def fraction_from_curve(accuracies: Sequence[float], ratio: float = 0.95) -> tuple[float, int, float]:
    """The reference's calc_auc_from_submission: (i*/n, i*, target) with target from the last step."""
    target = ratio * accuracies[-1]
    for index, value in enumerate(accuracies):
        if value >= target:
            return index / len(accuracies), index, target
    raise AssertionError("the last step always reaches its own target")


def plain_loop(problem: DebugProblem, task_id: str, ranking: Sequence[int], config: Mapping[str, Any]) -> list[float]:
    """The reference procedure, unoptimised: n independent retrainings (for tests and benchmarks)."""
    task = problem.tasks[task_id]
    scorer = get_scorer(task, config)
    refit = getattr(scorer, "reference", None)
    accuracies = []
    for i in range(1, len(ranking) + 1):
        labels = task.noisy.copy()
        fixed = np.asarray(ranking[:i])
        labels[fixed] = task.clean[fixed]
        if refit is not None:
            accuracies.append(refit.accuracy(labels))
        else:
            params = {"n_neighbors": int(config["n_neighbors"])} if config["model"] == "knn" else {}
            predictions = fit_predict(config["model"], task.X, labels, task.X_test, **params)
            accuracies.append(float(np.round(plain_accuracy(predictions, task.y_test), 2)))
    return accuracies


def _curve(problem: DebugProblem, task_id: str, ranking: np.ndarray, config: Mapping[str, Any] | None) -> dict:
    config = Debugging().config(dict(config or {}))
    task = _task(problem, task_id)
    accuracies = list(get_scorer(task, config).steps(np.asarray(ranking)))
    fraction, index, target = fraction_from_curve(accuracies, config["target_ratio"])
    return {"task": task_id, "fixes": list(range(1, len(accuracies) + 1)), "accuracy": accuracies,
            "target_accuracy": target, "fraction_fixes": fraction, "target_index": index}


def full_curve(problem: DebugProblem, solution: DebugSolution, task_id: str, config: Mapping[str, Any] | None = None) -> dict:
    """Accuracy after every number of fixes for a submission (for plots; n trainings for non-kNN models)."""
    return _curve(problem, task_id, solution.rankings[task_id], config)


def random_curve(problem: DebugProblem, task_id: str, config: Mapping[str, Any] | None = None, seed: int = 0) -> dict:
    """The curve of a seeded random inspection order (the 'random' baseline)."""
    ranking = np.random.default_rng(seed).permutation(_task(problem, task_id).size)
    return _curve(problem, task_id, ranking, config)


def oracle_curve(problem: DebugProblem, task_id: str, config: Mapping[str, Any] | None = None) -> dict:
    """The curve of an oracle that inspects the mislabelled rows first (in row order)."""
    task = _task(problem, task_id)
    if task.clean is None:
        raise DataError(f"task {task_id}: clean labels not available")
    wrong = task.noisy != task.clean
    return _curve(problem, task_id, np.concatenate([np.flatnonzero(wrong), np.flatnonzero(~wrong)]), config)


CURVE_POINTS = 30


def _downsample(curve: dict) -> dict:
    """Keep about CURVE_POINTS evenly spaced steps (and the last) of a curve."""
    n = len(curve["accuracy"])
    keep = sorted(set(np.linspace(0, n - 1, num=min(n, CURVE_POINTS)).round().astype(int).tolist()))
    return {"fixes": [curve["fixes"][i] for i in keep], "accuracy": [curve["accuracy"][i] for i in keep],
            "target_accuracy": curve["target_accuracy"], "fraction_fixes": curve["fraction_fixes"]}


def _task(problem: DebugProblem, task_id: str) -> DebugTask:
    try:
        return problem.tasks[task_id]
    except KeyError:
        raise DataError(f"unknown task {task_id!r} (tasks: {', '.join(problem.tasks)})") from None


# --- submissions -----------------------------------------------------------------------------------
def _parse_ranking(data: bytes, name: str, task: DebugTask) -> np.ndarray:
    text = decode_text(data, name)
    n = task.size
    if name.lower().endswith(".csv"):
        rows = read_csv(text, name, ["id", "priority"])
        by_name = {filename: row for row, filename in enumerate(task.filenames)}
        use_names = bool(rows) and all(values["id"] in by_name for _, values in rows)
        entries = []
        for line, values in rows:
            where = f"{name}, line {line}"
            row = by_name[values["id"]] if use_names else parse_int(values["id"], f"{where} (id: a row index or filename)")
            entries.append((line, row, parse_float(values["priority"], where + " (priority)")))
    else:
        entries = [(line, parse_int(value.strip(), f"{name}, line {line} (a 0-based row index)"), 0.0)
                   for line, value in enumerate(text.splitlines(), 1) if value.strip()]
    for line, row, _ in entries:
        if not 0 <= row < n:
            raise SubmissionError(f"{name}, line {line}: row index {row} is out of range 0..{n - 1}")
    check_ids([(line, row) for line, row, _ in entries], set(range(n)), name, what="row index", complete=True)
    # higher priority first; equal priorities keep file order (stable sort)
    order = sorted(range(len(entries)), key=lambda k: -entries[k][2])
    return np.array([entries[k][1] for k in order], dtype=np.int64)


@register
class Debugging(BenchmarkType):
    slug = "debugging"
    title = "Data debugging (training-set cleaning)"
    kind = "debugging"
    metrics = (Metric("fraction_fixes", "Fraction of fixes to reach 95% of clean accuracy", higher_is_better=False),)
    primary_metric = "fraction_fixes"
    hidden_patterns = ("embeddings/*_test_*.parquet", "data/*")
    submission_suffixes = (".txt", ".csv", ".zip")
    background_key = "curves"
    default_config = {
        "tasks": [],                 # data_ids to score; empty = every *_train_* file found
        # DataPerf's own model (issue 10: the official procedure by default); knn is a fast
        # stand-in, not DataPerf's model (also logreg | random_forest)
        "model": TORCH_MODEL,
        "n_neighbors": KNN_NEIGHBORS,
        "target_ratio": 0.95,
        "torch_threads": 1,          # 1 thread: identical numbers, and far faster on a shared box
    }
    config_help = {
        "tasks": "comma-separated data_ids to score (default: every train file found)",
        "model": f"the fixed model: {TORCH_MODEL} (DataPerf's own, needs torch) or knn (a fast stand-in, "
                 "not DataPerf's model); also logreg, random_forest",
        "n_neighbors": "k of the knn model",
        "target_ratio": "fraction of the clean accuracy to reach",
        "torch_threads": f"torch threads of the {TORCH_MODEL} model (same numbers)",
    }

    def required_libraries(self, config: dict[str, Any]) -> dict[str, str]:
        if config.get("model") == TORCH_MODEL:
            return {"torch": f"its model {TORCH_MODEL} (DataPerf's own); keep it in an environment with torch "
                             "(current), or set model to knn (the fast stand-in), logreg or random_forest"}
        return {}

    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> DebugProblem:
        data_dir = Path(data_dir)
        found: dict[str, Path] = {}
        for path in sorted((data_dir / "embeddings").glob("*_train_*.parquet")):
            match = TRAIN_FILE.match(path.name)
            if not match:
                continue
            if match["id"] in found:
                raise DataError(f"task {match['id']}: several train files ({found[match['id']].name}, {path.name})")
            found[match["id"]] = path
        wanted = list(config["tasks"]) or sorted(found)
        if not wanted:
            raise DataError(f"{data_dir}: no embeddings/<data_id>_train_<noise>_<size>.parquet files")
        missing = [data_id for data_id in wanted if data_id not in found]
        if missing:
            raise DataError(f"no train file for task(s) {', '.join(missing)} in {data_dir / 'embeddings'}")
        tasks = {data_id: _load_task(data_dir, data_id, found[data_id]) for data_id in wanted}
        return DebugProblem(data_dir, tasks)

    def load_submission(self, problem: DebugProblem, path: Path, config: dict[str, Any]) -> DebugSolution:
        path = Path(path)
        files = collect_files(path, (".txt", ".csv"))
        files = {name: data for name, data in files.items() if not name.lower().startswith("time")}
        tasks = problem.tasks
        assigned: dict[str, str] = {}
        single = not path.is_dir() and path.suffix.lower() != ".zip"
        if single:
            if not files:
                raise SubmissionError(f"{path.name}: expected a .txt ranking, a .csv (id,priority) or a .zip")
            if len(tasks) > 1:
                raise SubmissionError(f"this benchmark has {len(tasks)} tasks ({', '.join(tasks)}): upload a .zip "
                                      "with one ranking per task named <data_id>.txt")
            assigned[next(iter(tasks))] = path.name
        elif len(tasks) == 1 and len(files) == 1:
            assigned[next(iter(tasks))] = next(iter(files))
        else:
            for name in files:
                stem = name.rsplit(".", 1)[0]
                data_id = stem if stem in tasks else stem.split("_", 1)[0]
                if data_id not in tasks:
                    raise SubmissionError(f"{name}: no task {shorten(data_id)}; name files <data_id>.txt or "
                                          f"<data_id>_<method>.txt (tasks: {', '.join(tasks)})")
                if data_id in assigned:
                    raise SubmissionError(f"two rankings for task {data_id}: {assigned[data_id]} and {name}")
                assigned[data_id] = name
            missing = [data_id for data_id in tasks if data_id not in assigned]
            if missing:
                raise SubmissionError(f"{path.name}: no ranking for task(s) {', '.join(missing)}")
        rankings = {data_id: _parse_ranking(files[assigned[data_id]], assigned[data_id], tasks[data_id])
                    for data_id in tasks}
        return DebugSolution(rankings, assigned)

    # Tasks are independent: the platform may run evaluate_task per task on several workers, then combine.
    def task_ids(self, problem: DebugProblem) -> list[str]:
        return list(problem.tasks)

    def evaluate_task(self, problem: DebugProblem, solution: DebugSolution, task_id: str, config: dict[str, Any],
                      progress: ProgressCallback = no_progress) -> dict[str, Any]:
        task = _task(problem, task_id)
        scorer = get_scorer(task, config)
        progress(0.0, f"task {task_id}: accuracy of the clean and noisy training sets")
        clean, noisy = scorer.cached("clean"), scorer.cached("noisy")
        target = config["target_ratio"] * clean   # the last step fixes every row: the clean set
        trainings_before = scorer.trainings
        ranking = solution.rankings[task_id]
        index, reached = len(ranking) - 1, clean
        for step, value in enumerate(scorer.steps(ranking)):
            if value >= target:
                index, reached = step, value
                break
            if step % 10 == 0:
                progress(step / len(ranking), f"task {task_id}: {step + 1} fixes, accuracy {value:.2f}")
        progress(1.0, f"task {task_id}: done")
        return {
            "task": task_id,
            "fraction_fixes": index / len(ranking),
            "target_index": index,
            "train_size": len(ranking),
            "target_accuracy": target,
            "accuracy_at_target": reached,
            "noisy_accuracy": noisy,
            "clean_accuracy": clean,
            "accuracy_gap": round(clean - noisy, 4),
            "trainings": scorer.trainings - trainings_before,
            "model": config["model"],
        }

    def combine(self, task_results: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]) -> Result:
        results = list(task_results.values()) if isinstance(task_results, Mapping) else list(task_results)
        if not results:
            raise DataError("no task results to combine")

        def mean(key):
            return float(np.mean([result[key] for result in results]))

        return Result(
            scores={"fraction_fixes": mean("fraction_fixes")},
            details={
                "tasks": {result["task"]: dict(result) for result in results},
                "noisy_accuracy": mean("noisy_accuracy"),
                "clean_accuracy": mean("clean_accuracy"),
                "accuracy_gap": mean("accuracy_gap"),
                "model": results[0]["model"],
            },
        )

    def background_details(self, problem: DebugProblem, solution: DebugSolution, config: dict[str, Any],
                           progress: ProgressCallback = no_progress) -> dict[str, Any]:
        """Accuracy-vs-inspections curves of the submission, a random order and the oracle, per task.

        Downsampled to at most CURVE_POINTS points: a full-resolution curve would show which single
        fix changed the accuracy, i.e. which rows were mislabelled."""
        curves = {}
        task_ids = self.task_ids(problem)
        for position, task_id in enumerate(task_ids):
            progress(position / len(task_ids), f"curves for task {task_id}")
            curves[task_id] = {
                name: _downsample(curve) for name, curve in (
                    ("submission", full_curve(problem, solution, task_id, config)),
                    ("random", random_curve(problem, task_id, config, seed=0)),
                    ("oracle", oracle_curve(problem, task_id, config)),
                )
            }
        return {"curves": curves}

    def data_summary(self, problem: DebugProblem, config: dict[str, Any]) -> dict[str, Any]:
        """Per task: training-set size and the fixed model's accuracy with noisy vs clean labels."""
        tasks = {}
        for task_id in self.task_ids(problem):
            task = _task(problem, task_id)
            scorer = get_scorer(task, config)
            noisy, clean = scorer.cached("noisy"), scorer.cached("clean")
            tasks[task_id] = {"train_size": task.size, "noisy_accuracy": noisy, "clean_accuracy": clean,
                              "accuracy_gap": round(clean - noisy, 4)}
        return {"model": config["model"], "tasks": tasks}

    def evaluate(self, problem: DebugProblem, solution: DebugSolution, config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        task_ids = self.task_ids(problem)
        results = []
        for position, task_id in enumerate(task_ids):
            def task_progress(fraction, message, position=position):
                progress((position + fraction) / len(task_ids), message)
            results.append(self.evaluate_task(problem, solution, task_id, config, task_progress))
        return self.combine(results)
