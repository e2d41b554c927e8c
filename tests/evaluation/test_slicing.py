import json

import numpy as np
import pytest

from evaluation import DataError, SubmissionError, registry
from evaluation.benchmarks import slicing as sl

BENCH = sl.Slicing()
IDS = [f"e{i}" for i in range(10)]


@pytest.fixture()
def data_dir(tmp_path):
    rng = np.random.default_rng(0)
    return sl.write_data_dir(tmp_path / "data", IDS, {"a": ["e0", "e1", "e2"], "b": ["e3", "e4"]},
                             encoding=rng.normal(size=(10, 4)), label=np.arange(10) % 2, prediction=np.zeros(10, int))


def load(data_dir, **overrides):
    return BENCH.load_problem(data_dir, BENCH.config(overrides))


def submit(problem, tmp_path, text, name="sub.csv", **overrides):
    path = tmp_path / name
    path.write_text(text)
    return BENCH.load_submission(problem, path, BENCH.config(overrides))


def assignment_csv(groups):
    return "id,slice\n" + "".join(f"{i},{label}\n" for label, members in groups.items() for i in members)


def test_hand_case_accuracy_and_precision(data_dir, tmp_path):
    problem = load(data_dir)
    solution = submit(problem, tmp_path, assignment_csv({"x": ["e0", "e1", "e2", "e3"], "y": ["e4", "e5"]}))
    result = BENCH.evaluate(problem, solution, BENCH.config({"precision_k": 2}))
    # x<->a (3 right), y<->b (1 right), e6..e9 unassigned and in no slice (4 right): 8 of 10
    assert result.scores["slice_accuracy"] == pytest.approx(0.8)
    # a: x's 4 tied members hold 3 of a -> expected precision@2 = 3/4; b: y = {e4, e5} -> 1/2
    assert result.details["slices"]["a"] == {"precision_at_k": 0.75, "matched_slice": "x", "extra": False}
    assert result.details["slices"]["b"]["precision_at_k"] == 0.5
    assert result.scores["mean_precision_at_k"] == pytest.approx(0.625)
    json.dumps(result.as_dict(BENCH.primary_metric), allow_nan=False)


def test_slice_labels_are_arbitrary(data_dir, tmp_path):
    problem = load(data_dir)
    one = submit(problem, tmp_path, assignment_csv({"x": ["e0", "e1", "e3"], "y": ["e4", "e2"]}))
    two = submit(problem, tmp_path, assignment_csv({"7": ["e4", "e2"], "zz": ["e0", "e1", "e3"]}))
    assert BENCH.evaluate(problem, one, BENCH.config()).scores == BENCH.evaluate(problem, two, BENCH.config()).scores


def test_perfect_and_empty_submissions(data_dir, tmp_path):
    problem = load(data_dir)
    perfect = submit(problem, tmp_path, assignment_csv({"p": ["e0", "e1", "e2"], "q": ["e3", "e4"]}))
    result = BENCH.evaluate(problem, perfect, BENCH.config({"precision_k": 2}))
    assert result.scores == {"slice_accuracy": 1.0, "mean_precision_at_k": 1.0}
    nothing = submit(problem, tmp_path, "id,slice\n")
    result = BENCH.evaluate(problem, nothing, BENCH.config())
    assert result.scores == {"slice_accuracy": 0.5, "mean_precision_at_k": 0.0}   # only the 5 background rows


def test_ranking_scores_drive_precision(data_dir, tmp_path):
    problem = load(data_dir)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "assign.csv").write_text(assignment_csv({"x": ["e0", "e1", "e2", "e3"], "y": ["e4", "e5"]}))
    (tmp_path / "sub" / "rank.csv").write_text("slice,id,score\nx,e0,0.9\nx,e3,0.8\nx,e1,0.7\ny,e4,1\n")
    solution = BENCH.load_submission(problem, tmp_path / "sub", BENCH.config())
    result = BENCH.evaluate(problem, solution, BENCH.config({"precision_k": 2}))
    assert result.details["slices"]["a"]["precision_at_k"] == 0.5     # top 2 of x by score: e0, e3
    # y ranks only e4; the other 9 rows tie below it and hold no member of b besides e3 (1 of 9)
    assert result.details["slices"]["b"]["precision_at_k"] == pytest.approx((1 + 1 / 9) / 2)


def test_rankings_only_assign_by_highest_score(data_dir, tmp_path):
    problem = load(data_dir)
    text = "slice,id,score\nx,e0,0.9\nx,e1,0.9\nx,e2,0.2\ny,e2,0.5\ny,e3,0.4\ny,e4,0.3\n"
    solution = submit(problem, tmp_path, text)
    assert [solution.labels[s] if s >= 0 else None for s in solution.assignment[:6]] == ["x", "x", "y", "y", "y", None]
    # x = {e0, e1} <-> a, y = {e2, e3, e4} <-> b: 2 + 2 right, plus the 5 unassigned background rows
    assert BENCH.evaluate(problem, solution, BENCH.config()).scores["slice_accuracy"] == pytest.approx(0.9)


def test_extra_slices_are_loaded_like_originals(data_dir, tmp_path):
    (data_dir / "slices" / "extra_c.csv").write_text("id\ne6\ne7\n")
    problem = load(data_dir)
    assert list(problem.slices) == ["a", "b", "extra_c"] and problem.extra == {"extra_c"}
    solution = submit(problem, tmp_path, assignment_csv({"p": ["e0", "e1", "e2"], "q": ["e3", "e4"], "r": ["e6", "e7"]}))
    result = BENCH.evaluate(problem, solution, BENCH.config({"precision_k": 2}))
    assert result.scores["slice_accuracy"] == 1.0
    assert result.details["slices"]["extra_c"] == {"precision_at_k": 1.0, "matched_slice": "r", "extra": True}


def test_expected_precision_with_ties():
    scores = np.array([3.0, 2, 2, 2, 1])
    positives = np.array([0, 1, 1, 0, 1], bool)
    assert sl.expected_precision_at_k(scores, positives, 1) == 0.0
    assert sl.expected_precision_at_k(scores, positives, 2) == pytest.approx((0 + 2 / 3) / 2)
    assert sl.expected_precision_at_k(scores, positives, 4) == pytest.approx(2 / 4)
    assert sl.expected_precision_at_k(scores, positives, 5) == pytest.approx(3 / 5)


@pytest.mark.parametrize("text, message, overrides", [
    ("id,slice\ne0,x\ne99,y\n", r"sub.csv, line 3: unknown id 'e99'", {}),
    ("id,slice\ne0,x\ne0,y\n", r"line 3: id 'e0' appears twice \(also line 2\)", {}),
    ("id,slice\ne0,x\ne1,y\ne2,z\n", r"line 4: more than 2 distinct slices", {"max_slices": 2}),
    ("id,slice\ne0,\n", r"line 2: empty slice label", {}),
    ("slice,id,score\nx,e0,nan\n", r"line 2 \(score\): 'nan' is not a finite number", {}),
    ("slice,id,score\nx,e0,1\nx,e0,2\n", r"line 3: id 'e0' ranked twice in slice 'x'", {}),
    ("id,slice,extra\ne0,x,1\n", r"unexpected or repeated column", {}),
    ("id,slice\ne0,x,1\n", r"line 2: expected 2 fields, found 3", {}),
])
def test_submission_errors(data_dir, tmp_path, text, message, overrides):
    problem = load(data_dir)
    with pytest.raises(SubmissionError, match=message):
        submit(problem, tmp_path, text, **overrides)


def test_two_assignment_files_rejected(data_dir, tmp_path):
    problem = load(data_dir)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_text("id,slice\ne0,x\n")
    (tmp_path / "sub" / "b.csv").write_text("id,slice\ne1,x\n")
    with pytest.raises(SubmissionError, match="more than one id,slice assignment file"):
        BENCH.load_submission(problem, tmp_path / "sub", BENCH.config())


def test_layout(data_dir, tmp_path):
    assert isinstance(registry.get("slicing"), sl.Slicing)
    assert BENCH.is_hidden("slices/a.csv") and not BENCH.is_hidden("data.parquet")
    (data_dir / "slices" / "bad.csv").write_text("id\nnot-an-id\n")
    with pytest.raises(DataError, match="bad.csv: ids not in data.parquet"):
        load(data_dir)
    for path in (data_dir / "slices").iterdir():
        path.unlink()
    problem = load(data_dir)                 # public copy: submissions validate, scoring needs the slices
    solution = submit(problem, tmp_path, "id,slice\ne0,x\n")
    with pytest.raises(DataError, match="ground-truth slices"):
        BENCH.evaluate(problem, solution, BENCH.config())
