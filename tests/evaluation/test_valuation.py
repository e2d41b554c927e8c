import json
import zipfile

import numpy as np
import pytest

from evaluation import DataError, SubmissionError, registry
from evaluation.benchmarks import valuation as val
from evaluation.models import accuracy, fit_predict

BENCH = val.Valuation()


def blobs(rng, n, shift=0.0, only=None):
    y = rng.integers(0, 2, n) if only is None else np.full(n, only)
    X = rng.normal(size=(n, 6)) + np.where(y[:, None] == 1, 1.0, -1.0) + shift
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(0)
    X_a, y_a = blobs(rng, 12)
    candidates = {"small": blobs(rng, 5), "large": blobs(rng, 150), "shifted": blobs(rng, 100, shift=2.5),
                  "one-class": blobs(rng, 80, only=1)}
    X_test, y_test = blobs(rng, 300)
    out = val.write_data_dir(tmp_path_factory.mktemp("valuation"), X_a, y_a, candidates, X_test, y_test)
    problem = BENCH.load_problem(out, BENCH.config())
    expected = {cid: accuracy(fit_predict("logreg", np.vstack([X_a, X_b]), np.concatenate([y_a, y_b]), X_test), y_test)
                for cid, (X_b, y_b) in candidates.items()}
    return out, problem, expected


def submit(problem, tmp_path, predictions, name="pred.csv"):
    path = tmp_path / name
    path.write_text("candidate_id,predicted_accuracy\n" + "".join(f"{c},{p}\n" for c, p in predictions.items()))
    return BENCH.load_submission(problem, path, BENCH.config())


def test_true_accuracies_are_the_fixed_model_on_a_union_b(data):
    _, problem, expected = data
    truth = problem.true_accuracies("logreg", 0)["candidates"]
    assert truth == expected
    assert len(set(truth.values())) > 1   # the candidates differ in value


def test_scores(data, tmp_path):
    _, problem, expected = data
    perfect = BENCH.evaluate(problem, submit(problem, tmp_path, expected), BENCH.config())
    assert perfect.scores == {"spearman": pytest.approx(1.0), "regret": 0.0, "mae": 0.0, "max_abs_error": 0.0}
    assert BENCH.primary_metric == "spearman" and BENCH.metric("spearman").higher_is_better
    assert not BENCH.metric("regret").higher_is_better and not BENCH.metric("mae").higher_is_better
    shifted = {cid: max(0.0, value - 0.1) for cid, value in expected.items()}
    result = BENCH.evaluate(problem, submit(problem, tmp_path, shifted), BENCH.config())
    errors = [abs(shifted[c] - expected[c]) for c in expected]
    assert result.scores["mae"] == pytest.approx(np.mean(errors))
    assert result.scores["max_abs_error"] == pytest.approx(max(errors))
    # details are aggregates only: per-candidate numbers would reveal the hidden accuracies
    assert set(result.details) == {"candidates", "spearman_defined", "model"}
    json.dumps(result.as_dict(BENCH.primary_metric), allow_nan=False)


def test_constant_prediction_has_undefined_rank_correlation(data, tmp_path):
    _, problem, expected = data
    result = BENCH.evaluate(problem, submit(problem, tmp_path, {c: 0.5 for c in expected}), BENCH.config())
    assert result.scores["spearman"] == 0.0 and result.details["spearman_defined"] is False
    assert result.scores["mae"] == pytest.approx(np.mean([abs(0.5 - v) for v in expected.values()]))
    # buying "any of them" at random: the mean regret, not the luck of the first file
    best = max(expected.values())
    assert result.scores["regret"] == pytest.approx(np.mean([best - v for v in expected.values()]))


def test_ties_take_average_ranks_and_the_tied_top_pays_its_mean_regret(data, tmp_path):
    _, problem, expected = data
    order = sorted(expected, key=expected.get)            # worst .. best
    assert len(set(expected.values())) == len(expected)   # distinct accuracies, so the ranks below are exact
    # the two best tied at the top, the rest in the right order
    tied = {cid: (0.9 if i >= len(order) - 2 else 0.1 * (i + 1)) for i, cid in enumerate(order)}
    result = BENCH.evaluate(problem, submit(problem, tmp_path, tied), BENCH.config())
    ranks = np.arange(1, len(order) + 1, dtype=float)
    tied_ranks = ranks.copy()
    tied_ranks[-2:] = ranks[-2:].mean()
    assert result.scores["spearman"] == pytest.approx(np.corrcoef(tied_ranks, ranks)[0, 1])
    assert result.scores["regret"] == pytest.approx((expected[order[-1]] - expected[order[-2]]) / 2)
    # choosing the worst first costs the whole spread
    backwards = {cid: 1.0 - expected[cid] for cid in expected}
    result = BENCH.evaluate(problem, submit(problem, tmp_path, backwards), BENCH.config())
    assert result.scores["spearman"] == pytest.approx(-1.0)
    assert result.scores["regret"] == pytest.approx(max(expected.values()) - min(expected.values()))


def test_one_candidate_scores_zero_correlation_not_nan(tmp_path):
    rng = np.random.default_rng(3)
    X_a, y_a = blobs(rng, 10)
    out = val.write_data_dir(tmp_path / "one", X_a, y_a, {"only": blobs(rng, 20)}, *blobs(rng, 50))
    problem = BENCH.load_problem(out, BENCH.config())
    result = BENCH.evaluate(problem, submit(problem, tmp_path, {"only": 0.7}), BENCH.config())
    assert result.scores["spearman"] == 0.0 and result.scores["regret"] == 0.0
    json.dumps(result.as_dict(BENCH.primary_metric), allow_nan=False)


def test_samples_are_public_rows_of_their_candidate_with_their_true_labels(tmp_path):
    rng = np.random.default_rng(4)
    X_a, y_a = blobs(rng, 10)
    candidates = {"s1": blobs(rng, 20), "s2": blobs(rng, 30)}
    out = val.write_data_dir(tmp_path / "samples", X_a, y_a, candidates, *blobs(rng, 50),
                             samples={"s1": np.array([0, 5, 7]), "s2": np.array([1])})
    assert not BENCH.is_hidden("samples/s1.parquet")
    problem = BENCH.load_problem(out, BENCH.config())
    rows, labels = problem.samples["s1"]
    assert rows.tolist() == [0, 5, 7] and labels.tolist() == candidates["s1"][1][[0, 5, 7]].tolist()
    # a sample whose labels disagree with the hidden ones is a broken data directory, named
    import pandas as pd
    table = pd.read_parquet(out / "samples" / "s1.parquet")
    table["label"] = 1 - table["label"]
    table.to_parquet(out / "samples" / "s1.parquet")
    with pytest.raises(DataError, match=r"samples/s1.parquet: labels differ"):
        BENCH.load_problem(out, BENCH.config())
    table.assign(id=["s1-0", "s1-5", "nope"]).to_parquet(out / "samples" / "s1.parquet")
    with pytest.raises(DataError, match=r"samples/s1.parquet: 1 id\(s\) not in candidates/s1.parquet"):
        BENCH.load_problem(out, BENCH.config())


def test_true_accuracies_computed_once(data, tmp_path, monkeypatch):
    data_dir, _, expected = data
    problem = BENCH.load_problem(data_dir, BENCH.config())
    calls = []
    real = val.fit_predict
    monkeypatch.setattr(val, "fit_predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    solution = submit(problem, tmp_path, expected)
    BENCH.evaluate(problem, solution, BENCH.config())
    first = len(calls)
    assert first == len(expected) + 1   # A alone + each A ∪ B_k
    BENCH.evaluate(problem, solution, BENCH.config())
    assert len(calls) == first


@pytest.mark.parametrize("body, message", [
    ("small,0.5\nlarge,0.5\nshifted,0.5\n", r"1 candidate_id\(s\) missing: 'one-class'"),
    ("small,0.5\nsmall,0.6\nlarge,0.5\nshifted,0.5\none-class,0.5\n", r"line 3: candidate_id 'small' appears twice"),
    ("small,0.5\nbig,0.5\n", r"line 3: unknown candidate_id 'big'"),
    ("small,1.5\n", r"line 2: 1.5 is outside \[0.0, 1.0\]"),
    ("small,high\n", r"line 2: 'high' is not a number"),
    ("small,nan\n", r"line 2: 'nan' is not a finite number"),
])
def test_submission_errors(data, tmp_path, body, message):
    _, problem, _ = data
    path = tmp_path / "pred.csv"
    path.write_text("candidate_id,predicted_accuracy\n" + body)
    with pytest.raises(SubmissionError, match=message):
        BENCH.load_submission(problem, path, BENCH.config())


def test_submission_shape_errors(data, tmp_path):
    _, problem, _ = data
    path = tmp_path / "pred.csv"
    path.write_text("candidate,accuracy\nsmall,0.5\n")
    with pytest.raises(SubmissionError, match="header must have column"):
        BENCH.load_submission(problem, path, BENCH.config())
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", "x")
        zf.writestr("b.csv", "y")
    with pytest.raises(SubmissionError, match="expected one CSV"):
        BENCH.load_submission(problem, archive, BENCH.config())


def test_layout_errors_and_public_copy(data, tmp_path):
    data_dir, _, expected = data
    assert isinstance(registry.get("valuation"), val.Valuation)
    assert BENCH.is_hidden("hidden/test.parquet") and not BENCH.is_hidden("candidates/small.parquet")
    assert BENCH.is_hidden("BUILD_INFO.json") and not BENCH.is_hidden("samples/small.parquet")
    with pytest.raises(DataError, match="missing data file a.parquet"):
        BENCH.load_problem(tmp_path, BENCH.config())
    public = tmp_path / "public"
    (public / "candidates").mkdir(parents=True)
    (public / "a.parquet").write_bytes((data_dir / "a.parquet").read_bytes())
    with pytest.raises(DataError, match="no candidates"):
        BENCH.load_problem(public, BENCH.config())
    for path in (data_dir / "candidates").iterdir():
        (public / "candidates" / path.name).write_bytes(path.read_bytes())
    problem = BENCH.load_problem(public, BENCH.config())
    solution = submit(problem, tmp_path, expected)          # participants can validate offline
    with pytest.raises(DataError, match="hidden data"):
        BENCH.evaluate(problem, solution, BENCH.config())
    with pytest.raises(DataError, match="unknown model"):
        BENCH.load_problem(data_dir, BENCH.config({"model": "svm"}))


def test_data_quality_baseline_survives_degenerate_data(tmp_path):
    """One class in A, a candidate of one repeated row, a sample label A never shows, no samples at all."""
    from evaluation.baselines import run_baseline

    rng = np.random.default_rng(5)
    X_a, _ = blobs(rng, 12)
    y_a = np.zeros(12, dtype=np.int64)
    X_rep, y_rep = blobs(rng, 1)
    candidates = {"repeated": (np.repeat(X_rep, 30, axis=0), np.repeat(y_rep, 30)), "mixed": blobs(rng, 40),
                  "new-class": (blobs(rng, 20)[0], np.full(20, 2))}
    X_test, y_test = blobs(rng, 60)
    for name, samples in (("with-samples", {cid: np.arange(5) for cid in candidates}), ("no-samples", None)):
        out = val.write_data_dir(tmp_path / name, X_a, y_a, candidates, X_test, y_test, samples=samples)
        problem = BENCH.load_problem(out, BENCH.config())
        path = run_baseline("valuation", "data-quality", out, tmp_path / f"{name}-submission", BENCH.config())
        predictions = BENCH.load_submission(problem, path, BENCH.config())   # valid: every candidate, in [0, 1]
        assert set(predictions) == set(candidates)
        result = BENCH.evaluate(problem, predictions, BENCH.config())
        assert all(np.isfinite(list(result.scores.values())))


def test_two_simultaneous_scorings_train_the_candidates_once(data, tmp_path, monkeypatch):
    import threading

    data_dir, _, expected = data
    problem = BENCH.load_problem(data_dir, BENCH.config())
    solution = submit(problem, tmp_path, expected)
    calls, real = [], val.fit_predict
    monkeypatch.setattr(val, "fit_predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    results = []
    threads = [threading.Thread(target=lambda: results.append(BENCH.evaluate(problem, solution, BENCH.config())))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == len(expected) + 1
    assert [r.scores for r in results] == [results[0].scores] * 2 and results[0].scores["spearman"] == pytest.approx(1.0)
