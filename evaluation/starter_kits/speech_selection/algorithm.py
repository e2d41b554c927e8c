"""Your training-set selection algorithm for the DataPerf speech (keyword spotting) benchmark.

Implement ``select``. It receives the candidate clips with their embeddings and returns which clip
ids make up the training set of at most ``train_size`` clips. The fixed model trained on your
selection is an ensemble of an SVM and a logistic regression on the 1024-d MSWC embeddings,
scored by macro F1 over the target words plus "nontarget".

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the training set you submitted. Keep it deterministic
(fixed seeds, no dependence on set iteration order or on the clock).
"""
from __future__ import annotations

import random


def select(allowed_embeddings: dict, train_size: int, seed: int = 0) -> dict:
    """Choose the training set.

    ``allowed_embeddings`` has the shape the DataPerf ``TrainingSetSelection`` class receives::

        {"targets": {word: [{"ID": clip_id, "feature_vector": np.ndarray(1024)}, ...], ...},
         "nontargets": [{"ID": clip_id, "feature_vector": np.ndarray(1024)}, ...]}

    Return the submission JSON shape, with every target word as a key (even with an empty list:
    the scorer numbers the classes from the sorted keys)::

        {"targets": {word: [clip_id, ...], ...}, "nontargets": [clip_id, ...]}

    Baseline: a seeded random sample of ``train_size // (words + 1)`` clips per target word, the
    rest of the budget filled with random nontarget clips.
    """
    rng = random.Random(seed)
    targets = allowed_embeddings["targets"]
    nontargets = allowed_embeddings["nontargets"]
    per_class = train_size // (len(targets) + 1)
    selection = {"targets": {}, "nontargets": []}
    for word in sorted(targets):
        samples = targets[word]
        chosen = rng.sample(samples, min(per_class, len(samples)))
        selection["targets"][word] = [sample["ID"] for sample in chosen]
    budget = train_size - sum(len(ids) for ids in selection["targets"].values())
    chosen = rng.sample(nontargets, min(budget, len(nontargets)))
    selection["nontargets"] = [sample["ID"] for sample in chosen]
    return selection
