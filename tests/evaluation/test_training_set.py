import io
import json
import zipfile

import numpy as np
import pytest

from evaluation import DataError, SubmissionError, registry
from evaluation.benchmarks import training_set as ts
from evaluation.models import SUITES, accuracy, fit_predict

BENCH = ts.TrainingSetCreation()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(1)

    def blobs(n):
        y = rng.integers(0, 2, n)
        return (rng.normal(size=(n, 5)) + np.where(y[:, None] == 1, 0.8, -0.8)).astype(np.float32), y

    X, y = blobs(200)
    X_test, y_test = blobs(200)
    out = ts.write_data_dir(tmp_path_factory.mktemp("training_set"), X, y, range(10), X_test, y_test)
    return out, BENCH.load_problem(out, BENCH.config()), (X, y, X_test, y_test)


def suite_mean(X, y, X_test, y_test):
    return np.mean([accuracy(fit_predict(name, X, y, X_test), y_test) for name in SUITES["default"]])


def csv_text(ids, labels):
    return "id,label\n" + "".join(f"{i},{label}\n" for i, label in zip(ids, labels))


def submit(problem, path, **overrides):
    return BENCH.load_submission(problem, path, BENCH.config(overrides))


def test_score_is_mean_suite_accuracy(data, tmp_path):
    _, problem, (X, y, X_test, y_test) = data
    rows = list(range(0, 200, 2))
    (tmp_path / "t.csv").write_text(csv_text([f"p{r}" for r in rows], y[rows]))
    result = BENCH.evaluate(problem, submit(problem, tmp_path / "t.csv"), BENCH.config())
    assert result.scores["accuracy"] == pytest.approx(suite_mean(X[rows], y[rows], X_test, y_test))
    assert set(result.details["models"]) == {"logreg", "knn", "random_forest"}
    assert result.details["baseline_accuracy"] == pytest.approx(suite_mean(X[:10], y[:10], X_test, y_test))
    assert result.details["train_size"] == 100 and result.details["augmented"] == 0
    json.dumps(result.as_dict(BENCH.primary_metric), allow_nan=False)


def test_submitted_labels_are_used(data, tmp_path):
    _, problem, (X, y, _, _) = data
    (tmp_path / "t.csv").write_text(csv_text([f"p{r}" for r in range(200)], 1 - y))
    result = BENCH.evaluate(problem, submit(problem, tmp_path / "t.csv"), BENCH.config({"max_train_size": 200}))
    assert result.scores["accuracy"] < 0.3   # every label flipped: the models learn the opposite


def test_augmented_npz_and_zip(data, tmp_path):
    _, problem, (X, y, X_test, y_test) = data
    buffer = io.BytesIO()
    np.savez(buffer, X=X[100:150] + 0.01, y=y[100:150])
    (tmp_path / "aug.npz").write_bytes(buffer.getvalue())
    alone = submit(problem, tmp_path / "aug.npz")
    assert len(alone) == 50 and alone.X_extra.shape == (50, 5)
    with zipfile.ZipFile(tmp_path / "both.zip", "w") as zf:
        zf.writestr("train.csv", csv_text(["p1", "p2", "p2"], [y[1], y[2], y[2]]))
        zf.writestr("aug.npz", buffer.getvalue())
    both = submit(problem, tmp_path / "both.zip")
    assert len(both) == 53 and both.rows.tolist() == [1, 2, 2]
    result = BENCH.evaluate(problem, both, BENCH.config())
    Xt = np.vstack([X[[1, 2, 2]], X[100:150] + 0.01])
    assert result.scores["accuracy"] == pytest.approx(suite_mean(Xt, np.r_[y[[1, 2, 2]], y[100:150]], X_test, y_test))
    with pytest.raises(SubmissionError, match="does not accept augmented"):
        submit(problem, tmp_path / "aug.npz", allow_augmented=False)


def test_baseline_computed_once(data, tmp_path, monkeypatch):
    data_dir, _, (_, y, _, _) = data
    problem = BENCH.load_problem(data_dir, BENCH.config())
    calls = []
    real = ts.fit_predict
    monkeypatch.setattr(ts, "fit_predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    (tmp_path / "t.csv").write_text(csv_text(["p0", "p1", "p5"], y[[0, 1, 5]]))
    solution = submit(problem, tmp_path / "t.csv")
    BENCH.evaluate(problem, solution, BENCH.config())
    BENCH.evaluate(problem, solution, BENCH.config())
    assert len(calls) == 3 + 3 + 3   # baseline once, the submission twice


@pytest.mark.parametrize("text, message", [
    ("id,label\np0,0\np999,1\n", r"t.csv, line 3: unknown id 'p999'"),
    ("id,label\np0,7\n", r"line 2: unknown label 7"),
    ("id,label\np0,one\n", r"line 2 \(label\): 'one' is not an integer"),
    ("id,label\n", r"the training set is empty"),
    ("id\np0\n", r"header must have column"),
])
def test_csv_errors(data, tmp_path, text, message):
    _, problem, _ = data
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(SubmissionError, match=message):
        submit(problem, tmp_path / "t.csv")


def test_size_cap(data, tmp_path):
    _, problem, (_, y, _, _) = data
    (tmp_path / "t.csv").write_text(csv_text([f"p{r}" for r in range(30)], y[:30]))
    assert len(submit(problem, tmp_path / "t.csv", max_train_size=30)) == 30
    with pytest.raises(SubmissionError, match="30 training examples .* the limit is 29"):
        submit(problem, tmp_path / "t.csv", max_train_size=29)


@pytest.mark.parametrize("arrays, message", [
    ({"X": np.zeros((3, 4)), "y": np.zeros(3, int)}, r"X must be \(m, 5\)"),
    ({"X": np.zeros((3, 5))}, r"missing array\(s\) y"),
    ({"X": np.full((2, 5), np.nan), "y": np.zeros(2, int)}, r"finite numbers"),
    ({"X": np.zeros((2, 5)), "y": np.array([0, 3])}, r"unknown label\(s\) \[3\]"),
    ({"X": np.zeros((2, 5)), "y": np.array([0.5, 1])}, r"integer labels"),
    ({"X": np.array([[object()] * 5], dtype=object), "y": np.zeros(1, int)}, r"not a readable .npz"),
])
def test_npz_errors(data, tmp_path, arrays, message):
    _, problem, _ = data
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (tmp_path / "a.npz").write_bytes(buffer.getvalue())
    with pytest.raises(SubmissionError, match=message):
        submit(problem, tmp_path / "a.npz")


def test_layout(data, tmp_path):
    data_dir, _, _ = data
    assert isinstance(registry.get("training-set"), ts.TrainingSetCreation)
    assert BENCH.is_hidden("hidden/test.parquet") and not BENCH.is_hidden("pool.parquet")
    public = tmp_path / "public"
    public.mkdir()
    (public / "pool.parquet").write_bytes((data_dir / "pool.parquet").read_bytes())
    with pytest.raises(DataError, match="baseline.csv"):
        BENCH.load_problem(public, BENCH.config())
    (public / "baseline.csv").write_text("id\np0\nnope\n")
    with pytest.raises(DataError, match="line 3: unknown id 'nope'"):
        BENCH.load_problem(public, BENCH.config())
    (public / "baseline.csv").write_text("id\np0\np1\n")
    problem = BENCH.load_problem(public, BENCH.config())
    (tmp_path / "t.csv").write_text("id,label\np0,1\n")
    with pytest.raises(DataError, match="hidden test set"):
        BENCH.evaluate(problem, submit(problem, tmp_path / "t.csv"), BENCH.config())
    with pytest.raises(DataError, match="unknown model"):
        BENCH.load_problem(data_dir, BENCH.config({"suite": ["logreg", "svm"]}))
