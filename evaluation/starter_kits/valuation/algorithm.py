"""Your data-valuation algorithm for the DataPerf valuation benchmark.

Implement ``predict``. You own a labelled set A and may buy one of several candidate sets B_k whose
labels you get only after buying; each seller publishes a small labelled sample of its rows.
Predict, for every candidate, the test accuracy of the platform's fixed model trained on A ∪ B_k.
The primary score is the Spearman rank correlation between your predictions and the actual
accuracies (higher is better; a constant prediction scores 0): what counts is putting the
candidates in the right order. The regret of buying your top-ranked candidate and the mean
absolute error are shown beside it.

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the predictions you submitted. Keep it deterministic.

``baselines.py`` (next to this file) holds the platform's baselines, the ones posted as baseline
rows on the leaderboards; read it for their ideas and references. Pick one with ``BASELINE`` or
replace the body of ``predict`` with your own method.
"""
from __future__ import annotations

import numpy as np

import baselines

# "data-quality": label noise estimated from each seller's sample, redundancy, novelty and class
#                 make-up fed into a per-class learning curve;
# "learning-curve": power-law learning curve on A, extrapolated to A plus the candidate's novel rows;
# "random": a seeded uniform guess.
BASELINE = "data-quality"


def predict(X_a: np.ndarray, y_a: np.ndarray, candidates: dict[str, np.ndarray],
            samples: dict[str, tuple[np.ndarray, np.ndarray]], model: str = "logreg",
            seed: int = 0) -> dict[str, float]:
    """Return {candidate_id: predicted accuracy in [0, 1]} for every candidate.

    ``candidates`` maps candidate_id -> its rows' embeddings; ``samples`` maps candidate_id ->
    (row positions in that candidate, their labels); ``model`` is the benchmark's fixed model.
    """
    if BASELINE == "random":
        return baselines.random_predictions(y_a, list(candidates), seed)
    with baselines._single_threaded():  # small fits: one BLAS thread is faster and reproducible
        if BASELINE == "learning-curve":
            return baselines.learning_curve_predictions(X_a, y_a, candidates, model, seed)
        return baselines.quality_predictions(X_a, y_a, candidates, samples, model, seed)
