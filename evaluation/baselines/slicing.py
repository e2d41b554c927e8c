"""Baselines for slice discovery: find groups of examples the model fails on together.

The public ``data.parquet`` holds ``id``, ``encoding`` (embedding), ``label`` and the model's
``prediction`` (optionally ``probability``); the ground-truth slices are hidden.

* ``random_slices`` - as many random rows as the model has errors, spread over ``n_slices`` random
  slices: what chance scores.
* ``error_cluster_slices`` - the model's errors (``label != prediction``) clustered in embedding
  space with k-means (``n_slices`` clusters); correct rows stay unassigned.
* ``domino_slices`` - Domino-style error-aware mixture (Eyuboglu et al., "Domino: Discovering
  Systematic Errors with Cross-Modal Embeddings", ICLR 2022): a Gaussian mixture (diagonal
  covariances, ``n_components`` components) fitted on every row's PCA-reduced, standardised
  embedding concatenated with ``weight`` x one-hot(label) and ``weight`` x one-hot(prediction),
  so components are coherent in embedding space *and* in (label, prediction); the ``n_slices``
  components with the highest responsibility-weighted error rate (at least ``min_error_rate`` and
  ``min_size`` rows) are the slices. Rows whose most likely component is a slice are assigned to
  it, and every slice also ranks rows by their responsibility (for precision@k).

``*_baseline(public_data_dir, out_path, config, seed)`` reads only ``data.parquet`` and writes a
``.zip`` with ``assignment.csv`` (``id,slice``) and, for ``domino``, ``ranking.csv``
(``slice,id,score``).

Standalone on purpose (numpy, scikit-learn, pyarrow only).
"""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

__all__ = ["load_public", "random_slices", "error_cluster_slices", "domino_slices", "random_baseline",
           "error_clusters_baseline", "domino_baseline", "write_submission"]


# --- data -----------------------------------------------------------------------------------------
def load_public(data_dir: str | Path) -> dict[str, np.ndarray | list[str] | None]:
    """``{"ids", "X", "label", "prediction"}`` from ``data.parquet`` (label / prediction None if absent)."""
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
    return out


def _errors(label, prediction) -> np.ndarray:
    if label is None or prediction is None:
        raise ValueError("data.parquet needs label and prediction columns to find the model's errors")
    return np.asarray(label) != np.asarray(prediction)


# --- algorithms ---------------------------------------------------------------------------------------
def random_slices(n: int, n_slices: int = 5, size: int | None = None, seed: int = 0) -> np.ndarray:
    """Assignment (row -> slice number, -1 = none): ``size`` random rows (default 10 %) over ``n_slices`` slices."""
    rng = np.random.default_rng(seed)
    size = min(n, int(round(0.1 * n)) if size is None else int(size))
    assignment = np.full(n, -1, dtype=np.int64)
    rows = rng.choice(n, size=size, replace=False)
    assignment[rows] = rng.integers(0, max(1, n_slices), size=size)
    return assignment


def error_cluster_slices(X: np.ndarray, errors: np.ndarray, n_slices: int = 5, seed: int = 0) -> np.ndarray:
    """Assignment: k-means clusters of the error rows' embeddings; correct rows stay unassigned."""
    from sklearn.cluster import KMeans

    errors = np.asarray(errors, dtype=bool)
    assignment = np.full(len(errors), -1, dtype=np.int64)
    k = min(int(n_slices), int(errors.sum()))
    if k >= 1:
        assignment[errors] = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(
            np.asarray(X, np.float64)[errors])
    return assignment


def _one_hot(values: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(values, return_inverse=True)
    out = np.zeros((len(values), inverse.max() + 1 if len(values) else 0))
    out[np.arange(len(values)), inverse] = 1.0
    return out


def domino_slices(X: np.ndarray, label: np.ndarray, prediction: np.ndarray, n_slices: int = 5, seed: int = 0, *,
                  n_components: int = 24, pca_dim: int = 32, weight: float = 1.0, min_size: int = 10,
                  min_error_rate: float = 0.5) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """(assignment, {slice number: responsibility per row}) of the error-aware mixture (module docstring)."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    X = np.asarray(X, dtype=np.float64)
    label = np.asarray(label)
    prediction = np.asarray(prediction)
    n = len(X)
    errors = label != prediction
    dim = max(1, min(int(pca_dim), X.shape[1], n - 1))
    Z = PCA(n_components=dim, svd_solver="full").fit_transform(X)
    Z /= np.maximum(Z.std(axis=0), 1e-12)
    classes = np.unique(np.concatenate([label, prediction]))
    Y = (label[:, None] == classes[None, :]).astype(np.float64)
    P = (prediction[:, None] == classes[None, :]).astype(np.float64)
    features = np.hstack([Z, weight * Y, weight * P])
    m = max(1, min(int(n_components), n // max(2, min_size)))
    mixture = GaussianMixture(n_components=m, covariance_type="diag", reg_covar=1e-3, n_init=1,
                              max_iter=200, random_state=seed).fit(features)
    responsibility = mixture.predict_proba(features)                    # (n, m)
    mass = responsibility.sum(axis=0)
    error_rate = (responsibility * errors[:, None]).sum(axis=0) / np.maximum(mass, 1e-12)
    hard = responsibility.argmax(axis=1)
    sizes = np.bincount(hard, minlength=m)
    eligible = [j for j in np.argsort(-error_rate, kind="stable")
                if sizes[j] >= min_size and error_rate[j] >= min_error_rate]
    chosen = eligible[:int(n_slices)]
    assignment = np.full(n, -1, dtype=np.int64)
    scores = {}
    for number, component in enumerate(chosen):
        assignment[hard == component] = number
        scores[number] = responsibility[:, component]
    return assignment, scores


# --- files -----------------------------------------------------------------------------------------
def write_submission(ids: list[str], assignment: np.ndarray, out_path: str | Path,
                     scores: dict[int, np.ndarray] | None = None, top: int = 200) -> Path:
    """A ``.zip`` with ``assignment.csv`` (``id,slice``; slices named ``slice<k>``) and, with
    ``scores``, ``ranking.csv`` (``slice,id,score``: each slice's ``top`` highest-scoring rows)."""
    path = Path(out_path).with_suffix(".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    files = {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "slice"])
    writer.writerows((ids[row], f"slice{assignment[row]}") for row in np.flatnonzero(assignment >= 0))
    files["assignment.csv"] = buffer.getvalue()
    if scores:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["slice", "id", "score"])
        for number, values in scores.items():
            for row in np.argsort(-values, kind="stable")[:top]:
                writer.writerow((f"slice{number}", ids[row], f"{values[row]:.6g}"))
        files["ranking.csv"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
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
    return max(1, min(int(config.get("n_slices", 5)), int(config.get("max_slices", 20))))


def random_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    """As many random rows as the model has errors (10 % without predictions), ``config['n_slices']`` slices."""
    data = load_public(public_data_dir)
    n = len(data["ids"])
    size = int(_errors(data["label"], data["prediction"]).sum()) \
        if data["label"] is not None and data["prediction"] is not None else None
    return write_submission(data["ids"], random_slices(n, _n_slices(config), size, seed), out_path)


def error_clusters_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                            seed: int = 0) -> Path:
    data = load_public(public_data_dir)
    with _single_threaded():
        errors = _errors(data["label"], data["prediction"])
        assignment = error_cluster_slices(data["X"], errors, _n_slices(config), seed)
    return write_submission(data["ids"], assignment, out_path)


def domino_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    data = load_public(public_data_dir)
    _errors(data["label"], data["prediction"])
    with _single_threaded():
        assignment, scores = domino_slices(data["X"], data["label"], data["prediction"], _n_slices(config), seed)
    return write_submission(data["ids"], assignment, out_path, scores)
