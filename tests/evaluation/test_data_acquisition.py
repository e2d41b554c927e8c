"""Data acquisition (DAM): exact scoring against a restated procedure, plan validation, degenerate plans,
the baselines on a demo cell cut from real prebuilt data, and the CLI."""
import itertools
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
    ("seller_id,count\nseller-a," + "9" * 5000 + "\n", "plan.csv", "a count of 5000 digits is more rows than any seller"),
    ('{"seller-a": ' + "9" * 5000 + "}", "plan.json", "plan.json: a number with more than 4,300 digits"),
    ("seller_id,count\nseller-a,-" + "9" * 5000 + "\n", "plan.csv", "seller seller-a: a negative count of 5000 digits"),
    ("seller_id,count\nseller-a,1\nseller_id,count\n", "plan.csv", "line 3: the header line seller_id,count appears again"),
])
def test_bad_plans_are_refused_with_a_sentence(problem, tmp_path, text, name, needle):
    with pytest.raises(SubmissionError) as error:
        BENCH.load_submission(problem, plan_file(tmp_path, text, name), CONFIG)
    assert needle in str(error.value)


def test_leading_zeros_are_just_a_count(problem, tmp_path):
    plan = BENCH.load_submission(problem, plan_file(tmp_path, "seller_id,count\nseller-a," + "0" * 30 + "7\n"), CONFIG)
    assert plan["seller-a"] == 7


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


class DemoCell:
    """A demo cell: a real prebuilt task cut into a market by the layout writer (as fixtures/demo.py does),
    the shipped baselines run on its public copy and scored."""

    def __init__(self, task: str, root: Path):
        from fixtures.builders import layouts, load_prebuilt

        self.info = layouts.write_layout(load_prebuilt(task), "data-acquisition", root / "data", seed=0)
        shutil.copytree(root / "data", root / "public", ignore=shutil.ignore_patterns("hidden", "BUILD_INFO.json"))
        self.root, self.public = root, root / "public"
        self.problem = BENCH.load_problem(root / "data", CONFIG)
        self.baselines = {}
        for name in BASELINES["data-acquisition"]:
            path = run_baseline("data-acquisition", name, self.public, root / "baselines" / name, CONFIG)
            self.baselines[name] = self.accuracy(BENCH.load_submission(self.problem, path, CONFIG))
        self.best = max(self.baselines.values())

    def accuracy(self, plan: dict) -> float:
        return BENCH.evaluate(self.problem, plan, CONFIG).scores["accuracy"]

    def spend(self, shares: dict[str, float]) -> dict[str, int]:
        """The budget split by ``shares`` (rows rounded down, capped at each seller's size)."""
        sellers = self.problem.sellers
        plan = {s: 0 for s in sellers}
        plan.update({s: min(sellers[s].size, int(self.problem.budget * w / sellers[s].price + 1e-9)) for s, w in shares.items()})
        assert BENCH.load_submission(self.problem, plan_file(self.root, json.dumps(plan), "check.json"), CONFIG) == plan
        return plan


_CELLS: dict[str, DemoCell] = {}


@pytest.fixture(scope="module")
def demo_cells(tmp_path_factory):
    def get(task: str) -> DemoCell:
        if task not in _CELLS:
            _CELLS[task] = DemoCell(task, tmp_path_factory.mktemp(f"dam-{task}"))
        return _CELLS[task]
    yield get
    _CELLS.clear()


TASKS = ["image", "ocr", "keyword", "nlp"]


@pytest.mark.parametrize("task", TASKS)
def test_demo_market_is_calibrated(task, tmp_path):
    """The market the demo builds: disjoint clean pools, a balanced test set, a budget that no single
    seller can absorb, and no hidden part in the public copy."""
    from fixtures.builders import layouts, load_prebuilt

    info = layouts.write_layout(load_prebuilt(task), "data-acquisition", tmp_path / "data", seed=0)
    problem = BENCH.load_problem(tmp_path / "data", CONFIG)
    clean = [s for s, meta in info["sellers"].items() if meta["what"].startswith("clean")]
    assert len(clean) == 8
    rows = [tuple(np.round(x, 5)) for s in clean for x in problem.sellers[s].X]
    assert len(set(rows)) == len(rows)                                   # a clean row is sold once
    assert len(set(np.bincount(problem.y_test).tolist())) == 1           # balanced test set
    clean_cost = sum(problem.sellers[s].size * problem.sellers[s].price for s in clean)
    assert problem.budget < clean_cost                                   # a buyer must choose among the good sellers
    whole = sorted(seller.size * seller.price for seller in problem.sellers.values())
    assert whole[-1] < problem.budget / 3                                # no seller takes a third of the budget
    market = json.loads((tmp_path / "data" / "market.json").read_text())
    assert "what" not in json.dumps(market) and BENCH.is_hidden("BUILD_INFO.json")
    assert all(len(pq.read_table(p)) <= 10 for p in (tmp_path / "data" / "samples").glob("*.parquet"))


def test_best_baseline_beats_uniform_on_the_demo_cell(demo_cells):
    scores = demo_cells("ocr").baselines
    assert scores["validation-value"] > scores["uniform"] + 0.05, scores
    assert scores["validation-value"] == max(scores.values()), scores
    # the summaries alone are fooled: buying the cheap, balanced but mislabelled sellers loses to the uniform spend
    assert scores["greedy-summary"] < scores["uniform"], scores


def test_demo_cell_spread_of_sellers(demo_cells):
    """Buying the whole budget from one seller: the clean ones clearly beat the noisy / one-class ones."""
    cell = demo_cells("ocr")
    by_recipe = {meta["what"]: cell.accuracy(cell.spend({sid: 1.0})) for sid, meta in cell.info["sellers"].items()}
    clean = max(v for what, v in by_recipe.items() if what.startswith("clean"))
    assert clean > by_recipe["70% of labels random"] + 0.1, by_recipe
    assert clean > by_recipe["one class only"] + 0.3, by_recipe
    assert by_recipe["one class only"] == pytest.approx(0.1)             # balanced test: one class is chance


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


@pytest.mark.parametrize("task", TASKS)
def test_degenerate_plans_lose_to_the_best_baseline_on_every_real_data_cell(task, demo_cells):
    """Issue 10's rule for every type: plans made without judging the sellers - nothing bought, the whole
    budget on any single seller, split over two of the strongest sellers, on the cheapest or the dearest
    only, every seller bought out cheapest first, in proportion to seller size, evenly, or at random -
    rank strictly below the best shipped baseline, which beats the uniform and random baselines by at
    least 0.03 (benchmarks/acquisition_plans.py tries every pair and 20 random splits)."""
    from evaluation.baselines import data_acquisition as dam

    cell = demo_cells(task)
    sellers = cell.problem.sellers
    nothing = {s: 0 for s in sellers}
    degenerate = {"nothing bought": cell.accuracy(nothing)}
    singles = {s: cell.accuracy(cell.spend({s: 1.0})) for s in sellers}
    degenerate.update({f"all on {s}": v for s, v in singles.items()})
    strongest = sorted(singles, key=singles.get)[-5:]
    for a, b in itertools.combinations(strongest, 2):
        degenerate[f"{a} and {b}"] = cell.accuracy(cell.spend({a: 0.5, b: 0.5}))
    degenerate["cheapest only"] = singles[min(sellers, key=lambda s: (sellers[s].price, s))]
    degenerate["dearest only"] = singles[max(sellers, key=lambda s: (sellers[s].price, s))]
    left, cheap_first = cell.problem.budget, dict(nothing)
    for s in sorted(sellers, key=lambda s: (sellers[s].price, s)):   # every seller bought out, cheapest first
        cheap_first[s] = min(sellers[s].size, int(left / sellers[s].price + 1e-9))
        left -= cheap_first[s] * sellers[s].price
    degenerate["cheapest first"] = cell.accuracy(cheap_first)
    total = sum(v.size for v in sellers.values())
    degenerate["proportional to size"] = cell.accuracy(cell.spend({s: v.size / total for s, v in sellers.items()}))
    degenerate["even split"] = cell.accuracy(cell.spend({s: 1 / len(sellers) for s in sellers}))
    market = dam.load_market(cell.public)
    for seed in range(101, 106):
        degenerate[f"random {seed}"] = cell.accuracy(dam.random_plan(market, seed))
    assert all(value < cell.best for value in degenerate.values()), (cell.best, sorted(degenerate.items(), key=lambda kv: -kv[1])[:5])
    assert cell.best >= cell.baselines["uniform"] + 0.03, cell.baselines
    assert cell.best >= cell.baselines["random"] + 0.03, cell.baselines
    assert degenerate["nothing bought"] == pytest.approx(1 / len(np.unique(cell.problem.y_test)))


def test_distinct_items_estimate():
    from evaluation.baselines.data_acquisition import distinct_items

    rng = np.random.default_rng(0)
    items = rng.normal(size=(10, 4))
    pool = np.resize(items, (200, 4))
    assert distinct_items(pool[rng.choice(200, 20, replace=False)], 200) == pytest.approx(10, abs=4)
    assert distinct_items(rng.normal(size=(20, 4)), 200) == 200          # no repeats: the seller's size
    assert distinct_items(items[:1], 50) == 50                           # one row tells nothing
