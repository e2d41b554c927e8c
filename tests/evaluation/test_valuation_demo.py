"""Valuation on the demo data: the real prebuilt tasks cut by the layout writer, as ``make run`` loads them.

The primary metric must reward valuing data: every degenerate submission (a constant at any level,
the file order, the reversed order, random values, size only, all equal but one) ranks strictly below
the best shipped baseline, and the candidates' true accuracies spread widely. Slow (the fixed model
is trained on A ∪ B_k once per candidate and task), so each task's truth is computed once per module.
"""
import shutil

import numpy as np
import pytest

from evaluation.baselines import BASELINES, run_baseline
from evaluation.benchmarks import valuation as val
from fixtures.builders import layouts, load_prebuilt

BENCH = val.Valuation()
CONFIG = BENCH.config()
TASKS = ("image", "ocr", "keyword", "nlp")


@pytest.fixture(scope="module", params=TASKS)
def cell(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"valuation-{request.param}")
    info = layouts.write_layout(load_prebuilt(request.param), "valuation", root / "data", seed=0)
    # baselines get exactly what participants download
    shutil.copytree(root / "data", root / "public", ignore=shutil.ignore_patterns("hidden", "BUILD_INFO.json"))
    problem = BENCH.load_problem(root / "data", CONFIG)
    baselines = {}
    for name in BASELINES["valuation"]:
        path = run_baseline("valuation", name, root / "public", root / "baselines" / name, CONFIG)
        baselines[name] = BENCH.evaluate(problem, BENCH.load_submission(problem, path, CONFIG), CONFIG).scores
    return request.param, root, info, problem, baselines


def score(problem, root, predictions: dict[str, float]) -> dict[str, float]:
    """Scores of a submission file written from ``predictions``, read back through the upload path."""
    path = root / "submission.csv"
    path.write_text("candidate_id,predicted_accuracy\n" + "".join(f"{c},{v!r}\n" for c, v in predictions.items()))
    return BENCH.evaluate(problem, BENCH.load_submission(problem, path, CONFIG), CONFIG).scores


def degenerate_submissions(problem) -> dict[str, dict[str, float]]:
    ids = list(problem.candidates)          # file order
    n = len(ids)
    sizes = {cid: len(problem.candidates[cid]) for cid in ids}
    out = {f"constant {level}": {cid: level for cid in ids} for level in (0.0, 0.1, 0.5, 0.6, 0.7, 0.9, 1.0)}
    out["file order"] = {cid: 1.0 - i / n for i, cid in enumerate(ids)}
    out["reversed file order"] = {cid: (i + 1) / n for i, cid in enumerate(ids)}
    out["size only"] = {cid: sizes[cid] / max(sizes.values()) for cid in ids}
    out["size only, smaller first"] = {cid: min(sizes.values()) / sizes[cid] for cid in ids}
    for seed in range(10):
        rng = np.random.default_rng(seed)
        out[f"random {seed}"] = {cid: float(rng.uniform()) for cid in ids}
    for position, chosen in enumerate(ids):  # all equal but one, raised or lowered: one candidate at a time
        out[f"all 0.6 but #{position} at 0.9"] = {cid: 0.9 if cid == chosen else 0.6 for cid in ids}
        out[f"all 0.6 but #{position} at 0.3"] = {cid: 0.3 if cid == chosen else 0.6 for cid in ids}
    return out


def test_candidates_spread_and_do_not_name_their_recipe(cell):
    task, root, info, problem, _ = cell
    truth = problem.true_accuracies(CONFIG["model"], CONFIG["seed"])
    values = np.array(list(truth["candidates"].values()))
    assert len(values) == 16
    assert values.max() - values.min() >= 0.2, f"{task}: accuracies {values.min():.3f}..{values.max():.3f}"
    assert values.std() >= 0.05
    # some candidates help, some hurt (noise, one class): buying blindly is a real risk
    assert values.max() > truth["base"] + 0.05 and values.min() < truth["base"] - 0.03
    assert all(cid.startswith("seller-") for cid in problem.candidates)
    recipes = [info["candidates"][cid]["what"] for cid in problem.candidates]
    assert recipes != sorted(recipes)
    # every candidate publishes a labelled sample of its own rows
    assert set(problem.samples) == set(problem.candidates)
    assert all(len(problem.samples[cid][0]) == min(30, len(problem.candidates[cid]) // 2) for cid in problem.candidates)


def test_every_degenerate_submission_ranks_below_the_best_baseline(cell):
    task, root, _, problem, baselines = cell
    primary = BENCH.primary_metric
    higher = BENCH.metric(primary).higher_is_better
    best_name = max(baselines, key=lambda name: baselines[name][primary] * (1 if higher else -1))
    best = baselines[best_name][primary]
    failures = []
    for name, predictions in degenerate_submissions(problem).items():
        value = score(problem, root, predictions)[primary]
        assert np.isfinite(value)
        if not (value < best if higher else value > best):
            failures.append(f"{name}: {value:.3f}")
    assert not failures, f"{task}: best baseline {best_name} {primary} {best:.3f}; not below it: {failures}"


def test_constants_score_zero_correlation_and_pay_the_mean_regret(cell):
    _, root, _, problem, _ = cell
    actual = np.array(list(problem.true_accuracies(CONFIG["model"], CONFIG["seed"])["candidates"].values()))
    for level in (0.0, 0.55, 1.0):
        scores = score(problem, root, {cid: level for cid in problem.candidates})
        assert scores["spearman"] == 0.0
        assert scores["regret"] == pytest.approx(actual.max() - actual.mean())
        assert scores["mae"] == pytest.approx(np.mean(np.abs(level - actual)))


def test_the_data_quality_baseline_values_data(cell):
    task, _, _, _, baselines = cell
    quality, curve, random = (baselines[name] for name in ("data-quality", "learning-curve", "random"))
    assert quality["spearman"] >= 0.55, f"{task}: {quality}"
    assert quality["spearman"] > curve["spearman"] and quality["spearman"] > random["spearman"]
