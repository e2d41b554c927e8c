"""Your training-set creation algorithm for the DataPerf training-set benchmark.

Implement ``build``. The platform trains a fixed model suite on the rows (and labels) you return and
scores the suite's mean accuracy on a hidden test set (higher is better). The pool's given labels
are noisy; you may relabel rows and repeat them, up to ``max_train_size`` rows in all.

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the file you submitted. Keep it deterministic.

``baselines.py`` (next to this file) holds the platform's baselines, the ones posted as baseline
rows on the leaderboards; read it for their ideas and references. Pick one with ``BASELINE`` or
replace the body of ``build`` with your own method.
"""
from __future__ import annotations

import numpy as np

import baselines

# "confident-learning": drop the rows confident learning flags as mislabelled (Northcutt et al. 2021),
#                       then a seeded random subset if more than max_train_size remain;
# "random": a seeded random subset of the pool with its given labels.
BASELINE = "confident-learning"


def build(ids: list[str], X: np.ndarray, y: np.ndarray, max_train_size: int,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, labels): indices into the pool (repeats allowed) and one integer label each,
    at most ``max_train_size`` rows. ``X`` holds the pool's embeddings, ``y`` its given labels."""
    if BASELINE == "random":
        rows = baselines.random_subset(len(ids), max_train_size, seed)
        return rows, y[rows]
    with baselines._single_threaded():  # small fits: one BLAS thread is faster and reproducible
        return baselines.cleaned_subset(X, y, max_train_size, seed=seed)
