"""Baselines for DataPerf data debugging: rank noisy training rows, most suspicious first.

* ``random_ranking`` - a seeded permutation (the reference ``create_baselines.py`` "random", seeded).
* ``self_confidence_ranking`` - out-of-fold predicted probabilities of a logistic regression
  (``StratifiedKFold``, so no row is scored by a model that saw its label); rows whose given label
  gets the lowest probability ("self-confidence") come first.
* ``confident_learning_ranking`` - confident learning (Northcutt, Jiang & Chuang, "Confident
  Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021; what cleanlab's
  ``find_label_issues(filter_by="confident_learning", rank_by="self_confidence")`` does),
  implemented natively: per-class thresholds ``t_j`` = mean out-of-fold probability of class j over
  the rows labelled j; a row's *confident label* is the most probable class among those whose
  probability reaches their threshold; rows whose confident label differs from the given label
  (the off-diagonal of the confident joint) are the label issues. Issues come first, each group
  ordered by self-confidence (then by normalised margin ``p_given - max_other``).
* ``knn_shapley_values`` / ``knn_shapley_ranking`` - exact data Shapley values of the K-nearest-
  neighbour utility (Jia et al., "Efficient Task-Specific Data Valuation for Nearest Neighbor
  Algorithms", VLDB 2019, Theorem 1), computed for every validation point at once with numpy: sort
  the training points by distance, then the recursion from the farthest point inwards
  ``s_N = 1[y_N = y_v] / N``, ``s_i = s_{i+1} + (1[y_i = y_v] - 1[y_{i+1} = y_v]) / K * min(K, i) / i``
  (with fewer training points than K, ``s_N = 1[y_N = y_v] / K``);
  values are averaged over the (public, clean) validation set. Lowest value first: those rows hurt
  the K-NN prediction of the validation points (the reference ``create_baselines.py`` ranks its
  datascope neighbour-Shapley importances ascending the same way).

``*_baseline(public_data_dir, out_path, config, seed)`` reads only public files
(``embeddings/<task>_train_*.parquet`` and ``embeddings/<task>_val_*.parquet``) and writes a ``.zip``
with one ``<task>.txt`` per task (one 0-based row index per line), the DataPerf submission format.

Standalone on purpose (numpy, scikit-learn, pyarrow only): the debugging starter kit ships this
file as ``baselines.py``.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

__all__ = ["random_ranking", "out_of_fold_probabilities", "self_confidence_ranking", "confident_learning",
           "confident_learning_ranking", "knn_shapley_values", "knn_shapley_ranking", "find_tasks", "load_task",
           "random_baseline", "self_confidence_baseline", "confident_learning_baseline", "knn_shapley_baseline",
           "write_submission"]

TRAIN_FILE = re.compile(r"^(?P<id>[^_]+)_train_(?P<noise>[^_]+)_(?P<size>\d+)\.parquet$")


# --- rankings on arrays -----------------------------------------------------------------------------
def random_ranking(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(int(n))


def out_of_fold_probabilities(X: np.ndarray, y: np.ndarray, seed: int = 0, n_folds: int = 5,
                              C: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (n, k), encoded labels (n,)) from a cross-validated, standardised logistic regression.

    Labels are encoded as indices into ``np.unique(y)``. Folds are stratified and seeded; with a
    class too small to split, every row gets the class frequencies as its probabilities.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(y).ravel()
    classes, encoded, counts = np.unique(y, return_inverse=True, return_counts=True)
    folds = min(int(n_folds), int(counts.min())) if len(classes) > 1 else 0
    if folds < 2:
        return np.tile(counts / counts.sum(), (len(y), 1)), encoded
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    probabilities = cross_val_predict(model, np.asarray(X, dtype=np.float64), encoded, method="predict_proba",
                                      cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed))
    return probabilities, encoded


def self_confidence_ranking(X: np.ndarray, y: np.ndarray, seed: int = 0, n_folds: int = 5) -> np.ndarray:
    """Rows ordered by the out-of-fold probability of their given label, lowest first (stable)."""
    probabilities, encoded = out_of_fold_probabilities(X, y, seed, n_folds)
    return np.argsort(probabilities[np.arange(len(encoded)), encoded], kind="stable")


def confident_learning(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(issue mask, confident label per row; -1 = no class above its threshold) of confident learning.

    ``labels`` are class indices into the probability columns. Thresholds ``t_j`` are the mean
    probability of class j over rows labelled j (classes without rows get threshold 1 + eps,
    i.e. are never confident).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    k = probabilities.shape[1]
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros(k)
    np.add.at(sums, labels, probabilities[np.arange(len(labels)), labels])
    thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0 + 1e-9)
    above = probabilities >= thresholds[None, :] - 1e-12
    confident = np.where(above.any(axis=1), np.argmax(np.where(above, probabilities, -np.inf), axis=1), -1)
    issues = (confident >= 0) & (confident != labels)
    return issues, confident


def _self_confidence_and_margin(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(labels))
    self_confidence = probabilities[rows, labels]
    others = probabilities.copy()
    others[rows, labels] = -np.inf
    margin = self_confidence - others.max(axis=1) if probabilities.shape[1] > 1 else self_confidence
    return self_confidence, margin


def confident_learning_ranking(X: np.ndarray, y: np.ndarray, seed: int = 0, n_folds: int = 5) -> np.ndarray:
    """Label issues found by confident learning first, then the other rows; each group by
    self-confidence (then normalised margin) ascending."""
    probabilities, encoded = out_of_fold_probabilities(X, y, seed, n_folds)
    issues, _ = confident_learning(probabilities, encoded)
    self_confidence, margin = _self_confidence_and_margin(probabilities, encoded)
    # np.lexsort: last key is the primary one
    return np.lexsort((np.arange(len(encoded)), margin, self_confidence, ~issues))


def knn_shapley_values(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                       k: int = 5, chunk: int = 256) -> np.ndarray:
    """Exact K-NN Shapley value of every training point (Jia et al. 2019, Theorem 1), mean over ``X_val``.

    Utility of a training subset S for one validation point: ``(1/K) * sum over the min(K, |S|)
    nearest points of S of 1[label = y_val]``. Distances are Euclidean; ties keep training order
    (stable sort). Vectorised over validation points (``chunk`` at a time).
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_val = np.asarray(X_val, dtype=np.float64)
    y_train = np.asarray(y_train).ravel()
    y_val = np.asarray(y_val).ravel()
    n = len(X_train)
    values = np.zeros(n)
    if n == 0 or len(X_val) == 0:
        return values
    positions = np.arange(1, n + 1, dtype=np.float64)            # 1-based rank i
    weights = np.minimum(k, positions[:-1]) / positions[:-1] / k  # for i = 1..N-1
    train_norms = np.einsum("ij,ij->i", X_train, X_train)
    for start in range(0, len(X_val), chunk):
        V = X_val[start:start + chunk]
        distances = train_norms[None, :] - 2.0 * V @ X_train.T + np.einsum("ij,ij->i", V, V)[:, None]
        order = np.argsort(distances, axis=1, kind="stable")     # (m, N) nearest first
        match = (y_train[order] == y_val[start:start + chunk, None]).astype(np.float64)
        # s_N = match_N * min(K, N) / (N K)  (= match_N / N for N >= K, Theorem 1; = match_N / K for N < K)
        # s_i = s_{i+1} + (match_i - match_{i+1}) * min(K, i) / (i K)
        steps = (match[:, :-1] - match[:, 1:]) * weights[None, :]
        sorted_values = np.empty_like(match)
        sorted_values[:, -1] = match[:, -1] * min(k, n) / (n * k)
        sorted_values[:, :-1] = sorted_values[:, -1:] + np.cumsum(steps[:, ::-1], axis=1)[:, ::-1]
        np.add.at(values, order.ravel(), sorted_values.ravel())
    return values / len(X_val)


def knn_shapley_ranking(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray | None = None,
                        y_val: np.ndarray | None = None, k: int = 5) -> np.ndarray:
    """Rows by K-NN Shapley value ascending (stable). Without a validation set, each training row is
    valued against the other rows as validation points (its own distance set aside)."""
    if X_val is not None and y_val is not None and len(y_val):
        values = knn_shapley_values(X_train, y_train, X_val, y_val, k)
    else:
        values = _leave_one_out_knn_shapley(X_train, y_train, k)
    return np.argsort(values, kind="stable")


def _leave_one_out_knn_shapley(X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Mean over validation point v = each training row of the K-NN Shapley values of the other rows."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).ravel()
    n = len(X)
    values = np.zeros(n)
    if n < 2:
        return values
    others = np.ones(n, dtype=bool)
    for v in range(n):
        others[v] = False
        part = knn_shapley_values(X[others], y[others], X[v:v + 1], y[v:v + 1], k)
        values[others] += part
        others[v] = True
    return values / n


def _single_threaded():
    """Limit BLAS/OpenMP pools to one thread: the models here are small and threaded BLAS made
    the fits 10-30x slower on a busy 2-core machine (results are unchanged)."""
    try:
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency
    except ImportError:  # pragma: no cover
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


# --- files -----------------------------------------------------------------------------------------
def find_tasks(data_dir: str | Path, tasks: list[str] | None = None) -> dict[str, tuple[Path, Path | None]]:
    """task id -> (train parquet, validation parquet or None), from the public ``embeddings/`` folder."""
    folder = Path(data_dir) / "embeddings"
    found: dict[str, tuple[Path, Path | None]] = {}
    for train in sorted(folder.glob("*_train_*.parquet")):
        match = TRAIN_FILE.match(train.name)
        if not match:
            continue
        validation = sorted(folder.glob(f"{match['id']}_val_*.parquet"))
        found[match["id"]] = (train, validation[0] if validation else None)
    wanted = list(tasks or []) or sorted(found)
    missing = [task for task in wanted if task not in found]
    if missing or not wanted:
        raise ValueError(f"no embeddings/{(missing or ['<task>'])[0]}_train_<noise>_<size>.parquet in {data_dir}")
    return {task: found[task] for task in wanted}


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(path, columns=["encoding", "label"])
    column = table.column("encoding").combine_chunks()
    X = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), -1)
    return X, np.asarray(table.column("label").to_numpy(), dtype=np.int64)


def load_task(train: Path, validation: Path | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    X, y = _read(train)
    X_val, y_val = _read(validation) if validation is not None else (None, None)
    return X, y, X_val, y_val


def write_submission(rankings: dict[str, np.ndarray], out_path: str | Path) -> Path:
    """A ``.zip`` with ``<task>.txt`` per task, one row index per line."""
    path = Path(out_path).with_suffix(".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for task, order in rankings.items():
            info = zipfile.ZipInfo(f"{task}.txt", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, "".join(f"{int(i)}\n" for i in order))
    return path


def _run(public_data_dir, out_path, config, rank) -> Path:
    tasks = find_tasks(public_data_dir, list((config or {}).get("tasks") or []))
    rankings = {}
    for task, (train, validation) in tasks.items():
        X, y, X_val, y_val = load_task(train, validation)
        with _single_threaded():
            rankings[task] = rank(X, y, X_val, y_val)
    return write_submission(rankings, out_path)


def random_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    return _run(public_data_dir, out_path, config, lambda X, y, X_val, y_val: random_ranking(len(y), seed))


def self_confidence_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                             seed: int = 0) -> Path:
    return _run(public_data_dir, out_path, config, lambda X, y, X_val, y_val: self_confidence_ranking(X, y, seed))


def confident_learning_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                                seed: int = 0) -> Path:
    return _run(public_data_dir, out_path, config, lambda X, y, X_val, y_val: confident_learning_ranking(X, y, seed))


def knn_shapley_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                         seed: int = 0) -> Path:
    """K-NN Shapley with ``K = config['n_neighbors']`` (default 5, the evaluator's k-NN); deterministic."""
    k = int((config or {}).get("n_neighbors", 5))
    return _run(public_data_dir, out_path, config,
                lambda X, y, X_val, y_val: knn_shapley_ranking(X, y, X_val, y_val, k))
