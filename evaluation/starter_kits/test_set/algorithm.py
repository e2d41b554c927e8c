"""Your candidate picker for the DataPerf test-set creation benchmark.

Implement ``propose``. An item earns credit when a majority of the platform's fixed model suite
(trained on the public reference set) mislabels it and human annotators verify the label you claim.
So pick items the suite will probably get wrong, and claim the label a person would give.

``baselines.py`` (next to this file) holds two candidate pickers; pick one with ``BASELINE`` or
replace the body of ``propose`` with your own method. Check the labels by eye before submitting.
"""
from __future__ import annotations

import numpy as np

import baselines

# "uncertain": smallest logistic-regression margin first, pre-labelled by a 5-nearest-neighbour vote;
# "random": a seeded random subset, pre-labelled the same way.
BASELINE = "uncertain"


def propose(ids: list[str], X: np.ndarray, X_ref: np.ndarray, y_ref: np.ndarray, class_names: list[str],
            max_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, labels): distinct indices into the pool and one class index (into
    ``class_names``) each, at most ``max_items``."""
    if BASELINE == "random":
        rows = baselines.random_candidates(len(ids), max_items, seed)
    else:
        rows = baselines.uncertain_candidates(X_ref, y_ref, X, max_items, seed)
    return rows, baselines.knn_labels(X_ref, y_ref, X[rows])
