"""Test-set creation: submission rules, the model suite and its ratchet, fooling, novelty, the credit split."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from evaluation import DataError, SubmissionError, registry
from evaluation.benchmarks import test_set as ts
from fixtures import test_set_synthetic as synth

BENCH = ts.TestSetCreation()
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("test_set") / "data"
    synth.write_test_set_data(out, pool_size=300, seed=4)
    return out


@pytest.fixture(scope="module")
def problem(data_dir):
    return BENCH.load_problem(data_dir, BENCH.config())


@pytest.fixture(scope="module")
def truth(data_dir):
    return synth.hidden_labels(data_dir)


def csv_file(tmp_path, rows, name="set.csv", header="item_id,label"):
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(f"{i},{label}\n" for i, label in rows))
    return path


def submit(problem, path, **overrides):
    return BENCH.load_submission(problem, path, BENCH.config(overrides))


def test_registered_with_credit_as_primary_metric():
    bench = registry.get("test-set")
    assert bench.kind == "test-set" and bench.primary_metric == "credit"
    assert bench.metric("credit").higher_is_better


def test_true_labels_and_existing_tests_are_hidden_pool_and_reference_are_public(data_dir):
    files = {str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file()}
    hidden = {f for f in files if BENCH.is_hidden(f)}
    assert hidden == {"hidden/pool_labels.parquet", "hidden/existing_test.parquet"}
    assert files - hidden == {"meta.json", "pool.parquet", "reference_train.parquet"}


def test_public_files_alone_load_and_score_the_machine_part(data_dir, tmp_path, problem, truth):
    public = tmp_path / "public"
    public.mkdir()
    for name in ("meta.json", "pool.parquet", "reference_train.parquet"):
        shutil.copy(data_dir / name, public / name)
    offline = BENCH.load_problem(public, BENCH.config())
    assert offline.true_labels is None and offline.existing_X is None
    rows = [(i, truth[i]) for i in offline.ids[:10]]
    result = BENCH.evaluate(offline, submit(offline, csv_file(tmp_path, rows)), BENCH.config())
    assert "novelty" not in result.scores   # no existing test data offline
    assert result.scores["fooled"] == len(ts.fooling_items(ts.problem_predictions(problem, BENCH.config()), rows))


def test_a_valid_csv_is_parsed_in_order(problem, tmp_path):
    rows = [(problem.ids[3], "square"), (problem.ids[1], "circle")]
    solution = submit(problem, csv_file(tmp_path, rows))
    assert [(p.item_id, p.label) for p in solution.proposals] == rows


@pytest.mark.parametrize("rows,header,expected", [
    ([], "item_id,label", "no items"),
    ([("item-0000", "circle"), ("item-0000", "square")], "item_id,label", "appears twice"),
    ([("nope", "circle")], "item_id,label", "unknown item_id 'nope'"),
    ([("item-0000", "Circle")], "item_id,label", "did you mean 'circle'"),
    ([("item-0000", "hexagon")], "item_id,label", "unknown label 'hexagon'"),
    ([("item-0000", "circle")], "id,label", "header must have column(s) item_id, label"),
])
def test_bad_submissions_name_the_problem(problem, tmp_path, rows, header, expected):
    with pytest.raises(SubmissionError) as error:
        submit(problem, csv_file(tmp_path, rows, header=header))
    assert expected in str(error.value)


def test_more_than_n_items_are_refused(problem, tmp_path):
    rows = [(i, "circle") for i in problem.ids[:6]]
    with pytest.raises(SubmissionError, match="6 items, the limit is 5"):
        submit(problem, csv_file(tmp_path, rows), max_items=5)
    assert len(submit(problem, csv_file(tmp_path, rows[:5]), max_items=5).proposals) == 5


def test_only_csv_is_accepted(problem, tmp_path):
    path = tmp_path / "set.json"
    path.write_text("{}")
    with pytest.raises(SubmissionError, match="expected a CSV"):
        submit(problem, path)


def test_suite_is_fixed_and_deterministic(problem):
    first = ts.model_suite_predictions(problem)
    again = ts.model_suite_predictions(problem)
    assert first.members == ["logreg", "knn", "random_forest"]
    assert np.array_equal(first.matrix, again.matrix)


def test_an_item_fools_when_a_strict_majority_disagrees_with_the_claimed_label():
    predictions = ts.SuitePredictions(["a", "b", "c", "d"], ["x", "y"], {"one": 0, "two": 1},
                                      np.array([[1, 1, 1, 0], [1, 1, 0, 0]]))
    assert ts.fooling_items(predictions, [("one", "x"), ("one", "y"), ("two", "x"), ("two", "y")]) == {("one", "x")}
    assert predictions.wrong_votes("two", "x") == 2   # 2 of 4 is no majority


def test_hard_items_fool_the_suite_when_labelled_correctly(problem, truth):
    predictions = ts.problem_predictions(problem, BENCH.config())
    fooling = ts.fooling_items(predictions, [(i, truth[i]) for i in problem.ids])
    assert 30 < len(fooling) < 150
    # A claimed label the models agree with never fools them.
    agreed = [(i, predictions.majority(i)) for i in problem.ids]
    assert not ts.fooling_items(predictions, agreed)


def test_the_ratchet_adds_a_member_per_training_set_and_makes_items_harder(problem, truth):
    base = ts.model_suite_predictions(problem)
    fooling = sorted(ts.fooling_items(base, [(i, truth[i]) for i in problem.ids]))
    # A better training set: the reference set plus the hard items with their true labels, twice over.
    rows = [problem.index[i] for i, _ in fooling]
    X = np.vstack([problem.reference_X, problem.X[rows]])
    y = np.concatenate([problem.reference_y, [problem.label_index(label) for _, label in fooling]])
    better = [ts.TrainingSetData("best-1", X, y), ts.TrainingSetData("best-2", X, y)]
    ratcheted = ts.model_suite_predictions(problem, better)
    assert ratcheted.members == ["logreg", "knn", "random_forest"] + [
        f"{m}@best-{k}" for k in (1, 2) for m in ("logreg", "knn", "random_forest")]
    still = ts.fooling_items(ratcheted, fooling)
    assert len(still) < len(fooling)
    one_each = ts.model_suite_predictions(problem, better, ratchet_suite=["logreg"])
    assert one_each.members[3:] == ["logreg@best-1", "logreg@best-2"]


def test_ratchet_file_round_trips_through_the_data_directory(data_dir, tmp_path, problem, truth):
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    extra = ts.TrainingSetData("train#1", problem.reference_X[:40], problem.reference_y[:40])
    promoted = problem.ids[:5]
    (copy / ts.RATCHET_PATH).write_bytes(ts.ratchet_bytes([extra], promoted))
    assert BENCH.is_hidden(ts.RATCHET_PATH)
    loaded = BENCH.load_problem(copy, BENCH.config())
    assert [t.name for t in loaded.ratchet] == ["train#1"] and loaded.promoted_ids == promoted
    assert np.array_equal(loaded.ratchet[0].X, extra.X)
    assert len(ts.problem_predictions(loaded, BENCH.config()).members) == 6
    # A promoted item is existing test data now: proposing it again is not novel.
    assert ts.novelty(loaded, promoted) == pytest.approx({i: 0.0 for i in promoted}, abs=1e-6)
    assert all(v > 0 for v in ts.novelty(problem, promoted).values())
    assert ts.ratchet_bytes([extra], promoted) == ts.ratchet_bytes([extra], promoted)   # deterministic


def test_novelty_is_the_cosine_distance_to_the_nearest_existing_item(problem):
    item = problem.ids[7]
    x = problem.X[problem.index[item]].astype(np.float64)
    existing = problem.existing_X.astype(np.float64)
    sims = existing @ x / (np.linalg.norm(existing, axis=1) * np.linalg.norm(x))
    assert ts.novelty(problem, [item])[item] == pytest.approx(1 - sims.max())


def test_credit_is_split_between_the_submissions_containing_an_item():
    submissions = {"a": ["x", "y"], "b": ["x"], "c": ["x", "z"], "d": ["w"]}
    credits = ts.credit(submissions, scoring_items={"x", "y"})
    assert credits == {"a": pytest.approx(1 / 3 + 1), "b": pytest.approx(1 / 3), "c": pytest.approx(1 / 3), "d": 0.0}
    assert sum(credits.values()) == pytest.approx(2)   # each scoring item hands out exactly one credit


def test_credit_counts_an_entrant_once():
    # Alice re-submitted the same item: her own submissions do not divide her credit.
    credits = ts.credit({1: ["x"], 2: ["x"], 3: ["x"]}, {"x"}, entrant_of={1: "alice", 2: "alice", 3: "bob"})
    assert credits == {1: 0.5, 2: 0.5, 3: 0.5}


def test_evaluate_reports_the_machine_part_without_hidden_labels(problem, truth, tmp_path):
    predictions = ts.problem_predictions(problem, BENCH.config())
    fooling = sorted(ts.fooling_items(predictions, [(i, truth[i]) for i in problem.ids]))[:4]
    plain = [(i, predictions.majority(i)) for i in problem.ids if (i, truth[i]) not in fooling][:3]
    result = BENCH.evaluate(problem, submit(problem, csv_file(tmp_path, fooling + plain)), BENCH.config())
    assert result.scores["credit"] == 0.0 and result.scores["verified"] == 0.0
    assert result.scores["fooled"] == 4
    assert 0 < result.scores["novelty"] <= 2
    assert [item["fooled"] for item in result.details["items"]] == [True] * 4 + [False] * 3
    text = json.dumps(result.details)
    assert "true" not in {k.lower() for item in result.details["items"] for k in item}
    assert "pool_labels" not in text


def test_training_sets_are_scored_on_a_round_test_set(problem, truth):
    ids = problem.ids[:60]
    X_test = problem.X[[problem.index[i] for i in ids]]
    y_test = np.array([problem.label_index(truth[i]) for i in ids])
    result = ts.score_training_set_on_items(problem.reference_X, problem.reference_y, X_test, y_test)
    assert set(result["models"]) == {"logreg", "knn", "random_forest"}
    assert result["accuracy"] == pytest.approx(np.mean(list(result["models"].values())))
    assert result["test_size"] == 60


def test_bad_data_is_a_data_error(data_dir, tmp_path):
    copy = tmp_path / "broken"
    shutil.copytree(data_dir, copy)
    (copy / "meta.json").write_text(json.dumps({"class_names": ["only"], "display": "image"}))
    with pytest.raises(DataError, match="at least two"):
        BENCH.load_problem(copy, BENCH.config())
    with pytest.raises(DataError, match="max_items"):
        BENCH.load_problem(data_dir, BENCH.config({"max_items": 0}))


def test_offline_cli_scores_a_csv(data_dir, tmp_path, problem):
    path = csv_file(tmp_path, [(problem.ids[0], "circle"), (problem.ids[1], "cross")])
    out = subprocess.run([sys.executable, "-m", "evaluation", "score", "test-set", "--data", str(data_dir),
                          "--submission", str(path), "--json", "--max-items", "10"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["score"] == 0.0 and payload["details"]["n_items"] == 2
    bad = subprocess.run([sys.executable, "-m", "evaluation", "validate", "test-set", "--data", str(data_dir),
                          "--submission", str(csv_file(tmp_path, [("zzz", "circle")], name="bad.csv"))],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "unknown item_id 'zzz'" in bad.stderr


# --- created items (appended by the platform) ---------------------------------------------------------

def test_created_items_join_a_copy_of_the_problem_and_get_the_suites_answers(problem, truth):
    config = BENCH.config()
    X_new = problem.X[:3] + np.float32(0.05)
    extended = problem.with_items(["created-1", "created-2", "created-3"], X_new, ["", "", ""])
    assert extended.n_pool == len(problem.ids) and extended.pool is problem and len(extended.ids) == len(problem.ids) + 3
    assert extended.is_created("created-2") and not extended.is_created(problem.ids[0])
    assert "created-1" not in problem.index and extended.base is problem     # the cached pool problem is untouched
    predictions = ts.problem_predictions(extended, config)
    pool = ts.problem_predictions(problem, config)
    assert np.array_equal(predictions.matrix[: len(problem.ids)], pool.matrix)
    # The created rows are what the same members, trained the same way, predict for them.
    whole = ts.model_suite_predictions(extended, suite=config["suite"], ratchet_suite=config["ratchet_suite"],
                                       seed=config["seed"])
    assert np.array_equal(predictions.matrix, whole.matrix)
    label = predictions.class_names[int(predictions.matrix[extended.index["created-1"]][0])]
    # Proposable, scored and novel like pool items; the oracle knows no label for them.
    solution = ts.TestSetSolution(ts.check_proposals(extended, [("item 1", "created-1", label)], config, "set"), "set")
    result = BENCH.evaluate(extended, solution, config)
    assert result.details["items"][0]["item_id"] == "created-1" and result.details["items"][0]["novelty"] is not None
    assert ts.oracle_verdicts(extended, [("created-1", label)]) == {}
    with pytest.raises(DataError, match="already a pool or created item id"):
        extended.with_items([problem.ids[0]], X_new[:1], [""])
    with pytest.raises(DataError, match="features"):
        problem.with_items(["created-9"], np.zeros((1, problem.dim + 1), np.float32), [""])


def test_a_promoted_created_item_travels_in_the_ratchet_with_its_features(data_dir, tmp_path, problem):
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    features = problem.X[4] + np.float32(0.1)
    (copy / ts.RATCHET_PATH).write_bytes(ts.ratchet_bytes([], [problem.ids[0], "created-7"], {"created-7": features}))
    loaded = BENCH.load_problem(copy, BENCH.config())
    assert loaded.promoted_ids == [problem.ids[0], "created-7"] and "created-7" not in loaded.index
    assert any(np.allclose(row, features) for row in loaded.existing_X)          # existing test data for novelty
    extended = loaded.with_items(["created-7"], features[None, :], [""])
    assert ts.novelty(extended, ["created-7"])["created-7"] == pytest.approx(0.0, abs=1e-6)
    (copy / ts.RATCHET_PATH).write_bytes(ts.ratchet_bytes([], ["created-8"]))   # promoted, features missing
    with pytest.raises(DataError, match="promoted ids not in the pool"):
        BENCH.load_problem(copy, BENCH.config())
