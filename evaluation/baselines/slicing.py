"""Baselines for slice discovery: find groups of examples the model fails on together.

The public ``data.parquet`` holds ``id``, ``encoding`` (embedding), ``label`` and the model's
``prediction`` (optionally ``probability``); ``heldout.csv`` names the held-out rows that are scored.
The ground-truth slices are hidden. Each baseline *discovers* its slices on the other rows (DCBench's
protocol) and then scores every row, held-out ones included, per slice.

* ``random_slices`` - ``n_slices`` slices of uniform random scores: what chance scores.
* ``error_cluster_slices`` - the model's errors (``label != prediction``) on the discovery rows
  clustered with k-means (``n_slices`` clusters) on the PCA-reduced, standardised embedding
  concatenated with ``weight`` x one-hot(label) and ``weight`` x one-hot(prediction) (``weight`` = 10:
  clusters follow the model's confusions first); every error row scores for its nearest cluster
  (higher when closer), correct rows score 0.
* ``domino_slices`` - Domino-style error-aware mixture (Eyuboglu et al., "Domino: Discovering
  Systematic Errors with Cross-Modal Embeddings", ICLR 2022): a Gaussian mixture (diagonal
  covariances, ``n_components`` components) fitted on the discovery rows in the same joint space,
  with ``weight`` = 1 (a one-hot weighs like one standardised embedding direction, so components
  follow the embedding first, so they can cut across classes, e.g. a voice, while staying coherent
  in (label, prediction)); the ``n_slices``
  components with the highest responsibility-weighted error rate (at least ``min_error_rate`` and
  ``min_size`` rows) are the slices, and a row's score for a slice is its responsibility.

``n_slices`` (``config['n_slices']``) defaults to the benchmark's ``max_slices``.
``*_baseline(public_data_dir, out_path, config, seed)`` reads only ``data.parquet`` and
``heldout.csv`` and writes ``<out_path>.csv``: ``id,slice0,slice1,...`` with one score per row and slice.

Standalone on purpose (numpy, scikit-learn, pyarrow only).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

__all__ = ["load_public", "random_slices", "error_cluster_slices", "domino_slices", "random_baseline",
           "error_clusters_baseline", "domino_baseline", "write_submission"]


# --- data -----------------------------------------------------------------------------------------
def load_public(data_dir: str | Path) -> dict[str, np.ndarray | list[str] | None]:
    """``{"ids", "X", "label", "prediction", "heldout"}`` from ``data.parquet`` and ``heldout.csv``
    (label / prediction None if absent; ``heldout`` a boolean mask, all False without the file)."""
    path = Path(data_dir) / "data.parquet"
    names = pq.read_schema(path).names
    table = pq.read_table(path, columns=[c for c in ("id", "encoding", "label", "prediction") if c in names])
    out: dict = {"ids": [str(i) for i in table.column("id").to_pylist()], "X": None, "label": None, "prediction": None}
    if "encoding" in names:
        column = table.column("encoding").combine_chunks()
        out["X"] = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), -1)
    for name in ("label", "prediction"):
        if name in names:
            out[name] = np.asarray(table.column(name).to_numpy(zero_copy_only=False))
    heldout_path = Path(data_dir) / "heldout.csv"
    heldout_ids = set()
    if heldout_path.is_file():
        with heldout_path.open(newline="") as handle:
            heldout_ids = {row["id"] for row in csv.DictReader(handle)}
    out["heldout"] = np.array([i in heldout_ids for i in out["ids"]], dtype=bool)
    return out


def _errors(label, prediction) -> np.ndarray:
    if label is None or prediction is None:
        raise ValueError("data.parquet needs label and prediction columns to find the model's errors")
    return np.asarray(label) != np.asarray(prediction)


def _discovery_rows(heldout: np.ndarray | None, n: int) -> np.ndarray:
    """Rows to discover slices on: the non-held-out ones (all rows when nothing is held out)."""
    if heldout is None or not np.any(heldout) or np.all(heldout):
        return np.arange(n)
    return np.flatnonzero(~np.asarray(heldout, dtype=bool))


# --- algorithms ---------------------------------------------------------------------------------------
def random_slices(n: int, n_slices: int = 10, seed: int = 0) -> np.ndarray:
    """Scores (slices x rows): uniform random numbers."""
    return np.random.default_rng(seed).random((max(1, int(n_slices)), n))


def _joint_features(X: np.ndarray, label: np.ndarray, prediction: np.ndarray, fit: np.ndarray, pca_dim: int,
                    weight: float) -> np.ndarray:
    """Standardised PCA of the embedding (fitted on ``fit`` rows) next to ``weight`` x one-hot(label) and
    ``weight`` x one-hot(prediction): rows are close when they look alike *and* share (label, prediction)."""
    from sklearn.decomposition import PCA

    X = np.asarray(X, dtype=np.float64)
    dim = max(1, min(int(pca_dim), X.shape[1], len(fit) - 1))
    Z = PCA(n_components=dim, svd_solver="full").fit(X[fit]).transform(X)
    Z /= np.maximum(Z[fit].std(axis=0), 1e-12)
    classes = np.unique(np.concatenate([label, prediction]))
    Y = (label[:, None] == classes[None, :]).astype(np.float64)
    P = (prediction[:, None] == classes[None, :]).astype(np.float64)
    return np.hstack([Z, weight * Y, weight * P])


def error_cluster_slices(X: np.ndarray, label: np.ndarray, prediction: np.ndarray, n_slices: int = 10, seed: int = 0,
                         *, heldout: np.ndarray | None = None, pca_dim: int = 32, weight: float = 10.0) -> np.ndarray:
    """Scores (slices x rows): k-means clusters of the discovery rows' errors in the joint space of
    :func:`_joint_features`; an error row scores ``1 + 1 / (1 + distance)`` for its nearest cluster
    (closer = higher), correct rows and other clusters 0."""
    from sklearn.cluster import KMeans

    label, prediction = np.asarray(label), np.asarray(prediction)
    errors = label != prediction
    fit = _discovery_rows(heldout, len(errors))
    fit_errors = fit[errors[fit]]
    k = min(int(n_slices), len(fit_errors))
    if k < 1:
        return np.zeros((1, len(errors)))
    features = _joint_features(X, label, prediction, fit, pca_dim, weight)
    kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(features[fit_errors])
    rows = np.flatnonzero(errors)
    distances = kmeans.transform(features[rows])
    nearest = distances.argmin(axis=1)
    scores = np.zeros((k, len(errors)))
    scores[nearest, rows] = 1.0 + 1.0 / (1.0 + distances[np.arange(len(rows)), nearest])
    return scores


def domino_slices(X: np.ndarray, label: np.ndarray, prediction: np.ndarray, n_slices: int = 10, seed: int = 0, *,
                  heldout: np.ndarray | None = None, n_components: int = 32, pca_dim: int = 32, weight: float = 1.0,
                  min_size: int = 5, min_error_rate: float = 0.5, n_init: int = 3) -> np.ndarray:
    """Scores (slices x rows): each chosen mixture component's responsibility (module docstring)."""
    from sklearn.mixture import GaussianMixture

    label, prediction = np.asarray(label), np.asarray(prediction)
    fit = _discovery_rows(heldout, len(label))
    errors = label != prediction
    features = _joint_features(X, label, prediction, fit, pca_dim, weight)
    m = max(1, min(int(n_components), len(fit) // max(2, min_size)))
    mixture = GaussianMixture(n_components=m, covariance_type="diag", reg_covar=1e-3, n_init=n_init,
                              max_iter=200, random_state=seed).fit(features[fit])
    responsibility = mixture.predict_proba(features)                    # (n, m)
    mass = responsibility[fit].sum(axis=0)
    error_rate = (responsibility[fit] * errors[fit, None]).sum(axis=0) / np.maximum(mass, 1e-12)
    sizes = np.bincount(responsibility[fit].argmax(axis=1), minlength=m)
    eligible = [j for j in np.argsort(-error_rate, kind="stable")
                if sizes[j] >= min_size and error_rate[j] >= min_error_rate]
    chosen = eligible[:int(n_slices)] or [int(np.argmax(error_rate))]
    return responsibility[:, chosen].T


# --- files -----------------------------------------------------------------------------------------
def write_submission(ids: list[str], scores: np.ndarray, out_path: str | Path) -> Path:
    """``<out_path>.csv``: ``id,slice0,slice1,...``, one row per id, one score column per slice."""
    path = Path(out_path).with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", *(f"slice{number}" for number in range(len(scores)))])
        for row, item in enumerate(ids):
            writer.writerow([item, *(f"{value:.6g}" for value in scores[:, row])])
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


def _n_slices(config: dict | None) -> int:
    config = config or {}
    cap = int(config.get("max_slices", 10))
    return max(1, min(int(config.get("n_slices", cap)), cap))


def random_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    """``config['n_slices']`` slices of uniform random scores."""
    data = load_public(public_data_dir)
    return write_submission(data["ids"], random_slices(len(data["ids"]), _n_slices(config), seed), out_path)


def error_clusters_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                            seed: int = 0) -> Path:
    data = load_public(public_data_dir)
    with _single_threaded():
        _errors(data["label"], data["prediction"])
        scores = error_cluster_slices(data["X"], data["label"], data["prediction"], _n_slices(config), seed,
                                      heldout=data["heldout"])
    return write_submission(data["ids"], scores, out_path)


def domino_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    data = load_public(public_data_dir)
    _errors(data["label"], data["prediction"])
    with _single_threaded():
        scores = domino_slices(data["X"], data["label"], data["prediction"], _n_slices(config), seed,
                               heldout=data["heldout"])
    return write_submission(data["ids"], scores, out_path)
