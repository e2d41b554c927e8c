import json
import zipfile

import numpy as np
import pytest

from evaluation import DataError, SubmissionError, registry
from evaluation.__main__ import main as cli
from evaluation.benchmarks import slicing as sl

BENCH = sl.Slicing()
IDS = [f"e{i}" for i in range(10)]
HELDOUT = IDS[:8]                      # e8, e9 are the discovery-only rows


@pytest.fixture()
def data_dir(tmp_path):
    rng = np.random.default_rng(0)
    return sl.write_data_dir(tmp_path / "data", IDS, {"a": ["e0", "e1", "e2", "e8"], "b": ["e3", "e4", "e9"]},
                             HELDOUT, encoding=rng.normal(size=(10, 4)), label=np.arange(10) % 2,
                             prediction=np.zeros(10, int))


def load(data_dir, **overrides):
    return BENCH.load_problem(data_dir, BENCH.config(overrides))


def submit(problem, tmp_path, text, name="sub.csv", **overrides):
    path = tmp_path / name
    path.write_text(text)
    return BENCH.load_submission(problem, path, BENCH.config(overrides))


def scores_csv(columns: dict[str, dict[str, float]], ids=HELDOUT) -> str:
    """``id,<slice>...`` with the given scores (0 for rows a slice does not mention)."""
    names = list(columns)
    lines = [",".join(["id", *names])]
    lines += [",".join([i, *(str(columns[n].get(i, 0)) for n in names)]) for i in ids]
    return "\n".join(lines) + "\n"


def evaluate(problem, solution, **overrides):
    return BENCH.evaluate(problem, solution, BENCH.config(overrides))


def test_hand_case_best_precision_and_auroc_per_hidden_slice(data_dir, tmp_path):
    problem = load(data_dir)
    solution = submit(problem, tmp_path, scores_csv({"x": {"e0": .9, "e1": .8, "e3": .7, "e2": .1},
                                                     "y": {"e3": 1, "e4": 1, "e5": 1}}))
    result = evaluate(problem, solution)
    # a has 3 held-out members (k=3): x's top 3 are e0, e1, e3 -> 2/3. b (k=2): y ties e3, e4, e5 -> 2/3.
    assert result.details["slices"]["hidden-1"] == {"heldout_size": 3, "extra": False, "scored": True, "k": 3,
                                             "precision_at_k": pytest.approx(2 / 3), "best_slice": "x",
                                             "auroc": pytest.approx(14 / 15)}
    assert result.details["slices"]["hidden-2"]["best_slice"] == "y"
    assert result.details["slices"]["hidden-2"]["auroc"] == pytest.approx(11 / 12)
    assert result.scores == {"mean_precision_at_k": pytest.approx(2 / 3),
                             "mean_auroc": pytest.approx((14 / 15 + 11 / 12) / 2), "slices_submitted": 2.0}
    assert result.details["heldout_rows"] == 8
    assert list(result.details["slices"]) == ["hidden-1", "hidden-2"]     # hidden slice names stay hidden
    json.dumps(result.as_dict(BENCH.primary_metric), allow_nan=False)


def test_perfect_submission_scores_one_and_constant_scores_the_base_rate(data_dir, tmp_path):
    problem = load(data_dir)
    perfect = submit(problem, tmp_path, scores_csv({"p": {"e0": 1, "e1": 1, "e2": 1}, "q": {"e3": 1, "e4": 1}}))
    assert evaluate(problem, perfect).scores["mean_precision_at_k"] == 1.0
    assert evaluate(problem, perfect).scores["mean_auroc"] == 1.0
    constant = submit(problem, tmp_path, scores_csv({"all": {i: 1 for i in IDS}}))
    result = evaluate(problem, constant)
    # ties are broken in expectation: a holds 3 and b 2 of the 8 held-out rows
    assert result.scores["mean_precision_at_k"] == pytest.approx((3 / 8 + 2 / 8) / 2)
    assert result.scores["mean_auroc"] == 0.5


def test_only_held_out_rows_count(data_dir, tmp_path):
    problem = load(data_dir)
    base = {"x": {"e0": 1, "e1": 1}, "y": {"e3": 1}}
    without = evaluate(problem, submit(problem, tmp_path, scores_csv(base)))
    # discovery rows e8 (in a) and e9 (in b) scored highest change nothing
    with_discovery = {"x": {**base["x"], "e8": 5}, "y": {**base["y"], "e9": 5}}
    again = evaluate(problem, submit(problem, tmp_path, scores_csv(with_discovery, ids=IDS)))
    assert without.scores == again.scores


def test_slice_names_and_column_order_do_not_matter(data_dir, tmp_path):
    problem = load(data_dir)
    one = submit(problem, tmp_path, scores_csv({"x": {"e0": 1, "e3": .5}, "y": {"e4": 1, "e2": .2}}))
    two = submit(problem, tmp_path, scores_csv({"Other": {"e4": 1, "e2": .2}, "7": {"e0": 1, "e3": .5}}))
    assert evaluate(problem, one).scores == evaluate(problem, two).scores
    assert two.labels == ["other", "7"]          # header names are case-insensitive, like every CSV header


def test_fixed_k(data_dir, tmp_path):
    problem = load(data_dir)
    solution = submit(problem, tmp_path, scores_csv({"x": {"e0": 3, "e1": 2, "e5": 1}}))
    result = evaluate(problem, solution, precision_k=1)
    first = result.details["slices"]["hidden-1"]
    assert first["k"] == 1 and first["precision_at_k"] == 1.0
    assert result.details["slices"]["hidden-2"]["precision_at_k"] == 0.0


def test_extra_slices_are_scored_like_originals_and_need_held_out_members(data_dir, tmp_path):
    (data_dir / "slices" / "extra_c.csv").write_text("id\ne6\ne7\n")
    (data_dir / "slices" / "extra_d.csv").write_text("id\ne9\n")              # discovery rows only
    problem = load(data_dir)
    assert list(problem.slices) == ["a", "b", "extra_c", "extra_d"] and problem.extra == {"extra_c", "extra_d"}
    solution = submit(problem, tmp_path, scores_csv({"p": {"e0": 1, "e1": 1, "e2": 1}, "q": {"e3": 1, "e4": 1},
                                                     "r": {"e6": 1, "e7": 1}}))
    result = evaluate(problem, solution)
    assert result.scores["mean_precision_at_k"] == 1.0
    assert result.details["slices"]["hidden-3"]["extra"] and result.details["slices"]["hidden-3"]["best_slice"] == "r"
    assert result.details["slices"]["hidden-4"] == {"heldout_size": 0, "extra": True, "scored": False}


def test_expected_precision_with_ties():
    scores = np.array([3.0, 2, 2, 2, 1])
    positives = np.array([0, 1, 1, 0, 1], bool)
    assert sl.expected_precision_at_k(scores, positives, 1) == 0.0
    assert sl.expected_precision_at_k(scores, positives, 2) == pytest.approx((0 + 2 / 3) / 2)
    assert sl.expected_precision_at_k(scores, positives, 4) == pytest.approx(2 / 4)
    assert sl.expected_precision_at_k(scores, positives, 5) == pytest.approx(3 / 5)


def test_auroc_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    positives = rng.random(200) < 0.2
    scores = np.round(rng.random(200) + positives * 0.3, 1)          # many ties
    assert sl.auroc(scores, positives) == pytest.approx(roc_auc_score(positives, scores))


@pytest.mark.parametrize("text, message, overrides", [
    ("id,x\ne0,1\ne99,1\n", r"sub.csv, line 3: unknown id 'e99'", {}),
    ("id,x\ne0,1\ne0,2\n", r"line 3: id 'e0' appears twice \(also line 2\)", {}),
    ("id,x\ne0,1\n", r"7 held-out row\(s\) of heldout.csv missing: 'e1', 'e2'", {}),
    ("id,x,y,z\n", r"3 slice columns; at most 2 are allowed", {"max_slices": 2}),
    ("id\ne0\n", r"no slice columns", {}),
    ("id,x,\ne0,1,1\n", r"empty name", {}),
    ("slice,score\nx,1\n", r"header must have an id column", {}),
    ("id,x,X\ne0,1,1\n", r"unexpected or repeated column", {}),
    ("id,x\ne0,nan\n", r"line 2, column 'x': 'nan' is not a finite number", {}),
    ("id,x\ne0,high\n", r"line 2, column 'x': 'high' is not a number", {}),
    ("id,x\ne0,1,1\n", r"line 2: expected 2 fields, found 3", {}),
    ("\n\n", r"the file is empty", {}),
])
def test_submission_errors_name_the_problem(data_dir, tmp_path, text, message, overrides):
    problem = load(data_dir)
    with pytest.raises(SubmissionError, match=message):
        submit(problem, tmp_path, text, **overrides)


def test_a_thousand_random_slices_are_refused(data_dir, tmp_path):
    problem = load(data_dir)
    rng = np.random.default_rng(0)
    text = scores_csv({f"s{j}": dict(zip(HELDOUT, rng.random(8).round(3))) for j in range(1000)})
    with pytest.raises(SubmissionError, match="1000 slice columns; at most 10 are allowed"):
        submit(problem, tmp_path, text)


def test_one_csv_alone_or_in_a_zip(data_dir, tmp_path):
    problem = load(data_dir)
    text = scores_csv({"x": {"e0": 1}})
    with zipfile.ZipFile(tmp_path / "sub.zip", "w") as archive:
        archive.writestr("folder/scores.csv", text)
    assert BENCH.load_submission(problem, tmp_path / "sub.zip", BENCH.config()).labels == ["x"]
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.csv", text)
        archive.writestr("b.csv", text)
    with pytest.raises(SubmissionError, match="expected one CSV"):
        BENCH.load_submission(problem, tmp_path / "two.zip", BENCH.config())


def test_accepting_a_slice_reads_its_members_from_every_listed_row(data_dir, tmp_path):
    problem = load(data_dir)
    solution = submit(problem, tmp_path, scores_csv({"Found": {"e1": 0.5, "e2": 0.9, "e9": 1, "e3": 0.49}}, ids=IDS))
    assert sl.submitted_slice_members(problem, solution, "found") == ["e1", "e2", "e9"]
    with pytest.raises(SubmissionError, match=r"no slice 'nope' \(its slices: 'found'\)"):
        sl.submitted_slice_members(problem, solution, "nope")
    low = submit(problem, tmp_path, scores_csv({"x": {"e1": 0.2}}))
    with pytest.raises(SubmissionError, match="no rows with a score of at least 0.5"):
        sl.submitted_slice_members(problem, low, "x")
    assert sl.extra_slice_file("new", ["e1", "e2"]) == ("slices/extra_new.csv", b"id\ne1\ne2\n")


def test_layout(data_dir, tmp_path):
    assert isinstance(registry.get("slicing"), sl.Slicing)
    assert BENCH.is_hidden("slices/a.csv") and not BENCH.is_hidden("data.parquet")
    files = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file())
    # which rows are scored is public, every slice membership file is hidden
    assert [f for f in files if not BENCH.is_hidden(f)] == ["data.parquet", "heldout.csv"]
    assert [f for f in files if BENCH.is_hidden(f)] == ["slices/a.csv", "slices/b.csv"]
    (data_dir / "slices" / "bad.csv").write_text("id\nnot-an-id\n")
    with pytest.raises(DataError, match="slices/bad.csv: ids not in data.parquet"):
        load(data_dir)
    for path in (data_dir / "slices").iterdir():
        path.unlink()
    problem = load(data_dir)                 # public copy: submissions validate, scoring needs the slices
    solution = submit(problem, tmp_path, scores_csv({"x": {"e0": 1}}))
    with pytest.raises(DataError, match="ground-truth slices"):
        evaluate(problem, solution)
    (data_dir / "heldout.csv").unlink()
    with pytest.raises(DataError, match="missing heldout.csv"):
        load(data_dir)


def test_cli_scores_and_refuses_a_bad_file(data_dir, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text(scores_csv({"x": {"e0": 1, "e1": 1, "e2": 1}}))
    assert cli(["score", "slicing", "--data", str(data_dir), "--submission", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scores"]["mean_precision_at_k"] == pytest.approx((1 + 0) / 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,x\ne0,1\n")
    assert cli(["score", "slicing", "--data", str(data_dir), "--submission", str(bad)]) == 2
    assert "held-out row(s) of heldout.csv missing" in capsys.readouterr().err
