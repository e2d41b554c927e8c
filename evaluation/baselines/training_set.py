"""Baselines for training-set creation: choose (and label) at most ``max_train_size`` pool rows.

The public ``pool.parquet`` holds ``id``, ``encoding`` and the given (possibly noisy) ``label``.

* ``random_subset`` - a seeded random subset of ``min(max_train_size, pool size)`` rows with their
  given labels.
* ``cleaned_subset`` - confident learning on the pool (Northcutt, Jiang & Chuang, JAIR 2021;
  native implementation, the same as ``debugging.py``'s): out-of-fold probabilities of a
  standardised logistic regression, per-class thresholds = mean self-confidence of each given
  class, rows whose confident label differs from the given label are label issues. ``mode="drop"``
  (default) removes them; ``mode="relabel"`` keeps them with their confident label. If more rows
  remain than the cap allows, a seeded random subset of them is taken (keeping only the most
  self-confident rows instead was measured worse: it loses the examples near the class borders).

``*_baseline(public_data_dir, out_path, config, seed)`` reads only ``pool.parquet`` and writes an
``id,label`` CSV.

Standalone on purpose (numpy, scikit-learn, pyarrow only).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

__all__ = ["load_pool", "random_subset", "out_of_fold_probabilities", "confident_learning", "cleaned_subset",
           "random_baseline", "confident_learning_baseline", "write_submission"]


def load_pool(data_dir: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    table = pq.read_table(Path(data_dir) / "pool.parquet", columns=["id", "encoding", "label"])
    column = table.column("encoding").combine_chunks()
    X = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), -1)
    return [str(i) for i in table.column("id").to_pylist()], X, np.asarray(table.column("label").to_numpy(), np.int64)


def random_subset(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``min(size, n)`` distinct rows in random order."""
    return np.random.default_rng(seed).permutation(int(n))[:max(0, min(int(size), int(n)))]


# --- confident learning (same algorithm as debugging.py; this file must stand alone) ---------------
def out_of_fold_probabilities(X: np.ndarray, y: np.ndarray, seed: int = 0, n_folds: int = 5,
                              C: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (n, k), labels encoded as indices into ``np.unique(y)``), cross-validated."""
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


def confident_learning(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(issue mask, confident label per row; -1 = no class above its threshold)."""
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


def cleaned_subset(X: np.ndarray, y: np.ndarray, size: int, seed: int = 0, mode: str = "drop",
                   n_folds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(rows, labels) of the cleaned pool: label issues dropped (or relabelled), then at most ``size``
    of the remaining rows in seeded random order."""
    y = np.asarray(y).ravel()
    classes = np.unique(y)
    probabilities, encoded = out_of_fold_probabilities(X, y, seed, n_folds)
    issues, confident = confident_learning(probabilities, encoded)
    labels = y.copy()
    if mode == "relabel":
        labels[issues] = classes[confident[issues]]
        keep = np.arange(len(y))
    elif mode == "drop":
        keep = np.flatnonzero(~issues)
    else:
        raise ValueError(f"unknown mode {mode!r} (drop, relabel)")
    order = keep[np.random.default_rng(seed).permutation(len(keep))][:max(0, int(size))]
    return order, labels[order]


# --- files -----------------------------------------------------------------------------------------
def write_submission(ids: list[str], rows: np.ndarray, labels: np.ndarray, out_path: str | Path) -> Path:
    path = Path(out_path).with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id,label\n" + "".join(f"{ids[row]},{int(label)}\n" for row, label in zip(rows, labels)))
    return path


def _single_threaded():
    """Limit BLAS/OpenMP pools to one thread: the models here are small and threaded BLAS made
    the fits 10-30x slower on a busy 2-core machine (results are unchanged)."""
    try:
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency
    except ImportError:  # pragma: no cover
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


def random_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    ids, _, y = load_pool(public_data_dir)
    rows = random_subset(len(ids), int((config or {}).get("max_train_size", 1000)), seed)
    return write_submission(ids, rows, y[rows], out_path)


def confident_learning_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                                seed: int = 0) -> Path:
    """Confident-learning-cleaned pool within ``max_train_size``; ``config['cleaning_mode']`` drop | relabel."""
    config = config or {}
    ids, X, y = load_pool(public_data_dir)
    with _single_threaded():
        rows, labels = cleaned_subset(X, y, int(config.get("max_train_size", 1000)), seed,
                                      mode=str(config.get("cleaning_mode", "drop")))
    return write_submission(ids, rows, labels, out_path)
