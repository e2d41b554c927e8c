"""Your data-debugging algorithm for the DataPerf training-set cleaning benchmark.

Implement ``rank``. A noisy training set (some labels flipped) is given with a small clean
validation set; return the order in which the training labels should be inspected and fixed, most
suspicious first. The platform fixes the labels in your order, retrains a fixed classifier after
each fix and scores how early the accuracy gets close to that of the fully cleaned set (the
fraction of fixes needed: lower is better).

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the rankings you submitted. Keep it deterministic.
"""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def rank(train_X: np.ndarray, train_y: np.ndarray, val_X: np.ndarray, val_y: np.ndarray,
         seed: int = 0) -> list[int]:
    """Return every training row index (0-based) once, the row to fix first at the front.

    Baseline (self-confidence): out-of-fold probabilities of a logistic regression; the rows whose
    given label gets the lowest predicted probability come first. The validation set is unused.
    """
    y = np.asarray(train_y).ravel()
    n = len(y)
    classes, encoded, counts = np.unique(y, return_inverse=True, return_counts=True)
    folds = min(5, int(counts.min())) if len(classes) > 1 else 0
    if folds < 2:
        return list(range(n))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probabilities = cross_val_predict(model, np.asarray(train_X), encoded, method="predict_proba",
                                      cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed))
    self_confidence = probabilities[np.arange(n), encoded]
    return np.argsort(self_confidence, kind="stable").tolist()
