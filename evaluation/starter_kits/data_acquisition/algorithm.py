"""Your purchase plan for the DataPerf data-acquisition benchmark (DAM).

Implement ``plan``. A market of sellers publishes, per seller, its pool size, its price per row, its
class counts, feature means/stds and a few labelled sample rows; you hold a small labelled
validation set and a budget. Say how many rows to buy from each seller. The platform draws that
many rows from each seller's hidden pool with several fixed seeds, trains its fixed model (logistic
regression) on what you bought and scores the test accuracy; the mean over the seeds is your score
(higher is better). A plan over the budget, or asking a seller for more rows than it has, is refused.

You may use the Python standard library, numpy, scipy, scikit-learn, pandas, pyarrow and PyYAML:
in the closed division the platform re-runs this code offline in a sandbox with only those
packages, and checks that it reproduces the plan you submitted. Keep it deterministic.

``baselines.py`` (next to this file) holds the platform's baselines, posted as baseline rows on the
leaderboards; pick one with ``BASELINE`` or replace the body of ``plan`` with your own method.
"""
from __future__ import annotations

import numpy as np

import baselines

# "validation-value": each seller's samples checked against a model of your validation set, budget
#                     spent by marginal value per price;
# "greedy-summary": balanced, cheap sellers first (summaries only);
# "uniform": the budget split equally; "random": a seeded random split.
BASELINE = "validation-value"


def plan(market: dict, X_val: np.ndarray, y_val: np.ndarray,
         samples: dict[str, tuple[np.ndarray, np.ndarray]], seed: int = 0) -> dict[str, int]:
    """Return {seller_id: rows to buy}; sellers left out buy nothing.

    ``market`` is market.json (``budget``, ``sellers``: {id: {size, price, label_counts, feature_mean,
    feature_std}}); ``samples`` maps seller_id -> (sample embeddings, sample labels).
    """
    if BASELINE == "random":
        return baselines.random_plan(market, seed)
    if BASELINE == "uniform":
        return baselines.uniform_plan(market)
    if BASELINE == "greedy-summary":
        return baselines.greedy_summary_plan(market)
    return baselines.validation_value_plan(market, X_val, y_val, samples, seed)
