"""The fixed scikit-learn models that debugging, valuation and training-set benchmarks train.

A benchmark's config names models from ``MODELS``; every model is constructed here with fixed
hyper-parameters and seeds so that a score never depends on the caller. Inputs are cast to float64.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .base import DataError

# scikit-learn is imported when a model is built, not with this module: a cold command that only
# uses the torch model (debugging) would otherwise pay ~1 s importing it.

# The default k of "knn": small, so that label noise visibly hurts it (see docs/benchmarks/debugging.md).
KNN_NEIGHBORS = 5


def _knn(seed: int, n_neighbors: int = KNN_NEIGHBORS):
    from sklearn.neighbors import KNeighborsClassifier

    # brute force: neighbour order (and tie handling) must not depend on tree heuristics
    return KNeighborsClassifier(n_neighbors=n_neighbors, algorithm="brute")


def _logreg(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000, random_state=seed)


def _random_forest(seed: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=50, random_state=seed, n_jobs=1)


MODELS: dict[str, Callable[..., object]] = {
    "logreg": _logreg,
    "knn": _knn,
    "random_forest": _random_forest,
}

SUITES: dict[str, tuple[str, ...]] = {
    "default": ("logreg", "knn", "random_forest"),
}


def check_model(name: str) -> str:
    if name not in MODELS:
        raise DataError(f"unknown model {name!r} (known: {', '.join(sorted(MODELS))})")
    return name


def resolve_suite(names: str | Sequence[str]) -> tuple[str, ...]:
    """A suite name from ``SUITES`` or a list of model names."""
    if isinstance(names, str):
        if names in SUITES:
            return SUITES[names]
        names = [names]
    if not names:
        raise DataError("the model suite is empty")
    return tuple(check_model(name) for name in names)


class ConstantModel:
    """What every model learns from a single-class training set: that class, with certainty."""

    def __init__(self, label):
        self.classes_ = np.asarray([label])

    def predict(self, X) -> np.ndarray:
        return np.full(len(X), self.classes_[0], dtype=self.classes_.dtype)

    def predict_proba(self, X) -> np.ndarray:
        return np.ones((len(X), 1))


def fit_model(name: str, X: np.ndarray, y: np.ndarray, seed: int = 0, **params):
    """Model ``name`` trained on (X, y): a fitted scikit-learn estimator, or a :class:`ConstantModel`
    for a single-class training set (LogisticRegression refuses to fit one class; a constant model is
    what every model would learn)."""
    y = np.asarray(y)
    classes = np.unique(y)
    if len(classes) == 0:
        raise DataError("cannot train a model on an empty training set")
    if len(classes) == 1:
        return ConstantModel(classes[0])
    model = MODELS[check_model(name)](seed, **params)
    if name == "knn" and len(y) < model.n_neighbors:
        # fewer rows than neighbours: use them all (sklearn would raise)
        model.set_params(n_neighbors=len(y))
    model.fit(np.asarray(X, dtype=np.float64), y)
    return model


def fit_predict(name: str, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, seed: int = 0, **params) -> np.ndarray:
    """Train model ``name`` on (X, y) and predict X_test (see :func:`fit_model`)."""
    return fit_model(name, X, y, seed, **params).predict(np.asarray(X_test, dtype=np.float64))


def accuracy(predictions: np.ndarray, y_true: np.ndarray) -> float:
    return float(np.mean(np.asarray(predictions) == np.asarray(y_true))) if len(y_true) else 0.0


def suite_accuracies(names: Sequence[str], X, y, X_test, y_test, seed: int = 0) -> dict[str, float]:
    return {name: accuracy(fit_predict(name, X, y, X_test, seed), y_test) for name in names}
