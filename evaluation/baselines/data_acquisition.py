"""Baselines for data acquisition (DataPerf 2023 "DAM"): how many rows to buy from each seller.

Public data (``market.json``: budget, per seller ``size``, ``price`` per row, ``label_counts``,
``feature_mean``/``feature_std``; ``samples/<seller>.parquet``: a few labelled rows per seller;
``validation.parquet``: the buyer's small labelled set). The sellers' pools and the test set are hidden.

* ``random_plan`` - a seeded random split of the budget (Dirichlet shares), the floor to beat.
* ``uniform_plan`` - the budget split equally over the sellers (each capped at its size).
* ``greedy_summary_plan`` - greedy on the published summaries only: rank sellers by the entropy of
  their class counts per unit price (a balanced, cheap seller first) and buy each out in that order
  until the budget is gone. Blind to label noise and domain shift, which summaries do not show.
* ``validation_value_plan`` - estimate each seller's value from its public samples against the
  buyer's validation set, then spend by marginal value per price (in the spirit of the DAM paper's
  baselines, Chen et al. 2022, "Data Acquisition: A New Frontier in Data-centric AI"):

  1. Fit the fixed model (logistic regression) on the validation set; a seller's *label support* is
     the mean probability that model gives its samples' claimed labels (label noise and domain shift
     both lower it), rescaled above chance ``(support - 1/k) / (1 - 1/k)``, clipped to [0, 1]. A
     second round refits on the validation set plus the samples of the sellers that looked good (at
     least half the best value), each seller judged by a model that has not seen its own samples.
  2. Class coverage: 1 - total variation distance between the seller's class shares
     (``label_counts``) and the validation set's; a one-class seller covers little.
  3. Value ``v = support * coverage``; sellers below half the best value are skipped.
  4. Repeats: a pool's number of distinct items ``D`` is estimated from the repeats among its samples
     (:func:`distinct_items`); ``n`` rows hold about ``D (1 - e^(-n/D))`` distinct ones, and no more
     than ``3 D`` rows are bought from it.
  5. Utility of ``n`` rows from a seller ``v * log(1 + distinct(n) / 20)`` (diminishing returns); the
     budget is spent in steps of 1 % of it, each step on the seller with the best utility gain per
     price.

``*_baseline(public_data_dir, out_path, config, seed)`` reads only the public files and writes
``seller_id,count`` CSV. Standalone on purpose (numpy, scikit-learn, pyarrow only).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq


def load_market(data_dir: str | Path) -> dict:
    return json.loads((Path(data_dir) / "market.json").read_text())


def _matrix(table) -> np.ndarray:
    column = table.column("encoding").to_pylist()
    return np.asarray(column, dtype=np.float64).reshape(len(column), -1)


def load_validation(data_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(Path(data_dir) / "validation.parquet", columns=["encoding", "label"])
    return _matrix(table), np.asarray(table.column("label").to_pylist(), np.int64)


def load_samples(data_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    samples = {}
    for path in sorted((Path(data_dir) / "samples").glob("*.parquet")):
        table = pq.read_table(path, columns=["encoding", "label"])
        samples[path.stem] = (_matrix(table), np.asarray(table.column("label").to_pylist(), np.int64))
    return samples


def affordable(market: dict, plan: dict[str, int]) -> dict[str, int]:
    """Trim the plan (last sellers first) until it fits the budget and every seller's size."""
    plan = {sid: max(0, min(int(plan.get(sid, 0)), int(info["size"]))) for sid, info in market["sellers"].items()}
    sellers = market["sellers"]
    for sid in reversed(list(plan)):
        while plan[sid] > 0 and sum(sellers[s]["price"] * n for s, n in plan.items()) > market["budget"]:
            plan[sid] -= 1
    return plan


def _spend_shares(market: dict, shares: dict[str, float]) -> dict[str, int]:
    budget = float(market["budget"])
    return affordable(market, {sid: int(math.floor(budget * share / market["sellers"][sid]["price"] + 1e-9))
                               for sid, share in shares.items()})


def random_plan(market: dict, seed: int = 0) -> dict[str, int]:
    sellers = list(market["sellers"])
    shares = np.random.default_rng(seed).dirichlet(np.ones(len(sellers)))
    return _spend_shares(market, dict(zip(sellers, shares.tolist())))


def uniform_plan(market: dict) -> dict[str, int]:
    sellers = list(market["sellers"])
    return _spend_shares(market, {sid: 1.0 / len(sellers) for sid in sellers})


def _entropy(counts: dict) -> float:
    n = np.array([float(v) for v in counts.values()], np.float64)
    p = n[n > 0] / n.sum() if n.sum() > 0 else np.ones(1)
    return float(-(p * np.log(p)).sum())


def greedy_summary_plan(market: dict) -> dict[str, int]:
    sellers = market["sellers"]
    order = sorted(sellers, key=lambda sid: (-_entropy(sellers[sid]["label_counts"]) / sellers[sid]["price"], sid))
    left, plan = float(market["budget"]), {sid: 0 for sid in sellers}
    for sid in order:
        n = min(int(sellers[sid]["size"]), int(math.floor(left / sellers[sid]["price"] + 1e-9)))
        plan[sid] = max(0, n)
        left -= plan[sid] * sellers[sid]["price"]
    return affordable(market, plan)


def distinct_items(sample: np.ndarray, size: int) -> float:
    """Estimated number of distinct items in a pool of ``size`` rows from a uniform sample of its rows:
    the ``D`` for which ``m`` draws are expected to show as many distinct rows as the sample does,
    ``D (1 - (1 - 1/D)^m) = u`` (``size`` when the sample has no repeats)."""
    m = len(sample)
    if m < 2:
        return float(size)
    u = len(np.unique(np.round(sample, 6), axis=0))
    if u >= m:
        return float(size)
    lo, hi = float(u), float(size)
    for _ in range(60):   # bisection: the expected number of distinct rows grows with D
        mid = (lo + hi) / 2
        if mid * (1 - (1 - 1 / mid) ** m) < u:
            lo = mid
        else:
            hi = mid
    return max(1.0, min(float(size), hi))


def _label_support(model, X: np.ndarray, y: np.ndarray) -> float:
    """Mean probability ``model`` gives each row's claimed label (0 for a label it has never seen):
    smoother than counting agreements on a few rows."""
    column = {int(c): i for i, c in enumerate(model.classes_)}
    proba = model.predict_proba(X)
    return float(np.mean([proba[i, column[int(c)]] if int(c) in column else 0.0 for i, c in enumerate(y)]))


def seller_values(market: dict, X_val: np.ndarray, y_val: np.ndarray,
                  samples: dict[str, tuple[np.ndarray, np.ndarray]], seed: int = 0, rounds: int = 2) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    classes, counts = np.unique(y_val, return_counts=True)
    k = max(2, len(classes))
    val_share = dict(zip(classes.tolist(), (counts / counts.sum()).tolist()))
    coverage = {}
    for sid, info in market["sellers"].items():
        total = sum(float(v) for v in info["label_counts"].values()) or 1.0
        share = {int(c): float(v) / total for c, v in info["label_counts"].items()}
        coverage[sid] = 1.0 - 0.5 * sum(abs(share.get(c, 0.0) - val_share.get(c, 0.0)) for c in set(share) | set(val_share))

    def fit(X, y):
        return LogisticRegression(max_iter=1000, random_state=seed).fit(X, y) if len(np.unique(y)) > 1 else None

    def value(sid: str, model) -> float:
        X_s, y_s = samples.get(sid, (np.zeros((0, X_val.shape[1])), np.zeros(0, np.int64)))
        support = _label_support(model, X_s, y_s) if len(y_s) and model is not None else 1.0 / k + 0.5 * (1 - 1.0 / k)
        return float(np.clip((support - 1.0 / k) / (1 - 1.0 / k), 0.0, 1.0)) * coverage[sid]

    model = fit(X_val, y_val)
    values = {sid: value(sid, model) for sid in market["sellers"]}
    for _ in range(rounds - 1):
        # refit on the validation set plus the samples of the sellers that look good, each seller judged
        # by a model that has not seen its own samples
        best = max(values.values(), default=0.0)
        trusted = [sid for sid in market["sellers"] if sid in samples and best > 0 and values[sid] >= 0.5 * best]
        refined = {}
        for sid in market["sellers"]:
            others = [samples[t] for t in trusted if t != sid]
            refined[sid] = value(sid, fit(np.vstack([X_val, *[X for X, _ in others]]),
                                          np.concatenate([y_val, *[y for _, y in others]])))
        values = refined
    return values


def validation_value_plan(market: dict, X_val: np.ndarray, y_val: np.ndarray,
                          samples: dict[str, tuple[np.ndarray, np.ndarray]], seed: int = 0,
                          step: float = 0.01, scale: float = 20.0) -> dict[str, int]:
    sellers = market["sellers"]
    values = seller_values(market, X_val, y_val, samples, seed)
    distinct = {sid: distinct_items(samples[sid][0], int(info["size"])) if sid in samples else float(info["size"])
                for sid, info in sellers.items()}
    # rows worth buying: a pool of D distinct items shows 95 % of them within about 3 D draws
    limit = {sid: int(info["size"]) if distinct[sid] >= int(info["size"]) else min(int(info["size"]), math.ceil(3 * distinct[sid]))
             for sid, info in sellers.items()}
    best = max(values.values()) if values else 0.0
    eligible = [sid for sid in sellers if best > 0 and values[sid] >= 0.5 * best]
    budget = float(market["budget"])
    plan, left = {sid: 0 for sid in sellers}, budget

    def utility(sid: str, n: int) -> float:
        # n rows drawn from a pool of D distinct items hold about D (1 - e^(-n/D)) of them
        d = distinct[sid]
        return values[sid] * math.log1p(d * -math.expm1(-n / d) / scale)

    while eligible:
        gains = {}
        for sid in eligible:
            price = float(sellers[sid]["price"])
            extra = min(limit[sid] - plan[sid], int(math.floor(min(left, step * budget) / price + 1e-9)))
            if extra > 0:
                gain = (utility(sid, plan[sid] + extra) - utility(sid, plan[sid])) / (extra * price)
                gains[sid] = (gain, extra)
        if not gains:
            break
        sid = max(gains, key=lambda s: (gains[s][0], s))
        plan[sid] += gains[sid][1]
        left -= gains[sid][1] * float(sellers[sid]["price"])
    return affordable(market, plan)


# --- files -----------------------------------------------------------------------------------------
def write_submission(plan: dict[str, int], out_path: str | Path) -> Path:
    path = Path(out_path).with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("seller_id,count\n" + "".join(f"{sid},{int(n)}\n" for sid, n in plan.items()))
    return path


def random_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None, seed: int = 0) -> Path:
    return write_submission(random_plan(load_market(public_data_dir), seed), out_path)


def uniform_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None, seed: int = 0) -> Path:
    return write_submission(uniform_plan(load_market(public_data_dir)), out_path)


def greedy_summary_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                            seed: int = 0) -> Path:
    return write_submission(greedy_summary_plan(load_market(public_data_dir)), out_path)


def validation_value_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                              seed: int = 0) -> Path:
    X_val, y_val = load_validation(public_data_dir)
    plan = validation_value_plan(load_market(public_data_dir), X_val, y_val, load_samples(public_data_dir), seed)
    return write_submission(plan, out_path)
