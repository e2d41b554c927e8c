"""Vision selection: equality with the reference main.py/eval.py (oracle), formats, validation, CLI, cache."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so `pytest` works without `python -m`
    sys.path.insert(0, str(ROOT))

from evaluation import cache, registry  # noqa: E402
from evaluation.base import DataError, SubmissionError  # noqa: E402
from fixtures.synthetic import random_vision_submission, write_vision_data, write_vision_submission  # noqa: E402
from tests.evaluation import reference_oracle as oracle  # noqa: E402

DIM = 64
CONCEPTS = ("Cupcake", "Hawk", "Sushi")


@pytest.fixture(scope="module")
def bench():
    return registry.get("vision-selection")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_vision_data(tmp_path_factory.mktemp("vision"), pool_size=2000, dim=DIM, test_size=140, seed=2,
                             positive_rate=0.05)


@pytest.fixture(scope="module")
def problem(bench, data_dir):
    return bench.load_problem(data_dir, bench.config())


@pytest.fixture(scope="module")
def submission(data_dir):
    return random_vision_submission(data_dir, size=300, seed=0)


@pytest.fixture(scope="module")
def pool_ids(problem):
    return list(problem.row_of)


def score(bench, problem, path, **overrides):
    config = bench.config(overrides)
    return bench.evaluate(problem, bench.load_submission(problem, path, config), config)


def oracle_scores(data_dir, csv_dir, default_threads=False):
    train_sets = {c: Path(csv_dir) / f"{c}.csv" for c in CONCEPTS}
    if default_threads:
        return oracle.vision_reference_scores(data_dir, train_sets, DIM)
    with threadpool_limits(limits=1):
        return oracle.vision_reference_scores(data_dir, train_sets, DIM)


def assert_matches_oracle(result, reference):
    for concept, expected in reference.items():
        ours = result.details["per_concept"][concept]
        for key in ("accuracy", "recall", "precision", "f1"):
            assert abs(ours[key] - expected[key]) <= 1e-9, (concept, key)
        assert result.scores[f"f1_{concept}"] == ours["f1"]
    assert abs(result.scores["mean_f1"] - np.mean([r["f1"] for r in reference.values()])) <= 1e-9


# --- metadata ---------------------------------------------------------------------------------
def test_registered_type(bench):
    assert bench.slug == "vision-selection" and bench.kind == "selection"
    assert bench.primary_metric == "mean_f1"
    assert bench.default_config == {"concepts": ["Cupcake", "Hawk", "Sushi"], "max_train_size": 1000}
    assert bench.is_hidden("test_sets/alpha_test_set_Hawk_256.parquet")
    assert not bench.is_hidden("embeddings/train_emb_256_dataperf.parquet/part-00000.snappy.parquet")
    assert not bench.is_hidden("examples/alpha_example_set_Hawk.csv")
    assert {m.key for m in bench.metrics} == {"mean_f1", "f1_Cupcake", "f1_Hawk", "f1_Sushi"}


# --- equality with the reference ----------------------------------------------------------------
@pytest.mark.parametrize("seed,size", [(0, 300), (1, 1000)])
def test_matches_reference_oracle(bench, problem, data_dir, tmp_path, seed, size):
    sub = random_vision_submission(data_dir, size=size, seed=seed)
    folder = write_vision_submission(tmp_path / "train_sets", sub, fmt="csv")
    result = score(bench, problem, folder)
    assert_matches_oracle(result, oracle_scores(data_dir, folder, default_threads=seed == 1))
    assert 0.05 < result.scores["mean_f1"] < 0.999
    assert result.details["per_concept"]["Hawk"]["n_train"] == len(sub["Hawk"])


def test_single_file_pool_equals_partitioned(bench, data_dir, submission, tmp_path):
    single = write_vision_data(tmp_path / "single", pool_size=2000, dim=DIM, test_size=140, seed=2,
                               positive_rate=0.05, partitioned=False)
    assert (single / "embeddings" / "train_emb_256_dataperf.parquet").is_file()
    assert (data_dir / "embeddings" / "train_emb_256_dataperf.parquet").is_dir()
    folder = write_vision_submission(tmp_path / "sub", submission)
    a = score(bench, bench.load_problem(single, bench.config()), folder)
    b = score(bench, bench.load_problem(data_dir, bench.config()), folder)
    assert a.scores == b.scores


def test_all_submission_formats_agree(bench, problem, submission, tmp_path):
    results = []
    for fmt, target in (("csv", "csv_dir"), ("json", "json_dir"), ("nested", "sub.json"), ("zip", "sub.zip")):
        results.append(score(bench, problem, write_vision_submission(tmp_path / target, submission, fmt=fmt)))
    # zip with the per-concept files inside a folder (what zipping a directory gives)
    with zipfile.ZipFile(tmp_path / "folder.zip", "w") as archive:
        for concept in CONCEPTS:
            archive.write(tmp_path / "csv_dir" / f"{concept}.csv", f"train_sets/{concept}.csv")
        archive.writestr("__MACOSX/train_sets/._Hawk.csv", "junk")
    results.append(score(bench, problem, tmp_path / "folder.zip"))
    assert all(r.scores == results[0].scores for r in results)
    assert all(r.details == results[0].details for r in results)


def test_extra_csv_columns_and_string_json_labels(bench, problem, submission, tmp_path):
    folder = tmp_path / "extra"
    folder.mkdir()
    for concept, labels in submission.items():
        with open(folder / f"{concept}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["LabelName", "ImageID", "Confidence", "Source"])
            writer.writerows([["/m/x", image_id, label, "human"] for image_id, label in labels.items()])
    strings = tmp_path / "strings.json"
    strings.write_text(json.dumps({c: {i: str(v) for i, v in labels.items()} for c, labels in submission.items()}))
    plain = score(bench, problem, write_vision_submission(tmp_path / "plain", submission))
    assert score(bench, problem, folder).scores == plain.scores
    assert score(bench, problem, strings).scores == plain.scores


def test_submission_order_is_kept(bench, problem, submission, tmp_path):
    path = write_vision_submission(tmp_path / "order.json", submission, fmt="nested")
    solution = bench.load_submission(problem, path, bench.config())
    assert solution.concepts["Sushi"].ids == list(submission["Sushi"])


def test_pool_duplicates_join_like_the_reference(bench, tmp_path):
    """An ImageID stored twice in the pool joins twice (inner join), like Spark/pandas."""
    rng = np.random.default_rng(1)
    ids = [f"{i:016x}" for i in range(60)]
    vectors = rng.normal(size=(60, 4))
    vectors[:20, 0] += 3
    ids.append(ids[0])
    vectors = np.vstack([vectors, rng.normal(size=(1, 4)) + [3, 0, 0, 0]])
    _write_vision_dir(tmp_path, ids, vectors, {"Hawk": ([f"t{i}" for i in range(10)],
                                                        [1] * 5 + [0] * 5,
                                                        np.vstack([rng.normal(size=(5, 4)) + [3, 0, 0, 0],
                                                                   rng.normal(size=(5, 4))]))})
    labels = {ids[i]: int(i < 20) for i in range(0, 60, 2)}
    folder = write_vision_submission(tmp_path / "sub", {"Hawk": labels})
    problem = bench.load_problem(tmp_path, bench.config({"concepts": ["Hawk"]}))
    result = score(bench, problem, folder, concepts=["Hawk"])
    assert result.details["per_concept"]["Hawk"]["n_train"] == len(labels) + 1
    reference = oracle.vision_reference_scores(tmp_path, {"Hawk": folder / "Hawk.csv"}, 4)
    assert_matches_oracle(result, reference)


# --- hand-computed metric -------------------------------------------------------------------
def _write_vision_dir(root, pool_ids, pool_vectors, tests):
    def table(columns, vectors):
        flat = np.asarray(vectors, dtype=np.float32)
        offsets = pa.array(np.arange(0, flat.size + 1, flat.shape[1], dtype=np.int32))
        return pa.table({**columns, "embedding": pa.ListArray.from_arrays(offsets, pa.array(flat.reshape(-1)))})

    (root / "embeddings").mkdir(parents=True, exist_ok=True)
    (root / "test_sets").mkdir(parents=True, exist_ok=True)
    pq.write_table(table({"ImageID": pool_ids}, pool_vectors), root / "embeddings" / "train_emb_256_dataperf.parquet")
    for concept, (ids, labels, vectors) in tests.items():
        pq.write_table(table({"ImageID": ids, "Confidence": [str(v) for v in labels]}, vectors),
                       root / "test_sets" / f"alpha_test_set_{concept}_256.parquet")


def test_hand_computed_f1(bench, tmp_path):
    """Positives at (+3, 0), negatives at (-3, 0). Test set: 4 positives on the positive side, 1
    positive on the negative side (missed), 3 negatives on the negative side, 2 negatives on the
    positive side (false alarms). So TP=4, FN=1, FP=2, TN=3: precision 4/6, recall 4/5,
    F1 = 2*4/(2*4+2+1) = 8/11, accuracy 7/10."""
    rng = np.random.default_rng(0)
    pos, neg = np.array([3.0, 0.0]), np.array([-3.0, 0.0])
    pool_ids = [f"p{i}" for i in range(5)] + [f"n{i}" for i in range(5)] + ["unused"]
    pool = [pos + rng.normal(0, 0.3, 2) for _ in range(5)] + [neg + rng.normal(0, 0.3, 2) for _ in range(6)]
    where = [pos] * 4 + [neg] + [neg] * 3 + [pos] * 2
    test_vectors = [w + rng.normal(0, 0.3, 2) for w in where]
    _write_vision_dir(tmp_path, pool_ids, pool, {"Sushi": ([f"t{i}" for i in range(10)], [1] * 5 + [0] * 5,
                                                          test_vectors)})
    folder = write_vision_submission(tmp_path / "sub", {"Sushi": {**{f"p{i}": 1 for i in range(5)},
                                                                  **{f"n{i}": 0 for i in range(5)}}})
    problem = bench.load_problem(tmp_path, bench.config({"concepts": ["Sushi"]}))
    result = score(bench, problem, folder, concepts=["Sushi"])
    sushi = result.details["per_concept"]["Sushi"]
    assert abs(sushi["f1"] - 8 / 11) < 1e-12 and abs(result.scores["mean_f1"] - 8 / 11) < 1e-12
    assert abs(sushi["precision"] - 4 / 6) < 1e-12 and abs(sushi["recall"] - 4 / 5) < 1e-12
    assert abs(sushi["accuracy"] - 7 / 10) < 1e-12
    assert sushi["n_train"] == 10 and sushi["n_positive"] == 5
    reference = oracle.vision_reference_scores(tmp_path, {"Sushi": folder / "Sushi.csv"}, 2)
    assert_matches_oracle(result, reference)


# --- validation errors -------------------------------------------------------------------------
def _csv_dir(tmp_path, submission, replace=None, name="sub"):
    """A CSV-directory submission; ``replace`` maps concept -> raw CSV text."""
    folder = write_vision_submission(tmp_path / name, submission)
    for concept, text in (replace or {}).items():
        (folder / f"{concept}.csv").write_text(text)
    return folder


def _expect(bench, problem, path, *fragments, **overrides):
    with pytest.raises(SubmissionError) as error:
        bench.load_submission(problem, path, bench.config(overrides))
    for fragment in fragments:
        assert fragment in str(error.value), (fragment, str(error.value))


def test_missing_concept(bench, problem, submission, tmp_path):
    folder = _csv_dir(tmp_path, submission)
    (folder / "Hawk.csv").unlink()
    _expect(bench, problem, folder, "'Hawk'", "Hawk.csv or Hawk.json")
    (folder / "hawk.csv").write_text("ImageID,Confidence\n")
    _expect(bench, problem, folder, "'Hawk'", "found 'hawk.csv'", "case-sensitive")


def test_csv_and_json_for_the_same_concept(bench, problem, submission, tmp_path):
    folder = _csv_dir(tmp_path, submission)
    (folder / "Sushi.json").write_text(json.dumps(submission["Sushi"]))
    _expect(bench, problem, folder, "Sushi.csv and Sushi.json")


def test_size_limit(bench, problem, data_dir, tmp_path):
    big = random_vision_submission(data_dir, size=120, seed=3)
    folder = _csv_dir(tmp_path, big)
    _expect(bench, problem, folder, "Cupcake.csv", "120 labelled images", "'Cupcake'", "limit of 100", max_train_size=100)
    bench.load_submission(problem, folder, bench.config({"max_train_size": 120}))


def test_single_label_is_rejected(bench, problem, submission, pool_ids, tmp_path):
    ones = "ImageID,Confidence\n" + "".join(f"{i},1\n" for i in pool_ids[:10])
    _expect(bench, problem, _csv_dir(tmp_path, submission, {"Hawk": ones}), "Hawk.csv", "every image is labelled 1",
            "one image labelled 0")
    _expect(bench, problem, _csv_dir(tmp_path, submission, {"Hawk": "ImageID,Confidence\n"}, "e"),
            "Hawk.csv", "no labelled images")


@pytest.mark.parametrize("value", ["2", "1.0", "yes", "", "-1"])
def test_bad_csv_label(bench, problem, submission, pool_ids, tmp_path, value):
    text = f"ImageID,Confidence\n{pool_ids[0]},0\n{pool_ids[1]},{value}\n"
    _expect(bench, problem, _csv_dir(tmp_path, submission, {"Cupcake": text}), "Cupcake.csv", "line 3",
            repr(pool_ids[1]), repr(value), "0 or 1")


@pytest.mark.parametrize("value", [2, 1.5, True, None, "one", [1]])
def test_bad_json_label(bench, problem, submission, pool_ids, tmp_path, value):
    content = json.loads(json.dumps(submission))
    content["Hawk"][pool_ids[5]] = value
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(content))
    _expect(bench, problem, path, "nested.json['Hawk']", repr(pool_ids[5]), "0 or 1")


def test_unknown_ids_are_rejected_and_named(bench, problem, submission, tmp_path):
    content = json.loads(json.dumps(submission))
    for i in range(7):
        content["Sushi"][f"ffffffff0000000{i}"] = 0
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(content))
    _expect(bench, problem, path, "['Sushi']", "7 ImageID(s) are not in the candidate pool",
            "'ffffffff00000000'", "'ffffffff00000004'", "and 2 more")


def test_duplicate_ids_are_rejected(bench, problem, submission, pool_ids, tmp_path):
    text = f"ImageID,Confidence\n{pool_ids[0]},0\n{pool_ids[1]},1\n{pool_ids[0]},0\n"
    _expect(bench, problem, _csv_dir(tmp_path, submission, {"Sushi": text}), "Sushi.csv", repr(pool_ids[0]),
            "more than once")
    (tmp_path / "dup.json").write_text('{"Cupcake": {"a": 1, "a": 0}, "Hawk": {}, "Sushi": {}}')
    _expect(bench, problem, tmp_path / "dup.json", "'a' appears twice")


def test_malformed_files(bench, problem, submission, pool_ids, tmp_path):
    _expect(bench, problem, _csv_dir(tmp_path, submission, {"Hawk": "id,label\nx,1\n"}, "h"),
            "Hawk.csv", "ImageID and Confidence", "'id,label'")
    _expect(bench, problem, _csv_dir(tmp_path, submission, {"Hawk": ""}, "e"), "Hawk.csv is empty")
    short = f"ImageID,Confidence\n{pool_ids[0]}\n"
    _expect(bench, problem, _csv_dir(tmp_path, submission, {"Hawk": short}, "s"), "Hawk.csv, line 2", "columns")
    (tmp_path / "bad.zip").write_bytes(b"PK not really a zip")
    _expect(bench, problem, tmp_path / "bad.zip", "bad.zip is not a valid zip archive")
    (tmp_path / "empty.json").write_text("")
    _expect(bench, problem, tmp_path / "empty.json", "empty.json is empty")
    (tmp_path / "broken.json").write_text('{"Cupcake": ')
    _expect(bench, problem, tmp_path / "broken.json", "broken.json is not valid JSON")
    (tmp_path / "list.json").write_text("[1, 2]")
    _expect(bench, problem, tmp_path / "list.json", "expected a JSON object", "a list")
    (tmp_path / "flat.json").write_text(json.dumps(submission["Hawk"]))
    _expect(bench, problem, tmp_path / "flat.json", "flat {ImageID: label}", "nested")
    content = dict(submission, cupcake={})
    (tmp_path / "unknown.json").write_text(json.dumps(content))
    _expect(bench, problem, tmp_path / "unknown.json", "unknown concept", "'cupcake'")
    content = {c: v for c, v in submission.items() if c != "Sushi"}
    (tmp_path / "missing.json").write_text(json.dumps(content))
    _expect(bench, problem, tmp_path / "missing.json", "missing the training set for concept 'Sushi'")
    (tmp_path / "wrong.json").write_text(json.dumps(dict(submission, Hawk=[1, 2])))
    _expect(bench, problem, tmp_path / "wrong.json", "['Hawk']", "expected a JSON object", "a list")
    (tmp_path / "sub.csv").write_text("ImageID,Confidence\n")
    _expect(bench, problem, tmp_path / "sub.csv", "sub.csv", "expected a directory")
    with zipfile.ZipFile(tmp_path / "partial.zip", "w") as archive:
        archive.writestr("Cupcake.csv", "ImageID,Confidence\n")
    _expect(bench, problem, tmp_path / "partial.zip", "partial.zip", "'Hawk'")


# --- config and data ------------------------------------------------------------------------------
def test_config_and_data_errors(bench, data_dir, tmp_path):
    with pytest.raises(DataError, match="train_emb_256_dataperf.parquet"):
        bench.load_problem(tmp_path, bench.config())
    with pytest.raises(DataError, match="Pizza"):
        bench.load_problem(data_dir, bench.config({"concepts": ["Pizza"]}))
    for bad in ({"max_train_size": 0}, {"max_train_size": "10"}, {"concepts": "Hawk"}, {"concepts": ["Hawk", "Hawk"]}):
        with pytest.raises(DataError):
            bench.load_problem(data_dir, bench.config(bad))


def test_concepts_discovered_when_config_is_empty(bench, data_dir):
    problem = bench.load_problem(data_dir, bench.config({"concepts": []}))
    assert problem.concepts == ("Cupcake", "Hawk", "Sushi")


def test_subset_of_concepts(bench, data_dir, submission, tmp_path):
    problem = bench.load_problem(data_dir, bench.config({"concepts": ["Hawk"]}))
    result = score(bench, problem, write_vision_submission(tmp_path / "s", submission), concepts=["Hawk"])
    assert set(result.scores) == {"mean_f1", "f1_Hawk"} and result.scores["mean_f1"] == result.scores["f1_Hawk"]


# --- progress, CLI, cache ------------------------------------------------------------------------
def test_progress_per_concept(bench, problem, submission, tmp_path):
    calls = []
    config = bench.config()
    solution = bench.load_submission(problem, write_vision_submission(tmp_path / "s", submission), config)
    bench.evaluate(problem, solution, config, lambda f, m: calls.append((f, m)))
    assert [m.split(":")[0] for _, m in calls] == list(CONCEPTS) and calls[-1][0] == 1.0


def test_cli(data_dir, submission, tmp_path, capsys):
    from evaluation.__main__ import main

    path = write_vision_submission(tmp_path / "sub.zip", submission, fmt="zip")
    done = subprocess.run([sys.executable, "-m", "evaluation", "score", "vision-selection", "--data", str(data_dir),
                           "--submission", str(path), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload["scores"]) == {"mean_f1", "f1_Cupcake", "f1_Hawk", "f1_Sushi"}
    assert payload["score"] == payload["scores"]["mean_f1"]

    assert main(["score", "vision-selection", "--data", str(data_dir), "--submission", str(path),
                 "--max-train-size", "50"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "limit of 50" in err and "Traceback" not in err
    assert main(["validate", "vision-selection", "--data", str(data_dir), "--submission", str(path),
                 "--concepts", "Hawk,Sushi", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"valid": True}


def test_problem_cache_returns_same_object(bench, data_dir):
    cache.clear()
    first = cache.load_problem(bench, data_dir, bench.config())
    assert cache.load_problem(bench, data_dir, bench.config()) is first
    assert cache.load_problem(bench, data_dir, bench.config({"concepts": ["Hawk"]})) is not first
    cache.clear()


def test_generator_is_deterministic(tmp_path):
    a = write_vision_data(tmp_path / "a", pool_size=300, dim=8, test_size=20, seed=4, n_parts=3)
    b = write_vision_data(tmp_path / "b", pool_size=300, dim=8, test_size=20, seed=4, n_parts=3)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert len([f for f in files if f.name.startswith("part-")]) == 3
    for rel in files:
        if rel.suffix == ".parquet":
            assert pq.read_table(a / rel).equals(pq.read_table(b / rel))
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes()
    # the generator of submissions reads only public files (works without test_sets/)
    for test_set in (a / "test_sets").iterdir():
        test_set.unlink()
    assert random_vision_submission(a, size=50, seed=1) == random_vision_submission(b, size=50, seed=1)
