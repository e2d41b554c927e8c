"""Baseline algorithms (evaluation/baselines): valid, deterministic submissions from the public files
only; exactness of KNN-Shapley and k-center greedy; confident learning finds planted label errors."""
from __future__ import annotations

import ast
import itertools
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from evaluation import registry
from evaluation.baselines import BASELINES, MODULES, debugging, full_config, module_path, run_baseline, \
    speech_selection, training_set, vision_selection
from fixtures import synthetic

ALLOWED_IMPORTS = {"numpy", "scipy", "sklearn", "pandas", "pyarrow", "yaml", "threadpoolctl"}


def _write_data(type_slug: str, out: Path) -> Path:
    if type_slug == "speech-selection":
        return synthetic.write_speech_data(out, train_per_target=40, eval_per_target=20, n_nontarget_words=20,
                                           train_nontargets=300, eval_nontargets=500, dim=32, seed=2)
    if type_slug == "vision-selection":
        return synthetic.write_vision_data(out, pool_size=1500, dim=32, positive_rate=0.05, seed=2)
    writer = {"debugging": synthetic.write_debugging_data, "valuation": synthetic.write_valuation_data,
              "slicing": synthetic.write_slicing_data, "training-set": synthetic.write_training_set_data,
              "data-acquisition": synthetic.write_acquisition_data}[type_slug]
    return writer(out, seed=2)


def _public_copy(type_slug: str, data_dir: Path, out: Path) -> Path:
    """The data directory without the files matching the type's hidden patterns."""
    bench = registry.get(type_slug)
    shutil.copytree(data_dir, out)
    removed = 0
    for path in sorted(out.rglob("*")):
        if path.is_file() and bench.is_hidden(path.relative_to(out).as_posix()):
            path.unlink()
            removed += 1
    assert removed, f"{type_slug}: the synthetic data has no hidden files to remove"
    return out


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    """type -> (full data dir, public copy)."""
    root = tmp_path_factory.mktemp("baselines")
    dirs = {}
    for type_slug in BASELINES:
        name = type_slug.replace("-", "_")
        full = _write_data(type_slug, root / name)
        dirs[type_slug] = (full, _public_copy(type_slug, full, root / f"{name}_public"))
    return dirs


@pytest.fixture(scope="module")
def problems(data_dirs):
    out = {}
    for type_slug, (full, _) in data_dirs.items():
        bench = registry.get(type_slug)
        config = bench.config()
        out[type_slug] = (bench, config, bench.load_problem(full, config))
    return out


ALL = [(type_slug, name) for type_slug, names in BASELINES.items() for name in names]


@pytest.mark.parametrize("type_slug,name", ALL, ids=[f"{t}/{n}" for t, n in ALL])
def test_baseline_writes_a_valid_deterministic_submission_from_public_files(type_slug, name, data_dirs, problems,
                                                                          tmp_path):
    _, public = data_dirs[type_slug]
    bench, config, problem = problems[type_slug]
    first = run_baseline(type_slug, name, public, tmp_path / "a" / "submission", config, seed=3)
    second = run_baseline(type_slug, name, public, tmp_path / "b" / "submission", config, seed=3)
    assert first.is_file() and first.read_bytes() == second.read_bytes()
    assert first.suffix in bench.submission_suffixes
    solution = bench.load_submission(problem, first, config)   # accepted by the scorer ...
    result = bench.evaluate(problem, solution, config)         # ... and scored
    assert all(math.isfinite(value) for value in result.scores.values())


def test_registry_covers_every_scored_type_and_modules_stand_alone():
    assert set(BASELINES) == {t.slug for t in registry.all_types()} - {"test-set"}
    # test_set.py picks candidates for the test-set starter kit (no baseline rows: credit needs annotators).
    for type_slug, path in [(t, module_path(t)) for t in MODULES] + [("test-set", module_path("debugging").with_name("test_set.py"))]:
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__"}
        relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]
        third_party = imported - set(__import__("sys").stdlib_module_names)
        assert not relative and third_party <= ALLOWED_IMPORTS, (type_slug, third_party, relative)
        assert len(ast.get_docstring(tree) or "") > 300, type_slug   # documented: idea and reference
    assert full_config("debugging", {"tasks": ["x"]})["model"] == "dataperf-torch"   # DataPerf's own


def test_speech_random_is_the_reference_random_selection(data_dirs):
    _, public = data_dirs["speech-selection"]
    allowed = speech_selection.load_allowed_embeddings(public)
    # selection/implementations/random_selection.py, verbatim logic
    random.seed(0)
    per_class = 25 // (len(allowed["targets"]) + 1)
    expected_targets = {t: [s["ID"] for s in random.sample(allowed["targets"][t], per_class)]
                        for t in allowed["targets"]}
    expected_nontargets = [s["ID"] for s in random.sample(allowed["nontargets"], per_class)]
    selection = speech_selection.random_selection(allowed, 25, seed=0)
    assert selection == {"targets": expected_targets, "nontargets": expected_nontargets}
    filled = speech_selection.random_selection(allowed, 25, seed=0, fill_budget=True)
    assert sum(map(len, filled["targets"].values())) + len(filled["nontargets"]) == 25


def test_speech_crossval_keeps_the_reference_split_sizes(data_dirs):
    _, public = data_dirs["speech-selection"]
    allowed = speech_selection.load_allowed_embeddings(public)
    selection = speech_selection.crossval_selection(allowed, 25, seed=0, n_outer=2, n_inner=2)
    assert set(selection["targets"]) == set(allowed["targets"])      # every key kept, as the reference
    assert sum(map(len, selection["targets"].values())) == 15 and len(selection["nontargets"]) == 10


# --- KNN-Shapley: exact against brute-force enumeration -------------------------------------------------
def _brute_force_knn_shapley(X, y, X_val, y_val, k):
    n = len(X)
    values = np.zeros(n)
    for v, label in zip(X_val, y_val):
        order = np.argsort(np.linalg.norm(X - v, axis=1), kind="stable")
        rank = np.empty(n, dtype=int)
        rank[order] = np.arange(n)

        def utility(subset):
            nearest = sorted(subset, key=lambda i: rank[i])[:k]
            return sum(y[i] == label for i in nearest) / k

        for permutation in itertools.permutations(range(n)):
            before = []
            for i in permutation:
                values[i] += utility(before + [i]) - utility(before)
                before.append(i)
    return values / (math.factorial(n) * len(X_val))


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_knn_shapley_equals_brute_force_shapley(k):
    rng = np.random.default_rng(k)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 3, 6)
    X_val, y_val = rng.normal(size=(4, 3)), rng.integers(0, 3, 4)
    exact = debugging.knn_shapley_values(X, y, X_val, y_val, k=k, chunk=3)
    np.testing.assert_allclose(exact, _brute_force_knn_shapley(X, y, X_val, y_val, k), rtol=0, atol=1e-12)
    # efficiency: the values add up to U(all) - U(empty)
    full = np.mean([np.mean(y[np.argsort(np.linalg.norm(X - v, axis=1))[:k]] == t) * min(k, 6) / k
                    for v, t in zip(X_val, y_val)])
    assert exact.sum() == pytest.approx(full, abs=1e-12)


def _planted_noise(seed=0, n=400, rate=0.15):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, 20)) * 2.0
    X = centres[y] + rng.normal(size=(n, 20))
    noisy = y.copy()
    flipped = rng.choice(n, size=int(rate * n), replace=False)
    noisy[flipped] = (y[flipped] + rng.integers(1, 3, len(flipped))) % 3
    X_val, y_val = centres[np.arange(60) % 3] + rng.normal(size=(60, 20)), np.arange(60) % 3
    return X, noisy, np.isin(np.arange(n), flipped), X_val, y_val


def test_confident_learning_and_knn_shapley_find_planted_label_errors():
    X, noisy, is_flipped, X_val, y_val = _planted_noise()
    budget = int(is_flipped.sum())                        # inspect as many rows as were flipped
    random_precision = is_flipped.mean()                  # 0.15 in expectation
    for ranking in (debugging.confident_learning_ranking(X, noisy, seed=0),
                    debugging.self_confidence_ranking(X, noisy, seed=0),
                    debugging.knn_shapley_ranking(X, noisy, X_val, y_val, k=5)):
        assert sorted(ranking.tolist()) == list(range(len(noisy)))
        precision = is_flipped[ranking[:budget]].mean()
        assert precision >= 0.7 > random_precision + 0.5
    issues, _ = debugging.confident_learning(*debugging.out_of_fold_probabilities(X, noisy, seed=0))
    assert is_flipped[issues].mean() > 0.7 and issues[is_flipped].mean() > 0.7   # precision and recall
    # training_set.py carries its own copy of the algorithm (modules stand alone): identical results
    np.testing.assert_array_equal(issues, training_set.confident_learning(
        *training_set.out_of_fold_probabilities(X, noisy, seed=0))[0])
    rows, labels = training_set.cleaned_subset(X, noisy, size=1000, seed=0)
    assert len(rows) == (~issues).sum() and is_flipped[rows].mean() < 0.5 * is_flipped.mean()


# --- k-center greedy ----------------------------------------------------------------------------------
def test_k_center_greedy_hand_case_and_farthest_point_property():
    line = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    for module in (speech_selection, vision_selection):
        # from 0: 11 is farthest; then 2 (distance 2 to {0, 11}); then 1 and 10 tie at 1 -> lower index
        assert module.k_center_greedy(line, 5, first=0) == [0, 4, 2, 1, 3]
        assert module.k_center_greedy(line, 2, initial=[3]) == [0, 2]   # initial centres are not returned
        assert module.k_center_greedy(line, 1) == [2]                    # default start: nearest the mean
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 4))
    chosen = vision_selection.k_center_greedy(points, 12, first=5)
    assert chosen == speech_selection.k_center_greedy(points, 12, first=5)
    distance = np.linalg.norm(points[:, None] - points[None], axis=2)
    for step in range(1, len(chosen)):
        to_chosen = distance[:, chosen[:step]].min(axis=1)
        assert to_chosen[chosen[step]] == pytest.approx(to_chosen.max())


def test_starter_kits_ship_the_baseline_module():
    import io
    import zipfile

    from evaluation.starter_kits import BASELINES_DIR, KITS, make_starter_kit_zip

    assert {kit.benchmark for kit in KITS.values()} == {t.slug for t in registry.all_types()}  # a kit for every type
    for kind, kit in KITS.items():
        archive = zipfile.ZipFile(io.BytesIO(make_starter_kit_zip(kind)))
        top = f"dataperf-{kind.replace('_', '-')}-starter-kit/"
        expected = module_path(kit.benchmark) if kit.benchmark in MODULES else BASELINES_DIR / f"{kind}.py"
        assert archive.read(top + "baselines.py") == expected.read_bytes()
        assert b"import baselines" in archive.read(top + "algorithm.py")
