"""Your training-set selection algorithm for the DataPerf vision selection benchmark.

Implement ``select``. For each concept (Cupcake, Hawk, Sushi, ...) it labels at most
``max_train_size`` images of the unlabeled candidate pool as positive (1) or negative (0). The fixed
model, a logistic regression on the 256-d image embeddings, is trained on those labels and scored
by F1 on a hidden test set.

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the labels you submitted. Keep it deterministic.
"""
from __future__ import annotations

import numpy as np


def select(pool_ids: list[str], pool_embeddings: np.ndarray, examples: dict[str, list[str]],
           max_train_size: int, seed: int = 0) -> dict[str, dict[str, int]]:
    """Return ``{concept: {ImageID: 0 | 1}}`` with at most ``max_train_size`` images per concept.

    ``pool_ids[i]`` is the ImageID of row ``i`` of ``pool_embeddings`` (n x 256); ``examples``
    maps each concept to a few ImageIDs known to show it.

    Baseline (nearest neighbours): the images most similar (cosine) to the mean embedding of the
    examples are positives (a tenth of the budget, at least the examples themselves); the rest of
    the budget is a seeded random sample of the least similar half of the pool, labelled negative.
    """
    rng = np.random.default_rng(seed)
    vectors = np.asarray(pool_embeddings, dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row_of: dict[str, int] = {}
    for row, image_id in enumerate(pool_ids):
        row_of.setdefault(image_id, row)
    result: dict[str, dict[str, int]] = {}
    for concept in sorted(examples):
        example_rows = list(dict.fromkeys(row_of[i] for i in examples[concept] if i in row_of))
        if not example_rows:
            raise ValueError(f"none of the {concept} example images is in the candidate pool")
        centroid = vectors[example_rows].mean(axis=0)
        similarity = vectors @ (centroid / max(np.linalg.norm(centroid), 1e-12))
        order = np.argsort(-similarity, kind="stable")
        n_positive = min(max(len(example_rows), max_train_size // 10), max_train_size)
        positives = list(dict.fromkeys(example_rows + order.tolist()))[:n_positive]
        far_half = order[len(order) // 2:]
        far_half = far_half[~np.isin(far_half, positives)]
        n_negative = min(max_train_size - len(positives), len(far_half))
        negatives = rng.choice(far_half, size=n_negative, replace=False).tolist() if n_negative > 0 else []
        labels = {pool_ids[row]: 1 for row in positives}
        labels.update({pool_ids[row]: 0 for row in negatives})
        result[concept] = labels
    return result
