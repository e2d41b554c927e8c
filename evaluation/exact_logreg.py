"""``LogisticRegression(random_state=0)`` (binary, scikit-learn defaults) and binary metrics, bit for bit,
without importing scikit-learn.

Why: ``import sklearn`` costs ~1 s of CPU (it imports pandas and scipy.stats), which was half of a cold
``python -m evaluation score vision-selection``. Only the lbfgs objective is re-stated here; the
optimiser is the same ``scipy.optimize.minimize(method="L-BFGS-B")`` call with the same options that
scikit-learn's ``_logistic_regression_path`` makes, so identical objective values and gradients give
an identical fit. The objective is ``LinearModelLoss(HalfBinomialLoss()).loss_gradient`` operation by
operation: the same numpy expressions (same BLAS calls, same order), and the per-sample Cython
``closs_grad_half_binomial`` with the C library's ``exp``/``log1p`` (through ``math``, not numpy's
SIMD versions, which may differ in the last bit).

Scope: the pinned scikit-learn (``PINNED_SKLEARN``), 2-d float64 C-contiguous X, labels 0/1 with both
present, C=1, tol=1e-4, max_iter=100, no sample weights. ``fit_predict`` falls back to scikit-learn itself
for any other installed version. ``tests/evaluation/test_exact_logreg.py`` asserts identical
coefficients, predictions and metrics against scikit-learn on many generated problems.
"""
from __future__ import annotations

import math
from importlib import metadata

import numpy as np

PINNED_SKLEARN = "1.8.0"  # the version whose lbfgs path, loss and metrics are re-stated here
C, TOL, MAX_ITER = 1.0, 1e-4, 100

_exp = np.frompyfunc(math.exp, 1, 1)
_log1p = np.frompyfunc(math.log1p, 1, 1)


def _libm(function, values: np.ndarray) -> np.ndarray:
    return function(values).astype(np.float64) if values.size else values.copy()


def _pointwise(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``closs_grad_half_binomial`` (sklearn/_loss/_loss.pyx.tp) for every sample."""
    loss = np.empty_like(raw)
    grad = np.empty_like(raw)
    le37, le2, le18 = raw <= -37, raw <= -2, raw <= 18
    a = le37                       # raw <= -37
    b = ~le37 & le2                # -37 < raw <= -2
    c = ~le2 & le18                # -2 < raw <= 18
    d = ~le18                      # raw > 18 (and NaN, like the C else-branch)
    if a.any():
        r, t = raw[a], y[a]
        e = _libm(_exp, r)
        loss[a] = e - t * r
        grad[a] = e - t
    if b.any():
        r, t = raw[b], y[b]
        e = _libm(_exp, r)
        loss[b] = _libm(_log1p, e) - t * r
        grad[b] = ((1 - t) * e - t) / (1 + e)
    if c.any():
        r, t = raw[c], y[c]
        e = _libm(_exp, -r)
        loss[c] = _libm(_log1p, e) + (1 - t) * r
        grad[c] = ((1 - t) - t * e) / (1 + e)
    if d.any():
        r, t = raw[d], y[d]
        e = _libm(_exp, -r)
        loss[d] = e + (1 - t) * r
        grad[d] = ((1 - t) - t * e) / (1 + e)
    return loss, grad


def loss_gradient(coef: np.ndarray, X: np.ndarray, y: np.ndarray, sample_weight, l2_reg_strength: float,
                  n_threads: int = 1) -> tuple[float, np.ndarray]:
    """``LinearModelLoss(HalfBinomialLoss(), fit_intercept=True).loss_gradient`` (sample_weight None)."""
    n_samples, n_features = X.shape
    weights, intercept = coef[:-1], coef[-1]
    raw_prediction = X @ weights + intercept
    loss, grad_pointwise = _pointwise(y, raw_prediction)
    sw_sum = n_samples
    loss = loss.sum() / sw_sum
    loss += 0.5 * l2_reg_strength * (weights @ weights)
    grad_pointwise /= sw_sum
    grad = np.empty_like(coef, dtype=weights.dtype)
    grad[:n_features] = X.T @ grad_pointwise + l2_reg_strength * weights
    grad[-1] = grad_pointwise.sum()
    return loss, grad


class BinaryLogisticRegression:
    """Fitted like ``LogisticRegression(random_state=0).fit(X, y)`` for y in {0, 1}: ``coef_`` (1, d),
    ``intercept_`` (1,), ``classes_`` [0, 1], ``n_iter_``."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> "BinaryLogisticRegression":
        from scipy import optimize

        X = np.ascontiguousarray(X, dtype=np.float64)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError("BinaryLogisticRegression needs exactly two classes")
        n_samples, n_features = X.shape
        w0 = np.zeros(n_features + 1, dtype=X.dtype)
        mask = y == self.classes_[1]
        y_bin = np.ones(y.shape, dtype=X.dtype)
        y_bin[~mask] = 0.0
        sw_sum = n_samples
        l2_reg_strength = 1.0 / (C * sw_sum)
        result = optimize.minimize(
            loss_gradient, w0, method="L-BFGS-B", jac=True,
            args=(X, y_bin, None, l2_reg_strength, 1),
            options={"maxiter": MAX_ITER, "maxls": 50, "gtol": TOL, "ftol": 64 * np.finfo(float).eps},
        )
        self.n_iter_ = np.asarray([min(result.nit, MAX_ITER)], dtype=np.int32)
        coef = result.x
        self.intercept_ = coef[-1:]
        self.coef_ = coef[:-1][None, :]
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        scores = X @ self.coef_.T + self.intercept_
        return scores.reshape(-1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        indices = (self.decision_function(X) > 0).astype(np.intp)
        return np.take(self.classes_, indices, axis=0)


def binary_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """accuracy_score and precision/recall/f1_score(pos_label=1), zero_division -> 0.0, as scikit-learn."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(y_true)
    true_pos = int(np.sum((y_true == 1) & (y_pred == 1)))
    pred_sum = int(np.sum(y_pred == 1))
    true_sum = int(np.sum(y_true == 1))
    correct = int(np.sum(y_true == y_pred))
    accuracy = float(np.float64(correct) / n)
    precision = float(np.float64(true_pos) / pred_sum) if pred_sum else 0.0
    recall = float(np.float64(true_pos) / true_sum) if true_sum else 0.0
    denominator = true_sum + pred_sum  # f1 = (1 + 1) tp / (1 * true_sum + pred_sum)
    f1 = float(np.float64(2 * true_pos) / denominator) if denominator else 0.0
    return {"accuracy": accuracy, "recall": recall, "precision": precision, "f1": f1}


def available() -> bool:
    """True when the installed scikit-learn is the one re-stated here (else use scikit-learn itself)."""
    try:
        return metadata.version("scikit-learn") == PINNED_SKLEARN
    except metadata.PackageNotFoundError:
        return False
