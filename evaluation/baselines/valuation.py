"""Baselines for data valuation: predict the test accuracy of the fixed model trained on A ∪ B_k.

Only A (``a.parquet``: embeddings + labels) and the unlabelled candidates
(``candidates/<id>.parquet``: embeddings) are public; B_k's labels and the test set are hidden.

* ``random_predictions`` - a seeded uniform guess in [chance, 1] per candidate (chance = 1 / the
  number of classes in A): the floor any method should beat.
* ``learning_curve_predictions`` - learning-curve extrapolation (the power law of accuracy vs
  training-set size, e.g. Hestness et al. 2017, "Deep Learning Scaling is Predictable,
  Empirically"; used to value data acquisition by Mahmood et al., CVPR 2022, "How Much More Data
  Do I Need?"):

  1. Learning curve on A: for fractions of A's training folds (stratified, seeded K-fold; sizes
     ``fractions``), fit the fixed model (same model and hyper-parameters as the scorer's
     ``config['model']``: ``logreg``, ``knn`` or ``random_forest``) and measure accuracy on the
     held-out folds (optionally per-class recalls re-weighted by estimated test class priors, a
     label-shift correction: ``priors`` in ``learning_curve_predictions``).
  2. Fit ``acc(n) = a - b * n^(-c)`` (``b >= 0``, ``a <= 1``; grid over c, least squares for a, b).
  3. For candidate B_k (labels unknown) estimate how many *effective* new examples it brings:
     ``n_eff = |A| + q_k * |B_k|`` where the quality proxy ``q_k`` in [0, 1] is the mean, over B_k's
     rows, of ``min(1, d(b, A) / median nearest-neighbour distance inside A)`` - copies of A's
     rows add nothing, rows as novel as A's own points add one example each.
  4. Predict ``acc(n_eff)``, clipped to [0, 1].

``*_baseline(public_data_dir, out_path, config, seed)`` reads only the public files and writes
``candidate_id,predicted_accuracy`` CSV.

Standalone on purpose (numpy, scikit-learn, pyarrow only).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

__all__ = ["load_public", "make_model", "random_predictions", "learning_curve", "fit_power_law",
           "novelty", "learning_curve_predictions", "random_baseline", "learning_curve_baseline",
           "write_submission"]


# --- data -----------------------------------------------------------------------------------------
def _matrix(table) -> np.ndarray:
    column = table.column("encoding").combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), -1)


def load_public(data_dir: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(X_a, y_a, {candidate_id: X_b}) from ``a.parquet`` and ``candidates/*.parquet`` (sorted by id)."""
    data_dir = Path(data_dir)
    a = pq.read_table(data_dir / "a.parquet", columns=["encoding", "label"])
    candidates = {path.stem: _matrix(pq.read_table(path, columns=["encoding"]))
                  for path in sorted((data_dir / "candidates").glob("*.parquet"))}
    return _matrix(a), np.asarray(a.column("label").to_numpy(), dtype=np.int64), candidates


def make_model(name: str, seed: int = 0):
    """The scorer's fixed models (``evaluation/models.py``), rebuilt here so this file stands alone."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    if name == "logreg":
        return LogisticRegression(max_iter=1000, random_state=seed)
    if name == "knn":
        return KNeighborsClassifier(n_neighbors=5, algorithm="brute")
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=50, random_state=seed, n_jobs=1)
    raise ValueError(f"unknown model {name!r} (logreg, knn, random_forest)")


def _fit_predict(model_name: str, X, y, X_test, seed: int) -> np.ndarray:
    classes = np.unique(y)
    if len(classes) == 1:  # as the scorer's fit_predict: a one-class training set predicts that class
        return np.full(len(X_test), classes[0])
    model = make_model(model_name, seed)
    if model_name == "knn" and len(y) < model.n_neighbors:
        model.set_params(n_neighbors=len(y))
    model.fit(np.asarray(X, np.float64), y)
    return model.predict(np.asarray(X_test, np.float64))


# --- random -----------------------------------------------------------------------------------------
def random_predictions(y_a: np.ndarray, candidate_ids: list[str], seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    chance = 1.0 / max(1, len(np.unique(y_a)))
    return {cid: float(rng.uniform(chance, 1.0)) for cid in candidate_ids}


# --- learning-curve extrapolation ----------------------------------------------------------------
def learning_curve(X: np.ndarray, y: np.ndarray, model: str = "logreg", seed: int = 0, n_folds: int = 5,
                   fractions=(0.2, 0.4, 0.7, 1.0), priors: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(training sizes, held-out accuracies) on subsamples of the training folds of (X, y).

    With ``priors`` ({class: probability}) the accuracy is the prior-weighted mean of the per-class
    held-out recalls (the accuracy on a test set with those class proportions), else plain accuracy.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() >= n_folds:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=min(n_folds, len(y)), shuffle=True, random_state=seed)
    sizes = np.zeros(len(fractions))
    hits = np.zeros((len(fractions), len(classes)))     # correct held-out predictions per class
    totals = np.zeros(len(classes))                       # held-out rows per class
    n_splits = 0
    for train, test in splitter.split(X, y):
        n_splits += 1
        totals += np.array([np.sum(y[test] == c) for c in classes])
        permutation = train[rng.permutation(len(train))]
        for i, fraction in enumerate(fractions):
            subset = permutation[:max(2, int(round(fraction * len(train))))]
            sizes[i] += len(subset)
            correct = _fit_predict(model, X[subset], y[subset], X[test], seed) == y[test]
            hits[i] += np.array([np.sum(correct & (y[test] == c)) for c in classes])
    if priors:
        weights = np.array([priors.get(int(c), 0.0) for c in classes])
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(classes), 1 / len(classes))
        accuracies = (hits / np.maximum(totals, 1)) @ weights
    else:
        accuracies = hits.sum(axis=1) / totals.sum()
    return sizes / n_splits, accuracies


def estimated_priors(X_a: np.ndarray, y_a: np.ndarray, X_pool: np.ndarray, model: str = "logreg",
                     seed: int = 0, method: str = "em", iterations: int = 100) -> dict[int, float]:
    """Class proportions of the candidates pooled together, a proxy for the population the test set
    comes from (A itself may be class-skewed).

    ``method="em"``: the EM prior adjustment of Saerens, Latinne & Decaestecker (Neural Computation
    2002) on the predicted probabilities of the model trained on A; ``"predicted"``: the frequencies
    of its predicted classes; ``"uniform"``: equal priors; ``"a"``: A's own proportions.
    """
    classes, counts = np.unique(y_a, return_counts=True)
    train_priors = counts / counts.sum()
    if method == "a" or len(X_pool) == 0 or len(classes) == 1:
        return {int(c): float(p) for c, p in zip(classes, train_priors)}
    if method == "uniform":
        return {int(c): 1.0 / len(classes) for c in classes}
    fitted = make_model(model, seed)
    if model == "knn" and len(y_a) < fitted.n_neighbors:
        fitted.set_params(n_neighbors=len(y_a))
    fitted.fit(np.asarray(X_a, np.float64), y_a)
    probabilities = fitted.predict_proba(np.asarray(X_pool, np.float64))
    if method == "predicted":
        predicted = probabilities.argmax(axis=1)
        return {int(c): float(np.mean(predicted == i)) for i, c in enumerate(classes)}
    priors = train_priors.copy()
    for _ in range(iterations):
        adjusted = probabilities * (priors / train_priors)[None, :]
        adjusted /= np.maximum(adjusted.sum(axis=1, keepdims=True), 1e-300)
        new = adjusted.mean(axis=0)
        if np.max(np.abs(new - priors)) < 1e-8:
            priors = new
            break
        priors = new
    return {int(c): float(p) for c, p in zip(classes, priors)}


def fit_power_law(sizes: np.ndarray, accuracies: np.ndarray, exponents=None) -> tuple[float, float, float]:
    """(a, b, c) of ``acc(n) = a - b * n^(-c)`` by least squares, with b >= 0 and a <= 1."""
    sizes = np.asarray(sizes, dtype=np.float64)
    accuracies = np.asarray(accuracies, dtype=np.float64)
    exponents = np.linspace(0.05, 2.0, 40) if exponents is None else exponents
    best = (float(np.mean(accuracies)), 0.0, 1.0)
    best_error = float(np.sum((accuracies - best[0]) ** 2))
    for c in exponents:
        basis = sizes ** (-c)
        design = np.column_stack([np.ones_like(basis), -basis])
        (a, b), *_ = np.linalg.lstsq(design, accuracies, rcond=None)
        if b < 0 or a > 1:
            continue
        error = float(np.sum((accuracies - (a - b * basis)) ** 2))
        if error < best_error - 1e-15:
            best, best_error = (float(a), float(b), float(c)), error
    return best


def _nearest_distances(X: np.ndarray, Y: np.ndarray, exclude_self: bool = False, chunk: int = 1024) -> np.ndarray:
    """Euclidean distance from every row of X to its nearest row of Y."""
    X = np.asarray(X, np.float64)
    Y = np.asarray(Y, np.float64)
    y_norms = np.einsum("ij,ij->i", Y, Y)
    out = np.empty(len(X))
    for start in range(0, len(X), chunk):
        block = X[start:start + chunk]
        d = np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * block @ Y.T + y_norms[None, :]
        if exclude_self:
            d[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        out[start:start + chunk] = np.sqrt(np.maximum(d.min(axis=1), 0.0))
    return out


def novelty(X_a: np.ndarray, X_b: np.ndarray) -> float:
    """Mean over B's rows of min(1, distance to A / median nearest-neighbour distance within A)."""
    if len(X_b) == 0:
        return 0.0
    if len(X_a) < 2:
        return 1.0
    scale = float(np.median(_nearest_distances(X_a, X_a, exclude_self=True)))
    if scale <= 0:
        return 1.0
    return float(np.mean(np.minimum(1.0, _nearest_distances(X_b, X_a) / scale)))


def learning_curve_predictions(X_a: np.ndarray, y_a: np.ndarray, candidates: dict[str, np.ndarray],
                               model: str = "logreg", seed: int = 0, n_folds: int = 5,
                               priors: str = "a") -> dict[str, float]:
    """Predicted accuracy of the model trained on A ∪ B_k per candidate (see the module docstring).

    ``priors`` weights the per-class held-out recalls of the learning curve (``estimated_priors``):
    ``"a"`` (default) = plain accuracy on A's held-out rows; ``"uniform"``, ``"predicted"`` and
    ``"em"`` assume the test population differs from A. On the prebuilt demo data none of the
    corrections was better on average (MAE 0.109 / 0.106 / 0.115 / 0.115 over five data sets).
    """
    pool = np.vstack(list(candidates.values())) if candidates else np.zeros((0, X_a.shape[1]))
    priors = estimated_priors(X_a, y_a, pool, model, seed, method=priors)
    sizes, accuracies = learning_curve(X_a, y_a, model, seed, n_folds, priors=priors)
    a, b, c = fit_power_law(sizes, accuracies)
    predictions = {}
    for cid, X_b in candidates.items():
        n_eff = len(y_a) + novelty(X_a, X_b) * len(X_b)
        predictions[cid] = float(np.clip(a - b * n_eff ** (-c), 0.0, 1.0))
    return predictions


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
def write_submission(predictions: dict[str, float], out_path: str | Path) -> Path:
    path = Path(out_path).with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("candidate_id,predicted_accuracy\n"
                    + "".join(f"{cid},{value:.6f}\n" for cid, value in predictions.items()))
    return path


def random_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    _, y_a, candidates = load_public(public_data_dir)
    return write_submission(random_predictions(y_a, list(candidates), seed), out_path)


def learning_curve_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                            seed: int = 0) -> Path:
    """Learning-curve extrapolation with the scorer's model (``config['model']``, default logreg);
    ``config['valuation_priors']`` picks the class-prior correction (default ``"a"``: none)."""
    X_a, y_a, candidates = load_public(public_data_dir)
    config = config or {}
    model = str(config.get("model", "logreg"))
    with _single_threaded():
        predictions = learning_curve_predictions(X_a, y_a, candidates, model, seed,
                                                 priors=str(config.get("valuation_priors", "a")))
    return write_submission(predictions, out_path)
