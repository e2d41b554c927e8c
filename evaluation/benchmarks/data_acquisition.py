"""Data acquisition (DataPerf 2023 "DAM", facebookresearch/Data_Acquisition_for_ML_Benchmark).

A buyer with a budget faces a market of sellers. Each seller publishes a summary (pool size, price
per sample, class counts, feature means) and a few labelled samples; the buyer also holds a small
labelled validation set. A submission says how many rows to buy from each seller. The platform draws
that purchase from each seller's hidden pool with several fixed seeds, trains the fixed model
(``evaluation.models`` logreg) on the rows bought and scores its accuracy on the hidden test set.
Primary score: mean accuracy over the seeds; the spread over seeds, the budget spent and the rows
bought are reported beside it. Layout, scoring and the choices made where the official benchmark is
not public or not reproducible: docs/benchmarks/data-acquisition.md.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..data_io import check_name, embeddings, int_column, read_table, str_column, unique_ids, write_table
from ..models import accuracy, check_model, fit_predict
from ..registry import register
from ..submission_io import collect_files, decode_text, parse_json, read_csv, shorten

MARKET_FILE = "market.json"
# Cost may exceed the budget by this much (floating-point sums of prices), never more.
COST_TOLERANCE = 1e-9


@dataclasses.dataclass(eq=False)
class Seller:
    size: int
    price: float                      # per row (linear pricing, as the official pricefunction "Lin")
    X: np.ndarray | None = None       # hidden pool
    y: np.ndarray | None = None


@dataclasses.dataclass(eq=False)
class AcquisitionProblem:
    budget: float
    sellers: dict[str, Seller]        # in market.json order (the order of the official one-line .txt)
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray | None = None  # hidden
    y_test: np.ndarray | None = None


def plan_cost(problem: AcquisitionProblem, plan: Mapping[str, int]) -> float:
    return float(sum(problem.sellers[sid].price * int(n) for sid, n in plan.items()))


def draw_purchase(problem: AcquisitionProblem, plan: Mapping[str, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows bought under ``seed``: one ``numpy.random.default_rng(seed)`` stream; for every seller in
    market order with n > 0, ``rng.choice(size, n, replace=False)`` row positions of its pool."""
    rng = np.random.default_rng(seed)
    X_parts, y_parts = [], []
    for sid, seller in problem.sellers.items():
        n = int(plan.get(sid, 0))
        if n <= 0:
            continue
        rows = rng.choice(seller.size, size=n, replace=False)
        X_parts.append(seller.X[rows])
        y_parts.append(seller.y[rows])
    if not X_parts:
        return np.zeros((0, problem.X_val.shape[1])), np.zeros(0, np.int64)
    return np.vstack(X_parts), np.concatenate(y_parts)


def seed_accuracy(problem: AcquisitionProblem, plan: Mapping[str, int], seed: int, model: str) -> float:
    X, y = draw_purchase(problem, plan, seed)
    if len(y) == 0:
        # nothing bought: the buyer can only predict its validation set's most common class
        values, counts = np.unique(problem.y_val, return_counts=True)
        return accuracy(np.full(len(problem.y_test), values[np.argmax(counts)]), problem.y_test)
    return accuracy(fit_predict(model, X, y, problem.X_test, seed), problem.y_test)


def write_data_dir(out_dir: Path, sellers: Mapping[str, tuple[np.ndarray, np.ndarray, float]], budget: float,
                   X_val, y_val, X_test, y_test, sample_size: int = 5, seed: int = 0) -> Path:
    """Write a data-acquisition directory. ``sellers`` maps seller_id -> (X, y, price per row); each
    seller publishes ``sample_size`` random labelled rows (seeded) and its summary in market.json."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    market = {"budget": float(budget), "sellers": {}}
    for sid, (X, y, price) in sellers.items():
        check_name(sid, "seller_id")
        X, y = np.asarray(X, np.float64), np.asarray(y, np.int64)
        classes, counts = np.unique(y, return_counts=True)
        market["sellers"][sid] = {
            "size": int(len(y)), "price": float(price),
            "label_counts": {str(int(c)): int(n) for c, n in zip(classes, counts)},
            "feature_mean": [round(float(v), 6) for v in X.mean(axis=0)],
            "feature_std": [round(float(v), 6) for v in X.std(axis=0)],
        }
        rows = np.sort(rng.choice(len(y), size=min(sample_size, len(y)), replace=False))
        write_table(out_dir / "samples" / f"{sid}.parquet", {"encoding": X[rows], "label": y[rows]})
        write_table(out_dir / "hidden" / "sellers" / f"{sid}.parquet", {"encoding": X, "label": y})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKET_FILE).write_text(json.dumps(market, indent=1) + "\n")
    write_table(out_dir / "validation.parquet", {"encoding": np.asarray(X_val), "label": np.asarray(y_val, np.int64)})
    write_table(out_dir / "hidden" / "test.parquet", {"encoding": np.asarray(X_test), "label": np.asarray(y_test, np.int64)})
    return out_dir


def _load_market(path: Path) -> tuple[float, dict[str, Seller]]:
    if not path.is_file():
        raise DataError(f"{path.parent}: no {MARKET_FILE}")
    try:
        market = json.loads(path.read_text())
        budget = float(market["budget"])
        sellers = {str(sid): Seller(int(info["size"]), float(info["price"])) for sid, info in market["sellers"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DataError(f"{MARKET_FILE}: expected {{'budget': number, 'sellers': {{id: {{'size', 'price', ...}}}}}} "
                        f"({type(error).__name__}: {error})") from None
    if not sellers:
        raise DataError(f"{MARKET_FILE}: no sellers")
    if not math.isfinite(budget) or budget < 0:
        raise DataError(f"{MARKET_FILE}: budget {budget} is not a non-negative number")
    for sid, seller in sellers.items():
        if seller.size < 1 or not math.isfinite(seller.price) or seller.price <= 0:
            raise DataError(f"{MARKET_FILE}: seller {sid} needs size >= 1 and a positive price")
    return budget, sellers


def _seller_name(value: object) -> str:
    """A seller id as typed, shortened and quoted only when long or unprintable."""
    text = str(value)
    return text if len(text) <= 60 and text.isprintable() else shorten(text)


def _as_count(value: Any, where: str) -> int:
    """A non-negative whole number of rows (JSON 3 or 3.0, CSV '3'), else a sentence naming ``where``."""
    if isinstance(value, bool):
        raise SubmissionError(f"{where}: {value!r} is not a number of rows")
    if isinstance(value, str):
        text = value.strip()
        digits = text.lstrip("+-").lstrip("0")
        if len(digits) > 18 and digits.isdigit():   # int() refuses > 4,300 digits; no seller has 10**18 rows
            if text.startswith("-"):
                raise SubmissionError(f"{where}: a negative count of {len(digits)} digits (buy 0 or more rows)")
            raise SubmissionError(f"{where}: a count of {len(digits)} digits is more rows than any seller has")
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise SubmissionError(f"{where}: {shorten(text)} is not a whole number of rows") from None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise SubmissionError(f"{where}: {value!r} is not a whole number of rows")
        value = int(value)
    if not isinstance(value, int):
        raise SubmissionError(f"{where}: {shorten(value)} is not a whole number of rows")
    if value < 0:
        raise SubmissionError(f"{where}: {value} is negative (buy 0 or more rows)")
    return value


@register
class DataAcquisition(BenchmarkType):
    slug = "data-acquisition"
    title = "Data acquisition (DAM)"
    kind = "acquisition"
    metrics = (
        Metric("accuracy", "Mean test accuracy of the model trained on the purchase", higher_is_better=True,
               spread_key="accuracy_std"),
        Metric("accuracy_std", "Spread of accuracy over the sampling seeds (std)", higher_is_better=False),
        Metric("cost", "Budget spent", higher_is_better=False),
        Metric("rows", "Rows bought", higher_is_better=False, integer=True),
    )
    primary_metric = "accuracy"
    tie_break_metrics = ("cost",)  # equal accuracy: the cheaper purchase first
    hidden_patterns = ("hidden/*", "BUILD_INFO.json")
    submission_suffixes = (".csv", ".json", ".txt")
    default_config = {
        "model": "logreg",
        "seeds": [0, 1, 2, 3, 4],
    }

    @staticmethod
    def seeds(config: dict[str, Any]) -> list[int]:
        try:
            seeds = [int(s) for s in config["seeds"]]
        except (TypeError, ValueError):
            raise DataError(f"seeds: {config['seeds']!r} is not a list of integers") from None
        if not seeds:
            raise DataError("seeds: at least one seed is needed")
        return seeds

    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> AcquisitionProblem:
        data_dir = Path(data_dir)
        check_model(config["model"])
        self.seeds(config)
        budget, sellers = _load_market(data_dir / MARKET_FILE)
        val = read_table(data_dir / "validation.parquet", ["encoding", "label"])
        X_val, y_val = embeddings(val, name="validation.parquet"), int_column(val, "label", "validation.parquet")
        problem = AcquisitionProblem(budget, sellers, X_val, y_val)
        hidden = data_dir / "hidden"
        if (hidden / "test.parquet").is_file():
            test = read_table(hidden / "test.parquet", ["encoding", "label"])
            problem.X_test, problem.y_test = embeddings(test, name="test.parquet"), int_column(test, "label", "test.parquet")
            for sid, seller in sellers.items():
                path = hidden / "sellers" / f"{sid}.parquet"
                if not path.is_file():
                    raise DataError(f"hidden/sellers/{sid}.parquet is missing")
                pool = read_table(path, ["encoding", "label"])
                seller.X, seller.y = embeddings(pool, name=path.name), int_column(pool, "label", path.name)
                if len(seller.y) != seller.size:
                    raise DataError(f"hidden/sellers/{sid}.parquet has {len(seller.y)} rows, market.json says {seller.size}")
                if seller.X.shape[1] != X_val.shape[1]:
                    raise DataError(f"hidden/sellers/{sid}.parquet: {seller.X.shape[1]} dims, validation has {X_val.shape[1]}")
        return problem

    def load_submission(self, problem: AcquisitionProblem, path: Path, config: dict[str, Any]) -> dict[str, int]:
        files = collect_files(Path(path), self.submission_suffixes)
        if len(files) != 1:
            raise SubmissionError(f"{Path(path).name}: expected one file: CSV seller_id,count, JSON "
                                  "{seller_id: count} or one line of counts in market.json's seller order")
        name, data = next(iter(files.items()))
        entries: list[tuple[str, str, Any]] = []   # (where, seller_id, raw count)
        if name.lower().endswith(".json"):
            payload = parse_json(data, name)
            if isinstance(payload, dict) and set(payload) == {"purchase"}:
                payload = payload["purchase"]
            if not isinstance(payload, dict):
                raise SubmissionError(f"{name}: expected a JSON object {{seller_id: number of rows}}")
            entries = [(f"{name}, seller {_seller_name(sid)}", str(sid), n) for sid, n in payload.items()]
        elif name.lower().endswith(".txt"):
            lines = [line for line in decode_text(data, name).splitlines() if line.strip()]
            if len(lines) != 1:
                raise SubmissionError(f"{name}: expected one line of comma-separated counts, found {len(lines)} lines")
            counts = [s.strip() for s in lines[0].split(",")]
            if len(counts) != len(problem.sellers):
                raise SubmissionError(f"{name}: {len(counts)} counts for {len(problem.sellers)} sellers "
                                      f"(one per seller, in market.json order: {', '.join(problem.sellers)})")
            entries = [(f"{name}, seller {sid}", sid, n) for sid, n in zip(problem.sellers, counts)]
        else:
            rows = read_csv(decode_text(data, name), name, ["seller_id", "count"])
            seen: dict[str, int] = {}
            for line, values in rows:
                sid = values["seller_id"]
                if sid.strip() == "seller_id" and values["count"].strip() == "count":
                    raise SubmissionError(f"{name}, line {line}: the header line seller_id,count appears again; "
                                          "keep it only on the first line")
                if sid in seen:
                    raise SubmissionError(f"{name}, line {line}: seller {_seller_name(sid)} appears twice (also line {seen[sid]})")
                seen[sid] = line
                entries.append((f"{name}, line {line}, seller {_seller_name(sid)}", sid, values["count"]))
        plan: dict[str, int] = {}
        for where, sid, raw in entries:
            if sid not in problem.sellers:
                raise SubmissionError(f"{where}: unknown seller (known: {', '.join(problem.sellers)})")
            n = _as_count(raw, where)
            if n > problem.sellers[sid].size:
                raise SubmissionError(f"{where}: {n} rows asked, the seller has only {problem.sellers[sid].size}")
            plan[sid] = n
        cost = plan_cost(problem, plan)
        if cost > problem.budget + COST_TOLERANCE:
            raise SubmissionError(f"{name}: the purchase costs {cost:.6g}, over the budget of {problem.budget:.6g}")
        return {sid: plan.get(sid, 0) for sid in problem.sellers}

    def evaluate(self, problem: AcquisitionProblem, solution: dict[str, int], config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        if problem.X_test is None:
            raise DataError("hidden data (hidden/test.parquet, hidden/sellers/) not available")
        model = check_model(config["model"])
        seeds = self.seeds(config)
        values = []
        with _single_threaded():
            for i, seed in enumerate(seeds):
                progress(i / len(seeds), f"seed {seed}: sampling the purchase and training {model}")
                values.append(seed_accuracy(problem, solution, seed, model))
        progress(1.0, "done")
        return Result(
            scores={"accuracy": float(np.mean(values)), "accuracy_std": float(np.std(values)),
                    "cost": plan_cost(problem, solution), "rows": float(sum(solution.values()))},
            details={"per_seed": {str(s): v for s, v in zip(seeds, values)}, "budget": problem.budget,
                     "model": model, "sellers_used": sum(1 for n in solution.values() if n > 0)},
        )

    def data_summary(self, problem: AcquisitionProblem, config: dict[str, Any]) -> dict[str, Any]:
        return {"sellers": len(problem.sellers), "budget": problem.budget, "validation_rows": int(len(problem.y_val))}


def _single_threaded():
    """One BLAS/OpenMP thread (small fits; threaded BLAS on a busy 2-core machine was much slower)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)
