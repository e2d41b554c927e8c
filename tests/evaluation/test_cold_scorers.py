"""What makes cold commands fast must not change a number: the sklearn-free logistic regression, the
on-disk derived cache, the sorted-id pool index and the lazy registry."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from evaluation import cache, exact_logreg, registry
from evaluation.benchmarks import vision_selection as vs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not exact_logreg.available(), reason="re-stated for the pinned scikit-learn only")
@pytest.mark.parametrize("seed", range(12))
def test_exact_logreg_equals_sklearn_bit_for_bit(seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(10, 1000)), int(rng.choice([3, 64, 256]))
    X = (rng.normal(size=(n, d)) * rng.uniform(0.05, 20)).astype(np.float32).astype(np.float64)
    w = rng.normal(size=d)
    y = (X @ w + rng.normal(size=n) * rng.uniform(0, 5) > rng.normal()).astype(np.int64)
    y[:2] = [0, 1]
    X_test = rng.normal(size=(150, d)) * rng.uniform(0.05, 20)
    y_test = (X_test @ w > 0).astype(np.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = LogisticRegression(random_state=0).fit(X, y)
    ours = exact_logreg.BinaryLogisticRegression().fit(X, y)
    assert np.array_equal(theirs.coef_, ours.coef_) and np.array_equal(theirs.intercept_, ours.intercept_)
    assert theirs.n_iter_.tolist() == ours.n_iter_.tolist()
    pred = theirs.predict(X_test)
    assert np.array_equal(pred, ours.predict(X_test))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {"accuracy": accuracy_score(y_test, pred), "recall": recall_score(y_test, pred, pos_label=1),
                    "precision": precision_score(y_test, pred, pos_label=1), "f1": f1_score(y_test, pred, pos_label=1)}
    assert exact_logreg.binary_metrics(y_test, pred) == {k: float(v) for k, v in expected.items()}


@pytest.mark.skipif(not exact_logreg.available(), reason="re-stated for the pinned scikit-learn only")
def test_binary_metrics_equal_sklearn_on_every_small_confusion_matrix():
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    for tp in range(4):
        for fp in range(4):
            for fn in range(4):
                for tn in range(3):
                    y_true = np.array([1] * tp + [0] * fp + [1] * fn + [0] * tn, dtype=np.int8)
                    y_pred = np.array([1] * tp + [1] * fp + [0] * fn + [0] * tn)
                    if not len(y_true):
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        expected = {"accuracy": accuracy_score(y_true, y_pred),
                                    "recall": recall_score(y_true, y_pred, pos_label=1),
                                    "precision": precision_score(y_true, y_pred, pos_label=1),
                                    "f1": f1_score(y_true, y_pred, pos_label=1)}
                    assert exact_logreg.binary_metrics(y_true, y_pred) == {k: float(v) for k, v in expected.items()}


def test_sorted_id_index_behaves_like_the_dict():
    ids = ["b", "a", "c", "a", "d", "b", "a"]
    array = np.asarray(ids, dtype=str)
    order = np.argsort(array, kind="stable")
    index = vs.SortedIdIndex(array[order], order)
    first = {}
    for row, image_id in enumerate(ids):
        first.setdefault(image_id, row)
    assert dict(index) == first and list(index) == list(first) and len(index) == 4
    assert index.rows(["a", "zz", "d", "", "a\0"]).tolist() == [1, -1, 4, -1, -1]
    assert "c" in index and "e" not in index and 3 not in index
    assert index.duplicate_rows() == {"a": [1, 3, 6], "b": [0, 5]}


def test_derived_cache_is_keyed_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALUATION_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "data.bin"
    source.write_bytes(b"one")
    calls = []

    def build():
        calls.append(1)
        return {"matrix": np.arange(6, dtype=np.float32).reshape(2, 3) * len(calls), "meta": {"n": len(calls)}}

    first = cache.derived_arrays("test", [source], build)
    again = cache.derived_arrays("test", [source], build)
    assert len(calls) == 1 and isinstance(again["matrix"], np.memmap)
    assert np.array_equal(first["matrix"], again["matrix"]) and again["meta"] == {"n": 1}
    source.write_bytes(b"two")  # new content: rebuilt, never the stale entry
    changed = cache.derived_arrays("test", [source], build)
    assert len(calls) == 2 and changed["meta"] == {"n": 2}
    monkeypatch.setenv("EVALUATION_CACHE_DIR", "off")
    assert cache.derived_arrays("test", [source], build)["meta"] == {"n": 3}


def test_cached_vision_problem_scores_like_a_fresh_load(vision_data_dir, tmp_path, monkeypatch):
    from fixtures.synthetic import random_vision_submission, write_vision_submission

    folder = write_vision_submission(tmp_path / "sub", random_vision_submission(vision_data_dir, size=200, seed=3))
    bench = registry.get("vision-selection")
    config = bench.config()
    results = []
    for setting in ("off", str(tmp_path / "cache"), str(tmp_path / "cache")):  # no cache, writes it, reads it
        monkeypatch.setenv("EVALUATION_CACHE_DIR", setting)
        problem = bench.load_problem(vision_data_dir, config)
        results.append(bench.evaluate(problem, bench.load_submission(problem, folder, config), config).scores)
    assert isinstance(problem.row_of, vs.SortedIdIndex) and isinstance(problem.pool, np.memmap)
    assert results[0] == results[1] == results[2]


def test_cold_command_imports_only_what_its_type_needs(vision_data_dir, tmp_path):
    from fixtures.synthetic import random_vision_submission, write_vision_submission

    folder = write_vision_submission(tmp_path / "sub", random_vision_submission(vision_data_dir, size=200, seed=3))
    probe = ("import sys, io, contextlib\n"
             "from evaluation.__main__ import main\n"
             f"sys.argv = ['x', 'score', 'vision-selection', '--data', {str(vision_data_dir)!r}, "
             f"'--submission', {str(folder)!r}, '--json']\n"
             "out = io.StringIO()\n"
             "with contextlib.redirect_stdout(out): main()\n"
             "print(json.dumps({'loaded': [m for m in ('torch', 'pandas', 'sklearn') if m in sys.modules], "
             "'score': __import__('json').loads(out.getvalue())['score']}))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVALUATION_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):  # the first run decodes the (partitioned) pool and fills the cache; the second is measured
        done = subprocess.run([sys.executable, "-c", "import json\n" + probe], env=env, capture_output=True,
                              text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == ([] if exact_logreg.available() else ["pandas", "sklearn"])
    assert 0.0 <= report["score"] <= 1.0


def test_every_builtin_slug_is_defined_by_its_listed_module():
    import importlib

    for slug, module in registry.BUILTIN_MODULES.items():
        assert registry.get(slug).slug == slug
        assert type(registry.get(slug)).__module__ == f"evaluation.benchmarks.{module}"
    assert {t.slug for t in registry.all_types()} == set(registry.BUILTIN_MODULES)
    with pytest.raises(KeyError, match="unknown benchmark type"):
        registry.get("no-such-type")
    importlib.import_module("evaluation.benchmarks")  # the package itself imports nothing
