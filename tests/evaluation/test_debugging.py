import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from evaluation import DataError, SubmissionError, registry
from evaluation.benchmarks import debugging as dbg

BENCH = dbg.Debugging()


def config(**overrides):
    return BENCH.config(overrides)


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory):
    out = tmp_path_factory.mktemp("debugging")
    tasks = {f"task{seed}": dbg.synthetic_task(seed=seed, n_train=120, n_test=200, n_val=20, dim=64)
             for seed in range(2)}
    dbg.write_data_dir(out, tasks)
    return out, BENCH.load_problem(out, config())


def hand_task(tmp_path, X, noisy, clean, X_test, y_test, data_id="hand"):
    dbg.write_data_dir(tmp_path, {data_id: {
        "X_train": np.asarray(X, np.float32).reshape(len(noisy), -1), "noisy_labels": noisy, "clean_labels": clean,
        "X_test": np.asarray(X_test, np.float32).reshape(len(y_test), -1), "y_test": y_test}})
    return BENCH.load_problem(tmp_path, config())


def rankings(task):
    wrong = np.flatnonzero(task.noisy != task.clean)
    right = np.flatnonzero(task.noisy == task.clean)
    return {
        "good": np.concatenate([wrong, right]),
        "random": np.random.default_rng(7).permutation(task.size),
        "reversed": np.concatenate([right, wrong]),
        "identity": np.arange(task.size),
    }


def fast_fraction(problem, task_id, ranking, cfg):
    solution = dbg.DebugSolution({task_id: np.asarray(ranking)}, {})
    return BENCH.evaluate_task(problem, solution, task_id, cfg)


@pytest.mark.parametrize("model, kind", [
    ("knn", "good"), ("knn", "random"), ("knn", "reversed"), ("knn", "identity"),
    ("logreg", "random"), ("logreg", "reversed"),   # the generic refit path (slower: 120 fits each)
])
def test_fast_evaluator_equals_plain_loop(two_tasks, model, kind):
    _, problem = two_tasks
    cfg = config(model=model)
    task = problem.tasks["task0"]
    ranking = rankings(task)[kind]
    plain = dbg.plain_loop(problem, "task0", ranking, cfg)
    fraction, index, target = dbg.fraction_from_curve(plain)
    result = fast_fraction(problem, "task0", ranking, cfg)
    assert result["fraction_fixes"] == fraction
    assert result["target_index"] == index
    assert result["accuracy_at_target"] == plain[index]
    assert dbg.full_curve(problem, dbg.DebugSolution({"task0": ranking}, {}), "task0", cfg)["accuracy"] == plain


def test_fast_evaluator_skips_trainings(two_tasks):
    _, problem = two_tasks
    cfg = config(model="logreg")
    task = problem.tasks["task1"]
    good = fast_fraction(problem, "task1", rankings(task)["good"], cfg)
    # only label-changing steps up to the target are trained, never all n
    assert good["trainings"] <= int((task.noisy != task.clean).sum())
    again = fast_fraction(problem, "task1", rankings(task)["good"], cfg)
    assert again["trainings"] == 0 and again["fraction_fixes"] == good["fraction_fixes"]


def test_knn_exact_with_vote_ties_and_three_classes(tmp_path):
    task = dbg.synthetic_task(seed=3, n_train=80, n_test=150, dim=8, n_classes=3, noise=0.4, separation=0.5)
    dbg.write_data_dir(tmp_path, {"multi": task})
    problem = BENCH.load_problem(tmp_path, config())
    for k in (2, 4, 6):   # even k: votes tie often
        cfg = config(model="knn", n_neighbors=k)
        scorer = dbg.get_scorer(problem.tasks["multi"], cfg)
        assert isinstance(scorer, dbg.KnnScorer)
        ranking = np.random.default_rng(k).permutation(80)
        assert list(scorer.steps(ranking)) == dbg.plain_loop(problem, "multi", ranking, cfg)


def test_hand_case_target_reached_only_at_last_step(tmp_path):
    # 1-NN: each test point's nearest training row is the row it sits next to; every label is flipped.
    problem = hand_task(tmp_path, [0, 1, 2, 3], [1, 0, 1, 0], [0, 1, 0, 1], [0.1, 1.1, 2.1, 3.1], [0, 1, 0, 1])
    cfg = config(model="knn", n_neighbors=1)
    result = fast_fraction(problem, "hand", [0, 1, 2, 3], cfg)
    assert result["noisy_accuracy"] == 0.0 and result["clean_accuracy"] == 1.0
    assert result["fraction_fixes"] == 0.75   # accuracies 0.25, 0.5, 0.75, 1.0; target 0.95 -> index 3
    assert dbg.full_curve(problem, dbg.DebugSolution({"hand": np.arange(4)}, {}), "hand", cfg)["accuracy"] == \
        [0.25, 0.5, 0.75, 1.0]


def test_hand_case_one_fix_scores_zero(tmp_path):
    # no label is wrong: every step equals the last, so the first (0-based index 0) reaches the target
    problem = hand_task(tmp_path, [0, 1, 2, 3], [0, 1, 0, 1], [0, 1, 0, 1], [0.1, 1.1, 2.1, 3.1], [0, 1, 0, 1])
    result = fast_fraction(problem, "hand", [3, 2, 1, 0], config(model="knn", n_neighbors=1))
    assert result["fraction_fixes"] == 0.0 and result["trainings"] == 0


def test_hand_case_vote_tie_goes_to_smallest_label(tmp_path):
    # k=2: the test point at 0.4 has one neighbour of each class -> predicted 0, like scikit-learn
    problem = hand_task(tmp_path, [0, 1], [1, 1], [1, 0], [0.4], [0])
    curve = dbg.full_curve(problem, dbg.DebugSolution({"hand": np.array([0, 1])}, {}), "hand", config(model="knn", n_neighbors=2))
    assert curve["accuracy"] == [0.0, 1.0]
    assert curve["fraction_fixes"] == 0.5


def test_hand_case_single_class(tmp_path):
    problem = hand_task(tmp_path, [0, 1, 2, 3], [1, 1, 0, 0], [0, 0, 0, 0], [0.1, 2.9], [0, 0])
    cfg = config(model="knn", n_neighbors=1)
    # every clean label is 0; fixing row 1 changes no prediction, fixing row 0 makes both test points right
    curve = dbg.full_curve(problem, dbg.DebugSolution({"hand": np.array([1, 0, 2, 3])}, {}), "hand", cfg)
    assert curve["accuracy"] == [0.5, 1.0, 1.0, 1.0] == dbg.plain_loop(problem, "hand", [1, 0, 2, 3], cfg)
    assert curve["fraction_fixes"] == 0.25


def test_distance_tie_at_kth_neighbour_falls_back_to_refit(tmp_path):
    # rows 1 and 2 are duplicates with different labels: which one is the nearest depends on sklearn
    problem = hand_task(tmp_path, [0, 1, 1, 5], [0, 1, 0, 1], [0, 1, 1, 1], [1.2, 4.0], [1, 1])
    cfg = config(model="knn", n_neighbors=1)
    assert isinstance(dbg.get_scorer(problem.tasks["hand"], cfg), dbg.RefitScorer)
    ranking = [2, 0, 1, 3]
    assert fast_fraction(problem, "hand", ranking, cfg)["fraction_fixes"] == \
        dbg.fraction_from_curve(dbg.plain_loop(problem, "hand", ranking, cfg))[0]


def test_label_noise_hurts_the_knn_stand_in():
    task = dbg.synthetic_task(seed=0)
    from evaluation.models import accuracy, fit_predict
    clean = accuracy(fit_predict("knn", task["X_train"], task["clean_labels"], task["X_test"]), task["y_test"])
    noisy = accuracy(fit_predict("knn", task["X_train"], task["noisy_labels"], task["X_test"]), task["y_test"])
    assert clean - noisy > 0.1


def test_evaluate_is_combine_of_tasks_and_reports_gap(two_tasks):
    data_dir, problem = two_tasks
    solution = dbg.DebugSolution({tid: rankings(t)["random"] for tid, t in problem.tasks.items()}, {})
    cfg = config(model="knn")   # tests combining, not the model: the fast stand-in
    seen = []
    result = BENCH.evaluate(problem, solution, cfg, lambda fraction, message: seen.append(fraction))
    parts = [BENCH.evaluate_task(problem, solution, tid, cfg) for tid in BENCH.task_ids(problem)]
    assert result.scores == BENCH.combine(parts).scores
    assert result.scores["fraction_fixes"] == pytest.approx(np.mean([p["fraction_fixes"] for p in parts]))
    assert set(result.details["tasks"]) == {"task0", "task1"}
    json.dumps([result.details, parts], allow_nan=False)   # task results travel between workers as JSON
    assert result.details["accuracy_gap"] > 0.05
    assert result.details["accuracy_gap"] == pytest.approx(result.details["clean_accuracy"] - result.details["noisy_accuracy"])
    assert seen and seen == sorted(seen) and 0 <= seen[0] and seen[-1] == 1.0


def test_oracle_beats_random(two_tasks):
    _, problem = two_tasks
    cfg = config(model="knn")   # tests the curves, not the model: the fast stand-in
    oracle = dbg.oracle_curve(problem, "task0", cfg)
    random = dbg.random_curve(problem, "task0", cfg, seed=1)
    assert oracle["fraction_fixes"] < random["fraction_fixes"]
    assert oracle["accuracy"][-1] == random["accuracy"][-1]   # both end on the clean training set


# --- submissions ----------------------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture()
def small(tmp_path):
    problem = hand_task(tmp_path / "data", [0, 1, 2, 3], [1, 0, 1, 0], [0, 1, 0, 1], [0.1, 1.1], [0, 1])
    return problem, tmp_path


def test_txt_ranking_parsed(small):
    problem, tmp = small
    solution = BENCH.load_submission(problem, write(tmp / "r.txt", "3\n1\n\n0\n2\n"), config())
    assert solution.rankings["hand"].tolist() == [3, 1, 0, 2]
    with zipfile.ZipFile(tmp / "one.zip", "w") as zf:   # one task: the file name does not matter
        zf.writestr("anything.txt", "2\n3\n0\n1\n")
    assert BENCH.load_submission(problem, tmp / "one.zip", config()).rankings["hand"].tolist() == [2, 3, 0, 1]


@pytest.mark.parametrize("text, message", [
    ("0\n1\nx\n3\n", r"r.txt, line 3 .*'x' is not an integer"),
    ("0\n1\n2\n4\n", r"r.txt, line 4: row index 4 is out of range 0..3"),
    ("0\n1\n1\n3\n", r"r.txt, line 3: row index 1 appears twice \(also line 2\)"),
    ("0\n1\n2\n", r"r.txt: 1 row index\(s\) missing: 3"),
    ("0\n1\n-1\n2\n", r"line 3: row index -1 is out of range"),
    ("0\n1.5\n2\n3\n", r"line 2 .*'1.5' is not an integer"),
])
def test_txt_ranking_errors(small, text, message):
    problem, tmp = small
    with pytest.raises(SubmissionError, match=message):
        BENCH.load_submission(problem, write(tmp / "r.txt", text), config())


def test_csv_priority_by_filename_and_index(small):
    problem, tmp = small
    names = problem.tasks["hand"].filenames
    text = "id,priority\n" + "".join(f"{name},{p}\n" for name, p in zip(names, [0.1, 0.9, 0.5, 0.5]))
    assert BENCH.load_submission(problem, write(tmp / "r.csv", text), config()).rankings["hand"].tolist() == [1, 2, 3, 0]
    text = "id,priority\n0,1\n1,2\n2,3\n3,4\n"
    assert BENCH.load_submission(problem, write(tmp / "r.csv", text), config()).rankings["hand"].tolist() == [3, 2, 1, 0]
    with pytest.raises(SubmissionError, match="line 3 .*'nope' is not an integer"):
        BENCH.load_submission(problem, write(tmp / "r.csv", "id,priority\n0,1\nnope,2\n"), config())
    with pytest.raises(SubmissionError, match="header must have column"):
        BENCH.load_submission(problem, write(tmp / "r.csv", "row,score\n0,1\n"), config())


def test_multi_task_zip(two_tasks, tmp_path):
    _, problem = two_tasks
    order = "\n".join(map(str, range(120)))
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("sub/task0_my_method.txt", order)
        zf.writestr("sub/task1.txt", "\n".join(map(str, reversed(range(120)))))
        zf.writestr("sub/time_task0_my_method.txt", "12.5")
        zf.writestr("__MACOSX/._task0.txt", "junk")
    solution = BENCH.load_submission(problem, archive, config())
    assert solution.rankings["task0"].tolist() == list(range(120))
    assert solution.rankings["task1"][0] == 119
    assert solution.files == {"task0": "task0_my_method.txt", "task1": "task1.txt"}


@pytest.mark.parametrize("files, message", [
    ({"task0.txt": None}, "no ranking for task\\(s\\) task1"),
    ({"task0.txt": None, "task1.txt": None, "other.txt": None}, "other.txt: no task 'other'"),
    ({"task0.txt": None, "task0_b.txt": None, "task1.txt": None}, "two rankings for task task0"),
])
def test_multi_task_errors(two_tasks, tmp_path, files, message):
    _, problem = two_tasks
    folder = tmp_path / "sub"
    folder.mkdir()
    for name in files:
        write(folder / name, "\n".join(map(str, range(120))))
    with pytest.raises(SubmissionError, match=message):
        BENCH.load_submission(problem, folder, config())


def test_single_file_for_multi_task_benchmark_rejected(two_tasks, tmp_path):
    _, problem = two_tasks
    with pytest.raises(SubmissionError, match="has 2 tasks"):
        BENCH.load_submission(problem, write(tmp_path / "task0.txt", "0\n"), config())


# --- data directory and config --------------------------------------------------------------------
def test_registered_and_hidden_files():
    assert isinstance(registry.get("debugging"), dbg.Debugging)
    assert BENCH.is_hidden("embeddings/01g317_test_500.parquet")
    assert BENCH.is_hidden("data/dataset_01g317_train.csv")
    assert not BENCH.is_hidden("embeddings/01g317_train_0.3_300.parquet")
    assert not BENCH.is_hidden("embeddings/01g317_val_100.parquet")


def test_data_errors(two_tasks, tmp_path):
    data_dir, _ = two_tasks
    with pytest.raises(DataError, match="no embeddings"):
        BENCH.load_problem(tmp_path, config())
    with pytest.raises(DataError, match="no train file for task\\(s\\) nope"):
        BENCH.load_problem(data_dir, config(tasks=["nope"]))
    with pytest.raises(DataError, match="unknown config keys"):
        BENCH.config({"modle": "knn"})
    assert list(BENCH.load_problem(data_dir, config(tasks=["task1"])).tasks) == ["task1"]


def test_public_copy_validates_but_cannot_score(two_tasks, tmp_path):
    data_dir, _ = two_tasks
    public = tmp_path / "public"
    (public / "embeddings").mkdir(parents=True)
    for path in (data_dir / "embeddings").glob("*"):
        if not BENCH.is_hidden(f"embeddings/{path.name}"):
            (public / "embeddings" / path.name).write_bytes(path.read_bytes())
    problem = BENCH.load_problem(public, config())
    folder = tmp_path / "sub"
    folder.mkdir()
    for tid in problem.tasks:
        write(folder / f"{tid}.txt", "\n".join(map(str, range(120))))
    solution = BENCH.load_submission(problem, folder, config())
    with pytest.raises(DataError, match="hidden data"):
        BENCH.evaluate(problem, solution, config())


def test_unknown_model_is_a_data_error(small):
    problem, _ = small
    with pytest.raises(DataError, match="unknown model 'svm'"):
        dbg.get_scorer(problem.tasks["hand"], config(model="svm"))


# --- the DataPerf torch model ---------------------------------------------------------------------
def reference_accuracy(torch, train_X, train_y, test_X, test_y):
    """DS3Lab/dataperf-vision-debugging LogisticClassifier, restated (dimension taken from the data)."""
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(42)
    model = nn.Sequential()
    model.fc1, model.fc2 = nn.Linear(train_X.shape[1], 128), nn.Linear(128, 1)
    features, labels = torch.tensor(train_X), torch.tensor(train_y)
    loader = DataLoader(TensorDataset(features, labels), batch_size=64, shuffle=False)
    criterion, optimizer = nn.BCEWithLogitsLoss(), torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.9)
    model.train(True)
    for _ in range(20):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x.float()).reshape(y.shape), y.float())
            loss.backward()
            optimizer.step()

    def evaluate(X, y, threshold):
        model.eval()
        X = X if isinstance(X, torch.Tensor) else torch.tensor(X).float()
        with torch.no_grad():
            output = torch.sigmoid(model(X))
        output = np.where(output <= threshold, 0, output)
        output = np.where(output > threshold, 1, output).ravel()
        y = y.ravel()
        y = y.numpy() if isinstance(y, torch.Tensor) else y
        return round((output == y).mean(), 2)

    best_acc, best_thres = 0, 0
    for threshold in list(np.arange(0.1, 1, 0.05)):
        acc = evaluate(features, labels, threshold)
        if acc > best_acc:
            best_acc, best_thres = acc, threshold
    return evaluate(test_X, test_y, best_thres)


def test_torch_reference_model_matches_restatement(tmp_path):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)   # several threads on a busy machine are far slower, never different
    task = dbg.synthetic_task(seed=5, n_train=50, n_test=60, dim=24)
    dbg.write_data_dir(tmp_path, {"tiny": task})
    problem = BENCH.load_problem(tmp_path, config())
    cfg = config(model="dataperf-torch")
    t = problem.tasks["tiny"]
    ranking = np.random.default_rng(0).permutation(50)
    plain = []
    for i in range(1, 51):
        labels = t.noisy.copy()
        labels[ranking[:i]] = t.clean[ranking[:i]]
        plain.append(reference_accuracy(torch, t.X.astype(np.float32), np.vstack(labels).astype(np.float32),
                                        t.X_test, np.vstack(t.y_test)))
    fraction, index, _ = dbg.fraction_from_curve(plain)
    result = fast_fraction(problem, "tiny", ranking, cfg)
    assert result["fraction_fixes"] == fraction and result["accuracy_at_target"] == plain[index]
    assert result["clean_accuracy"] == plain[-1]
    assert len(set(plain)) > 2   # a curve that actually moves
    assert dbg.full_curve(problem, dbg.DebugSolution({"tiny": ranking}, {}), "tiny", cfg)["accuracy"] == plain


def test_torch_model_missing_is_a_clear_data_error(small, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch")
        return real_import(name, *args, **kwargs)

    problem, _ = small
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(DataError, match="torch is not installed"):
        dbg.get_scorer(problem.tasks["hand"], config(model="dataperf-torch"))


def test_late_target_matches_plain_loop(two_tasks):
    # target_ratio 1.0 with the mislabelled rows last: the target can only be reached among the last rows
    _, problem = two_tasks
    cfg = config(model="knn", target_ratio=1.0)   # the fast stand-in: plain_loop retrains n times
    task = problem.tasks["task1"]
    ranking = rankings(task)["reversed"]
    plain = dbg.plain_loop(problem, "task1", ranking, cfg)
    fraction, index, _ = dbg.fraction_from_curve(plain, 1.0)
    assert index >= int((task.noisy == task.clean).sum())
    assert fast_fraction(problem, "task1", ranking, cfg)["fraction_fixes"] == fraction


# --- the default model is DataPerf's ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_torch(tmp_path_factory):
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("tiny-torch")
    dbg.write_data_dir(out, {"tiny": dbg.synthetic_task(seed=5, n_train=40, n_test=60, n_val=10, dim=16)})
    problem = BENCH.load_problem(out, config())
    task = problem.tasks["tiny"]
    wrong = np.flatnonzero(task.noisy != task.clean)
    ranking = np.concatenate([wrong, np.flatnonzero(task.noisy == task.clean)])  # few trainings
    submission = write(out / "ranking.txt", "".join(f"{row}\n" for row in ranking))
    return out, problem, submission


def test_a_config_without_a_model_scores_with_the_dataperf_torch_model(tiny_torch):
    data_dir, problem, submission = tiny_torch
    assert BENCH.default_config["model"] == "dataperf-torch" == config()["model"]
    default = BENCH.evaluate(problem, BENCH.load_submission(problem, submission, config()), config())
    assert default.details["model"] == "dataperf-torch"
    assert default.details["tasks"]["tiny"]["model"] == "dataperf-torch"
    explicit = config(model="dataperf-torch")
    assert isinstance(dbg.get_scorer(problem.tasks["tiny"], config()), dbg.TorchScorer)
    assert default.scores == BENCH.evaluate(problem, BENCH.load_submission(problem, submission, explicit),
                                            explicit).scores
    knn = config(model="knn")
    assert BENCH.evaluate(problem, BENCH.load_submission(problem, submission, knn), knn).details["model"] == "knn"


def test_the_cli_without_model_scores_with_the_dataperf_torch_model(tiny_torch):
    import subprocess
    import sys

    from tests.conftest import ROOT

    data_dir, problem, submission = tiny_torch
    done = subprocess.run([sys.executable, "-m", "evaluation", "score", "debugging", "--data", str(data_dir),
                           "--submission", str(submission), "--json"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    payload = json.loads(done.stdout)
    assert payload["details"]["model"] == "dataperf-torch"
    expected = BENCH.evaluate(problem, BENCH.load_submission(problem, submission, config()), config())
    assert payload["score"] == expected.scores["fraction_fixes"]
    assert payload["environment"]["torch"]   # the score names the torch that produced it
    helped = subprocess.run([sys.executable, "-m", "evaluation", "score", "debugging", "--help"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "dataperf-torch" in helped.stdout and "fast stand-in" in helped.stdout
