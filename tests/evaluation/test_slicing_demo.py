"""On every demo slicing cell, degenerate submissions rank strictly below the best shipped baseline.

The data is what ``make run`` loads: the committed prebuilt task cut by the layout writer
(fixtures/demo.py ``_real_layout``). Baselines and degenerate submissions see only the public copy and
go through the same file -> load_submission -> evaluate path as an upload.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from evaluation import SubmissionError, registry
from evaluation.baselines import BASELINES, run_baseline
from evaluation.baselines.slicing import load_public

BENCH = registry.get("slicing")
TASKS = ("image", "ocr", "keyword", "nlp")


@pytest.fixture(scope="module")
def demo_cells(tmp_path_factory):
    """task -> (full data dir, public copy), built lazily the way the demo builds them."""
    from fixtures import builders
    from fixtures.builders import layouts

    root = tmp_path_factory.mktemp("slicing-demo")
    built = {}

    def get(task: str) -> tuple[Path, Path]:
        if task not in built:
            full = root / task
            layouts.write_layout(builders.load_prebuilt(task), "slicing", full, seed=0)
            public = root / f"{task}-public"
            shutil.copytree(full, public)
            for path in sorted(public.rglob("*")):
                if path.is_file() and BENCH.is_hidden(path.relative_to(public).as_posix()):
                    path.unlink()
            assert not (public / "slices").exists() or not any((public / "slices").iterdir())
            built[task] = (full, public)
        return built[task]

    return get


def write_scores(path: Path, ids: list[str], columns: dict[str, np.ndarray]) -> Path:
    lines = [",".join(["id", *columns])]
    lines += [",".join([item, *(f"{columns[name][row]:.6g}" for name in columns)]) for row, item in enumerate(ids)]
    path.write_text("\n".join(lines) + "\n")
    return path


def degenerate_submissions(public: Path, max_slices: int) -> dict[str, dict[str, np.ndarray]]:
    """What an adversary who has not discovered anything might try, from the public files only."""
    import pyarrow.parquet as pq

    data = load_public(public)
    label, prediction = data["label"], data["prediction"]
    n = len(data["ids"])
    errors = (label != prediction).astype(float)
    confidence = np.asarray(pq.read_table(public / "data.parquet", columns=["probability"]).column(0).to_numpy())
    rng = np.random.default_rng(0)
    classes = np.unique(label)
    by_error_rate = sorted(classes, key=lambda c: -errors[label == c].mean())
    label_classes = {f"class{c}": (label == c).astype(float) for c in classes[:max_slices]}
    out = {
        "empty slice": {"s": np.zeros(n)},
        "one-row slice": {"s": np.eye(1, n, n // 2)[0]},
        "one-row slices": {f"s{j}": np.eye(1, n, j * (n // max_slices))[0] for j in range(max_slices)},
        "all rows in one slice": {"s": np.ones(n)},
        "all model errors in one slice": {"s": errors},
        "constant scores": {f"s{j}": np.full(n, 0.5) for j in range(3)},
        "random scores": {"s": rng.random(n)},
        f"{max_slices} random slices (the cap)": {f"s{j}": rng.random(n) for j in range(max_slices)},
        f"{max_slices} random 0/1 slices": {f"s{j}": (rng.random(n) < 0.1).astype(float) for j in range(max_slices)},
        "the error slice repeated": {f"s{j}": errors for j in range(max_slices)},
        "low confidence first": {"s": 1 - confidence},
        "errors, least confident first": {"s": errors * (2 - confidence)},
        "label classes": label_classes,
        "predicted classes": {f"pred{c}": (prediction == c).astype(float) for c in np.unique(prediction)[:max_slices]},
        "all of the above that fits": {
            "errors": errors, "unsure": 1 - confidence,
            **{f"class{c}": (label == c).astype(float) for c in by_error_rate[:max_slices - 2]}},
    }
    assert all(len(columns) <= max_slices for columns in out.values())
    return out


def score(problem, config, path: Path) -> float:
    solution = BENCH.load_submission(problem, path, config)
    return BENCH.evaluate(problem, solution, config).scores[BENCH.primary_metric]


@pytest.mark.parametrize("task", TASKS)
def test_degenerate_submissions_rank_below_the_best_baseline(task, demo_cells, tmp_path):
    full, public = demo_cells(task)
    config = BENCH.config()
    problem = BENCH.load_problem(full, config)
    baselines = {name: score(problem, config, run_baseline("slicing", name, public, tmp_path / name, config, seed=0))
                 for name in BASELINES["slicing"]}
    best_name = max(baselines, key=baselines.get)
    data = load_public(public)
    degenerate = {name: score(problem, config, write_scores(tmp_path / f"degenerate{j}.csv", data["ids"], columns))
                  for j, (name, columns) in enumerate(degenerate_submissions(public, config["max_slices"]).items())}
    report = f"{task}: baselines {baselines}; degenerate {degenerate}"
    beaten = {name: value for name, value in degenerate.items() if value >= baselines[best_name]}
    assert not beaten, report
    # random guessing is a baseline too, and the real ones beat it
    assert baselines[best_name] > baselines["random"], report


@pytest.mark.parametrize("task", ["nlp"])
def test_more_slices_than_the_cap_are_refused(task, demo_cells, tmp_path):
    """"Submit 1000 random slices and take the max" never reaches the metric."""
    full, public = demo_cells(task)
    config = BENCH.config()
    problem = BENCH.load_problem(full, config)
    ids = load_public(public)["ids"]
    rng = np.random.default_rng(1)
    path = write_scores(tmp_path / "many.csv", ids, {f"s{j}": rng.random(len(ids)).round(2) for j in range(1000)})
    with pytest.raises(SubmissionError, match="1000 slice columns; at most 10 are allowed"):
        BENCH.load_submission(problem, path, config)
