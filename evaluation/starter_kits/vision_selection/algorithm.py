"""Your training-set selection algorithm for the DataPerf vision selection benchmark.

Implement ``select``. For each concept (Cupcake, Hawk, Sushi, ...) it labels at most
``max_train_size`` images of the unlabeled candidate pool as positive (1) or negative (0). The fixed
model, a logistic regression on the 256-d image embeddings, is trained on those labels and scored
by F1 on a hidden test set.

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the labels you submitted. Keep it deterministic.

``baselines.py`` (next to this file) holds the platform's baselines, the ones posted as baseline
rows on the leaderboards; read it for their ideas and references. Pick one with ``BASELINE`` or
replace the body of ``select`` with your own method.
"""
from __future__ import annotations

import numpy as np

import baselines

# "k-center": positives = the examples + k-center greedy among example-like images, negatives =
#             k-center greedy (farthest-point traversal) over the rest of the pool;
# "random": a random sample of the pool, each image labelled by its similarity to the nearest example.
BASELINE = "k-center"


def select(pool_ids: list[str], pool_embeddings: np.ndarray, examples: dict[str, list[str]],
           max_train_size: int, seed: int = 0) -> dict[str, dict[str, int]]:
    """Return ``{concept: {ImageID: 0 | 1}}`` with at most ``max_train_size`` images per concept.

    ``pool_ids[i]`` is the ImageID of row ``i`` of ``pool_embeddings`` (n x 256); ``examples``
    maps each concept to a few ImageIDs known to show it.
    """
    if BASELINE == "random":
        return baselines.random_selection(pool_ids, pool_embeddings, examples, max_train_size, seed)
    return baselines.kcenter_selection(pool_ids, pool_embeddings, examples, max_train_size, seed)
