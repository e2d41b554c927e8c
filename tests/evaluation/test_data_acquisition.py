"""Data acquisition (DAM): exact scoring against a restated procedure, plan validation, degenerate plans,
the baselines on a demo cell cut from real prebuilt data, and the CLI."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

from evaluation import registry
from evaluation.base import SubmissionError
from evaluation.baselines import BASELINES, run_baseline
from fixtures import synthetic

ROOT = Path(__file__).resolve().parents[2]
BENCH = registry.get("data-acquisition")
CONFIG = BENCH.config()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("dam")
    synthetic.write_acquisition_data(root / "data", seed=0)
    return root / "data"


@pytest.fixture(scope="module")
def problem(data):
    return BENCH.load_problem(data, CONFIG)


def plan_file(tmp_path, text, name="plan.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def score_text(problem, tmp_path, text, name="plan.csv"):
    solution = BENCH.load_submission(problem, plan_file(tmp_path, text, name), CONFIG)
    return solution, BENCH.evaluate(problem, solution, CONFIG)


def restated_score(data: Path, plan: dict[str, int], seeds=(0, 1, 2, 3, 4)) -> list[float]:
    """The documented procedure, written again from the files: per seed one default_rng(seed) stream,
    sellers in market.json order, choice(size, n, replace=False); LogisticRegression(max_iter=1000,
    random_state=seed) on the union; accuracy on hidden/test.parquet."""
    def table(path):
        t = pq.read_table(path)
        return np.array(t.column("encoding").to_pylist(), np.float64), np.array(t.column("label").to_pylist())

    market = json.loads((data / "market.json").read_text())
    X_test, y_test = table(data / "hidden" / "test.parquet")
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        Xs, ys = [], []
        for sid, info in market["sellers"].items():
            if plan.get(sid, 0):
                X, y = table(data / "hidden" / "sellers" / f"{sid}.parquet")
                rows = rng.choice(info["size"], size=plan[sid], replace=False)
                Xs.append(X[rows]), ys.append(y[rows])
        model = LogisticRegression(max_iter=1000, random_state=seed).fit(np.vstack(Xs), np.concatenate(ys))
        out.append(float(np.mean(model.predict(X_test) == y_test)))
    return out


def test_score_matches_restated_procedure(problem, data, tmp_path):
    plan = {"seller-a": 30, "seller-b": 10, "seller-c": 20, "seller-d": 5, "seller-e": 12}
    solution, result = score_text(problem, tmp_path, "seller_id,count\n" + "".join(f"{s},{n}\n" for s, n in plan.items()))
    expected = restated_score(data, plan)
    assert result.scores["accuracy"] == pytest.approx(np.mean(expected), abs=1e-12)
    assert result.scores["accuracy_std"] == pytest.approx(np.std(expected), abs=1e-12)
    assert [result.details["per_seed"][str(s)] for s in range(5)] == pytest.approx(expected, abs=1e-12)
    assert result.scores["cost"] == pytest.approx(30 * 0.5 + 10 * 1.5 + 20 * 0.4 + 5 * 0.5 + 12 * 0.5)
    assert result.scores["rows"] == 77
    # the seeds differ, so the purchase really is re-drawn per seed
    assert len(set(expected)) > 1


def test_three_formats_give_the_same_plan(problem, tmp_path):
    csv_plan, _ = None, None
    csv_plan = BENCH.load_submission(problem, plan_file(tmp_path, "seller_id,count\nseller-a,10\nseller-e,4\n"), CONFIG)
    json_plan = BENCH.load_submission(problem, plan_file(tmp_path, '{"seller-a": 10, "seller-e": 4.0}', "p.json"), CONFIG)
    txt_plan = BENCH.load_submission(problem, plan_file(tmp_path, "10,0,0,0,4\n", "0.txt"), CONFIG)
    assert csv_plan == json_plan == txt_plan == {"seller-a": 10, "seller-b": 0, "seller-c": 0, "seller-d": 0, "seller-e": 4}


def test_all_budget_on_one_seller(problem, data, tmp_path):
    # budget 60 at 0.5 per row would buy 120; the seller has 80: everything it has
    _, result = score_text(problem, tmp_path, "seller_id,count\nseller-a,80\n")
    assert result.scores["accuracy"] == pytest.approx(np.mean(restated_score(data, {"seller-a": 80})))
    assert result.details["sellers_used"] == 1
    # the one-class seller alone: the model can only say that class
    _, one_class = score_text(problem, tmp_path, "seller_id,count\nseller-d,80\n")
    y_test = np.array(pq.read_table(data / "hidden" / "test.parquet").column("label").to_pylist())
    assert one_class.scores["accuracy"] == pytest.approx(np.mean(y_test == 0))
    assert one_class.scores["accuracy_std"] == 0.0
    assert result.scores["accuracy"] > one_class.scores["accuracy"] + 0.3


def test_nothing_bought_scores_the_validation_majority(problem, data, tmp_path):
    _, result = score_text(problem, tmp_path, "seller_id,count\n")
    y_val = np.array(pq.read_table(data / "validation.parquet").column("label").to_pylist())
    y_test = np.array(pq.read_table(data / "hidden" / "test.parquet").column("label").to_pylist())
    majority = np.bincount(y_val).argmax()
    assert result.scores == {"accuracy": pytest.approx(np.mean(y_test == majority)), "accuracy_std": 0.0,
                             "cost": 0.0, "rows": 0.0}


@pytest.mark.parametrize("text, name, needle", [
    ("seller_id,count\nseller-a,80\nseller-b,30\n", "plan.csv", "costs 85, over the budget of 60"),
    ("seller_id,count\nseller-z,3\n", "plan.csv", "line 2, seller seller-z: unknown seller"),
    ("seller_id,count\nseller-a,81\n", "plan.csv", "seller seller-a: 81 rows asked, the seller has only 80"),
    ("seller_id,count\nseller-a,-1\n", "plan.csv", "seller seller-a: -1 is negative"),
    ("seller_id,count\nseller-a,2.5\n", "plan.csv", "seller seller-a: 2.5 is not a whole number of rows"),
    ("seller_id,count\nseller-a,ten\n", "plan.csv", "seller seller-a: 'ten' is not a whole number of rows"),
    ("seller_id,count\nseller-a,1\nseller-a,2\n", "plan.csv", "seller seller-a appears twice"),
    ("seller,n\nseller-a,1\n", "plan.csv", "header must have column(s) seller_id, count"),
    ("", "plan.csv", "the file is empty"),
    ('{"seller-a": "nan"}', "plan.json", "seller seller-a: nan is not a whole number of rows"),
    ('{"seller-a": true}', "plan.json", "seller seller-a: True is not a number of rows"),
    ('[1, 2]', "plan.json", "expected a JSON object"),
    ('{"seller-a": 1', "plan.json", "plan.json"),
    ("1,2,3\n", "0.txt", "3 counts for 5 sellers"),
    ("1,2,3,4,5\n1,2,3,4,5\n", "0.txt", "expected one line"),
])
def test_bad_plans_are_refused_with_a_sentence(problem, tmp_path, text, name, needle):
    with pytest.raises(SubmissionError) as error:
        BENCH.load_submission(problem, plan_file(tmp_path, text, name), CONFIG)
    assert needle in str(error.value)


def test_plan_exactly_at_budget_is_accepted(problem, tmp_path):
    # 0.5*80 + 0.4*50 = 60 = the budget
    plan = BENCH.load_submission(problem, plan_file(tmp_path, "seller_id,count\nseller-a,80\nseller-c,50\n"), CONFIG)
    assert plan["seller-a"] == 80 and plan["seller-c"] == 50


def test_public_files_hide_pools_and_test(data):
    assert BENCH.is_hidden("hidden/test.parquet") and BENCH.is_hidden("hidden/sellers/seller-a.parquet")
    public = [p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file() and not BENCH.is_hidden(p.relative_to(data).as_posix())]
    assert sorted(public) == ["market.json"] + [f"samples/seller-{c}.parquet" for c in "abcde"] + ["validation.parquet"]
    market = json.loads((data / "market.json").read_text())
    assert market["budget"] == 60.0 and market["sellers"]["seller-d"]["label_counts"] == {"0": 80}


def test_baselines_write_valid_affordable_plans_and_are_deterministic(data, problem, tmp_path):
    public = tmp_path / "public"
    shutil.copytree(data, public, ignore=shutil.ignore_patterns("hidden"))
    for name in BASELINES["data-acquisition"]:
        first = run_baseline("data-acquisition", name, public, tmp_path / "a" / name, CONFIG)
        second = run_baseline("data-acquisition", name, public, tmp_path / "b" / name, CONFIG)
        assert first.read_bytes() == second.read_bytes(), name
        plan = BENCH.load_submission(problem, first, CONFIG)
        assert sum(plan.values()) > 0, name


@pytest.fixture(scope="module")
def demo_cell(tmp_path_factory):
    """The OCR demo cell: real prebuilt items cut into a market by the layout writer."""
    from fixtures.builders import layouts, load_prebuilt

    root = tmp_path_factory.mktemp("dam-ocr")
    info = layouts.write_layout(load_prebuilt("ocr"), "data-acquisition", root / "data", seed=0)
    shutil.copytree(root / "data", root / "public", ignore=shutil.ignore_patterns("hidden", "BUILD_INFO.json"))
    return root, info, BENCH.load_problem(root / "data", CONFIG)


def test_best_baseline_beats_uniform_on_the_demo_cell(demo_cell):
    root, info, problem = demo_cell
    scores = {}
    for name in BASELINES["data-acquisition"]:
        path = run_baseline("data-acquisition", name, root / "public", root / "baselines" / name, CONFIG)
        scores[name] = BENCH.evaluate(problem, BENCH.load_submission(problem, path, CONFIG), CONFIG).scores["accuracy"]
    assert scores["validation-value"] > scores["uniform"] + 0.05, scores
    assert scores["validation-value"] == max(scores.values()), scores
    # the summaries alone are fooled: buying the cheap, noisy sellers loses to the uniform spend
    assert scores["greedy-summary"] < scores["uniform"], scores


def test_demo_cell_spread_of_sellers(demo_cell):
    """Buying the whole budget from one seller: the clean ones clearly beat the noisy / one-class ones."""
    root, info, problem = demo_cell
    by_recipe = {}
    for sid, meta in info["sellers"].items():
        n = min(meta["size"], int(problem.budget // meta["price"]))
        result = BENCH.evaluate(problem, {**{s: 0 for s in problem.sellers}, sid: n}, CONFIG)
        by_recipe[meta["what"]] = result.scores["accuracy"]
    assert by_recipe["clean, cheap"] > by_recipe["60% of labels flipped"] + 0.1, by_recipe
    assert by_recipe["clean, cheap"] > by_recipe["one class only"] + 0.3, by_recipe


def test_cli_scores_a_plan(data, tmp_path):
    plan = plan_file(tmp_path, "seller_id,count\nseller-a,40\nseller-b,10\n")
    run = subprocess.run([sys.executable, "-m", "evaluation", "score", "data-acquisition", "--data", str(data),
                          "--submission", str(plan), "--seeds", "0,1", "--json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["score"] == pytest.approx(np.mean(restated_score(data, {"seller-a": 40, "seller-b": 10}, (0, 1))))
    assert payload["scores"]["cost"] == pytest.approx(35.0)
    over = plan_file(tmp_path, "seller_id,count\nseller-b,80\n")
    run = subprocess.run([sys.executable, "-m", "evaluation", "score", "data-acquisition", "--data", str(data),
                          "--submission", str(over)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and "over the budget of 60" in run.stderr and "Traceback" not in run.stderr


DEGENERATE_WINS = pytest.mark.xfail(strict=True, reason=(
    "known, and why the type is not on the demo boards: image and NLP — one seller alone beats every baseline; "
    "keyword — the test set is 73 % one class, so buying nothing beats every baseline"))


@pytest.mark.parametrize("task", [pytest.param("image", marks=DEGENERATE_WINS), "ocr",
                                  pytest.param("keyword", marks=DEGENERATE_WINS), pytest.param("nlp", marks=DEGENERATE_WINS)])
def test_degenerate_plans_lose_to_the_best_baseline_on_every_real_data_cell(task, tmp_path):
    """Issue 10's rule for every type: nothing bought, the whole budget on any single seller, and the
    budget split evenly all rank strictly below the best shipped baseline."""
    from fixtures.builders import layouts, load_prebuilt

    layouts.write_layout(load_prebuilt(task), "data-acquisition", tmp_path / "data", seed=0)
    shutil.copytree(tmp_path / "data", tmp_path / "public", ignore=shutil.ignore_patterns("hidden", "BUILD_INFO.json"))
    problem = BENCH.load_problem(tmp_path / "data", CONFIG)

    def accuracy(plan):
        return BENCH.evaluate(problem, plan, CONFIG).scores["accuracy"]

    best = max(accuracy(BENCH.load_submission(problem, run_baseline(
        "data-acquisition", name, tmp_path / "public", tmp_path / "baselines" / name, CONFIG), CONFIG))
        for name in BASELINES["data-acquisition"])
    nothing = {s: 0 for s in problem.sellers}
    degenerate = {"nothing bought": accuracy(nothing)}
    for sid, seller in problem.sellers.items():
        count = min(seller.size, int(problem.budget // seller.price))
        if count:
            degenerate[f"all on {sid}"] = accuracy({**nothing, sid: count})
    assert all(value < best for value in degenerate.values()), (best, degenerate)
