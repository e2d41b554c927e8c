"""Your training-set selection algorithm for the DataPerf speech (keyword spotting) benchmark.

Implement ``select``. It receives the candidate clips with their embeddings and returns which clip
ids make up the training set of at most ``train_size`` clips. The fixed model trained on your
selection is an ensemble of an SVM and a logistic regression on the 1024-d MSWC embeddings,
scored by macro F1 over the target words plus "nontarget".

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the training set you submitted. Keep it deterministic
(fixed seeds, no dependence on set iteration order or on the clock).

``baselines.py`` (next to this file) holds the platform's baselines, the ones posted as baseline
rows on the leaderboards; read it for their ideas and references. Pick one with ``BASELINE`` or
replace the body of ``select`` with your own method.
"""
from __future__ import annotations

import baselines

# "random": DataPerf's random_selection.py (train_size // (words + 1) clips per class), with the rest
#           of the budget spent on nontargets;
# "cross-validation": DataPerf's cross-validation baseline (best of 5 x 5 candidate training sets);
# "k-center": diversity - k-center greedy (farthest-point traversal) inside each class.
BASELINE = "random"


def select(allowed_embeddings: dict, train_size: int, seed: int = 0) -> dict:
    """Choose the training set.

    ``allowed_embeddings`` has the shape the DataPerf ``TrainingSetSelection`` class receives::

        {"targets": {word: [{"ID": clip_id, "feature_vector": np.ndarray(1024)}, ...], ...},
         "nontargets": [{"ID": clip_id, "feature_vector": np.ndarray(1024)}, ...]}

    Return the submission JSON shape, with every target word as a key (even with an empty list:
    the scorer numbers the classes from the sorted keys)::

        {"targets": {word: [clip_id, ...], ...}, "nontargets": [clip_id, ...]}
    """
    if BASELINE == "cross-validation":
        return baselines.crossval_selection(allowed_embeddings, train_size, seed)
    if BASELINE == "k-center":
        return baselines.kcenter_selection(allowed_embeddings, train_size, seed)
    return baselines.random_selection(allowed_embeddings, train_size, seed, fill_budget=True)
