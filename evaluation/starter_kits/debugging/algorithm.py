"""Your data-debugging algorithm for the DataPerf training-set cleaning benchmark.

Implement ``rank``. A noisy training set (some labels flipped) is given with a small clean
validation set; return the order in which the training labels should be inspected and fixed, most
suspicious first. The platform fixes the labels in your order, retrains a fixed classifier after
each fix and scores how early the accuracy gets close to that of the fully cleaned set (the
fraction of fixes needed: lower is better).

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the rankings you submitted. Keep it deterministic.

``baselines.py`` (next to this file) holds the platform's baselines, the ones posted as baseline
rows on the leaderboards; read it for their ideas and references. Pick one with ``BASELINE`` or
replace the body of ``rank`` with your own method.
"""
from __future__ import annotations

import numpy as np

import baselines

# "knn-shapley": exact K-nearest-neighbour Shapley values on the validation set (Jia et al. 2019),
#                lowest value first;
# "confident-learning": label issues found by confident learning (Northcutt et al. 2021) first;
# "self-confidence": lowest out-of-fold probability of the given label first;
# "random": a seeded permutation.
BASELINE = "knn-shapley"


def rank(train_X: np.ndarray, train_y: np.ndarray, val_X: np.ndarray, val_y: np.ndarray,
         seed: int = 0) -> list[int]:
    """Return every training row index (0-based) once, the row to fix first at the front."""
    if BASELINE == "confident-learning":
        order = baselines.confident_learning_ranking(train_X, train_y, seed)
    elif BASELINE == "self-confidence":
        order = baselines.self_confidence_ranking(train_X, train_y, seed)
    elif BASELINE == "random":
        order = baselines.random_ranking(len(train_y), seed)
    else:
        order = baselines.knn_shapley_ranking(train_X, train_y, val_X, val_y, k=5)
    return [int(i) for i in order]
