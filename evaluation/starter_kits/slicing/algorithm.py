"""Your slice discovery algorithm for the DataPerf slicing benchmark.

Implement ``discover``. Every row's embedding, true label and the fixed model's prediction are
given; which rows form the slices the model fails on is hidden. Discover slices on the rows that
are *not* held out, then score every row (held-out ones included) for each slice you found:
higher = more likely a member (0/1 works too). The platform scores only the held-out rows: for
each hidden slice, the precision of your best slice's top-k rows (k = the hidden slice's size),
averaged over the hidden slices (higher is better). At most ``max_slices`` slices count.

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the file you submitted. Keep it deterministic.

``baselines.py`` (next to this file) holds the platform's baselines, the ones posted as baseline
rows on the leaderboards; read it for their ideas and references. Pick one with ``BASELINE`` or
replace the body of ``discover`` with your own method.
"""
from __future__ import annotations

import numpy as np

import baselines

# "error-clusters": k-means of the model's errors in embedding x label x prediction space;
# "domino": Domino-style error-aware Gaussian mixture (Eyuboglu et al. 2022), scored by responsibility;
# "random": uniform random scores.
BASELINE = "error-clusters"


def discover(X: np.ndarray, label: np.ndarray, prediction: np.ndarray, heldout: np.ndarray,
             max_slices: int = 10, seed: int = 0) -> np.ndarray:
    """Return scores of shape (number of slices, number of rows), at most ``max_slices`` slices.

    ``heldout`` is a boolean mask of the rows that are scored: fit on ``~heldout`` rows only.
    """
    if BASELINE == "domino":
        return baselines.domino_slices(X, label, prediction, max_slices, seed, heldout=heldout)
    if BASELINE == "random":
        return baselines.random_slices(len(label), max_slices, seed)
    return baselines.error_cluster_slices(X, label, prediction, max_slices, seed, heldout=heldout)
