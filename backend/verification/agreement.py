"""Inter-annotator agreement (plain Python, no Django).

``counts`` holds, per item, how many raters chose each category (e.g. [correct, incorrect, flag]).
Only items with at least two ratings carry agreement information; the others are ignored. With
varying numbers of raters per item, Fleiss' kappa uses the usual per-item agreement
P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1)) and category shares p_j over all ratings.
"""
from __future__ import annotations

from typing import Sequence


def _rated(counts: Sequence[Sequence[int]]) -> list[Sequence[int]]:
    return [row for row in counts if sum(row) >= 2]


def pairwise_agreement(counts: Sequence[Sequence[int]]) -> float | None:
    """Mean over items of the share of rater pairs that agree (None without any item rated twice)."""
    rows = _rated(counts)
    if not rows:
        return None
    per_item = [sum(c * (c - 1) for c in row) / (sum(row) * (sum(row) - 1)) for row in rows]
    return sum(per_item) / len(per_item)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa; None without data, 1.0 when every rating falls in one category."""
    rows = _rated(counts)
    if not rows:
        return None
    observed = pairwise_agreement(rows)
    total = sum(sum(row) for row in rows)
    shares = [sum(row[j] for row in rows) / total for j in range(len(rows[0]))]
    expected = sum(p * p for p in shares)
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)
