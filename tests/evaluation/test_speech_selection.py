"""Speech selection: equality with the reference eval.py (oracle), quirks, validation, CLI, cache."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so `pytest` works without `python -m`
    sys.path.insert(0, str(ROOT))

from evaluation import cache, registry  # noqa: E402
from evaluation.base import DataError, SubmissionError  # noqa: E402
from evaluation.benchmarks import speech_selection  # noqa: E402
from fixtures.synthetic import random_speech_submission, write_speech_data  # noqa: E402
from tests.evaluation import reference_oracle as oracle  # noqa: E402

SMALL = dict(train_per_target=30, eval_per_target=30, n_nontarget_words=8, train_nontargets=160,
             eval_nontargets=300, dim=32)


@pytest.fixture(scope="module")
def bench():
    return registry.get("speech-selection")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_speech_data(tmp_path_factory.mktemp("speech"), seed=3, **SMALL)


@pytest.fixture(scope="module")
def problem(bench, data_dir):
    return bench.load_problem(data_dir, bench.config())


@pytest.fixture(scope="module")
def allowed(data_dir):
    return yaml.safe_load((data_dir / "allowed_training_set.yaml").read_text())


def write(tmp_path, content, name="sub.json"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=4))
    return path


def score(bench, problem, path, train_size=25):
    config = bench.config({"train_size": train_size})
    return bench.evaluate(problem, bench.load_submission(problem, path, config), config)


def oracle_scores(data_dir, path, train_size, default_threads=False):
    """The reference scores. BLAS is limited to one thread unless ``default_threads`` (the oracle's
    tiny lbfgs fits are 5-15x slower with threaded BLAS on a busy 2-core box; results are equal)."""
    if default_threads:
        return oracle.speech_reference_scores(data_dir, path, train_size)
    with threadpool_limits(limits=1):
        return oracle.speech_reference_scores(data_dir, path, train_size)


def assert_matches_oracle(bench, problem, data_dir, path, train_size=25, default_threads=False):
    result = score(bench, problem, path, train_size)
    reference = oracle_scores(data_dir, path, train_size, default_threads)
    ours = [s["macro_f1"] for s in result.details["per_seed"]]
    assert np.allclose(ours, reference, rtol=0, atol=1e-9)
    assert abs(result.scores["macro_f1"] - np.mean(reference)) <= 1e-9
    assert abs(result.scores["macro_f1_std"] - np.std(reference)) <= 1e-9
    return result


# --- metadata ---------------------------------------------------------------------------------
def test_registered_type(bench):
    assert bench.slug == "speech-selection" and bench.kind == "selection"
    assert bench.primary_metric == "macro_f1"
    assert bench.metric("macro_f1").spread_key == "macro_f1_std"
    assert bench.default_config == {"train_size": 25}
    assert speech_selection.SEEDS == (5, 69, 98, 70, 95, 64, 37, 11, 4, 32)
    assert bench.is_hidden("eval.yaml") and bench.is_hidden("eval_embeddings/fifty.parquet")
    assert not bench.is_hidden("train_embeddings/fifty.parquet")
    assert not bench.is_hidden("allowed_training_set.yaml")


# --- equality with the reference ----------------------------------------------------------------
@pytest.mark.parametrize("train_size,seed", [(25, 0), (60, 1)])
def test_matches_reference_oracle(bench, problem, data_dir, tmp_path, train_size, seed):
    submission = random_speech_submission(data_dir, train_size, seed)
    path = write(tmp_path, json.dumps(submission, sort_keys=True, indent=4))
    # one case runs the oracle with the default (multi-threaded) BLAS pools
    result = assert_matches_oracle(bench, problem, data_dir, path, train_size, default_threads=train_size == 60)
    assert 0.05 < result.scores["macro_f1"] < 0.99  # learnable but not trivial
    assert len(result.details["per_seed"]) == 10
    assert result.details["n_train_rows"] == sum(result.details["train_rows_per_class"].values())


def test_matches_oracle_with_float64_embeddings(bench, tmp_path):
    data = write_speech_data(tmp_path / "d", dtype="float64", seed=5, **{**SMALL, "dim": 32})
    problem = bench.load_problem(data, bench.config())
    assert problem.dtype == "float64"
    path = write(tmp_path, random_speech_submission(data, 25, 2))
    assert_matches_oracle(bench, problem, data, path)


def test_binary_case_matches_oracle(bench, problem, data_dir, allowed, tmp_path):
    words = list(allowed["targets"])
    content = {"targets": {w: [] for w in words}, "nontargets": allowed["nontargets"][:12]}
    content["targets"][words[2]] = allowed["targets"][words[2]][:10]
    assert_matches_oracle(bench, problem, data_dir, write(tmp_path, content))


def test_fast_path_equals_sklearn_predict_proba(bench, problem, data_dir, monkeypatch, tmp_path):
    path = write(tmp_path, random_speech_submission(data_dir, 25, 7))
    config = bench.config()
    solution = bench.load_submission(problem, path, config)
    fast = bench.evaluate(problem, solution, config)
    monkeypatch.setattr(speech_selection, "EXACT_SVM_PROBA", True)
    exact = bench.evaluate(problem, solution, config)
    assert fast.details["per_seed"] == exact.details["per_seed"]
    # The numpy port of libsvm's Platt scaling + pairwise coupling agrees to rounding error.
    x = problem.x_train[solution.rows]
    for seed in speech_selection.SEEDS[:3]:
        svc = speech_selection._voting_classifier(seed).fit(x, solution.y).estimators_[0]
        dec = speech_selection._svc_decision_values(svc, problem.x_eval)
        ours, _ = speech_selection.libsvm_probabilities(dec, svc.probA_, svc.probB_, len(svc.classes_))
        assert np.abs(ours - svc.predict_proba(problem.x_eval)).max() < 1e-12


def test_rows_near_a_tie_are_recomputed_exactly(bench, problem, data_dir, monkeypatch, tmp_path):
    # A huge margin tolerance forces every row through sklearn's predict_proba: same numbers.
    path = write(tmp_path, random_speech_submission(data_dir, 25, 8))
    config = bench.config()
    solution = bench.load_submission(problem, path, config)
    normal = bench.evaluate(problem, solution, config)
    monkeypatch.setattr(speech_selection, "_MARGIN_TOL", 2.0)
    forced = bench.evaluate(problem, solution, config)
    assert forced.details["rows_recomputed_exactly"] == 10 * len(problem.y_eval)
    assert forced.details["per_seed"] == normal.details["per_seed"]


def test_self_check_falls_back_to_predict_proba(bench, problem, data_dir, monkeypatch, tmp_path):
    """If the numpy port ever disagrees with sklearn (another libsvm), the seed is scored exactly."""
    path = write(tmp_path, random_speech_submission(data_dir, 25, 9))
    config = bench.config()
    solution = bench.load_submission(problem, path, config)
    normal = bench.evaluate(problem, solution, config)
    assert normal.details["seeds_scored_without_fast_path"] == 0
    real = speech_selection.libsvm_probabilities
    monkeypatch.setattr(speech_selection, "libsvm_probabilities",
                        lambda *args, **kw: (real(*args, **kw)[0][:, ::-1].copy(), real(*args, **kw)[1]))
    broken = bench.evaluate(problem, solution, config)
    assert broken.details["seeds_scored_without_fast_path"] == 10
    assert broken.details["per_seed"] == normal.details["per_seed"]


# --- hand-computed metric -------------------------------------------------------------------
def _write_table(path, ids, vectors):
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = np.asarray(vectors, dtype=np.float32)
    offsets = pa.array(np.arange(0, flat.size + 1, flat.shape[1], dtype=np.int32))
    column = pa.ListArray.from_arrays(offsets, pa.array(flat.reshape(-1)))
    pq.write_table(pa.table({"clip_id": ids, "mswc_embedding_vector": column}), path)


def test_hand_computed_macro_f1(bench, tmp_path):
    """2-d clusters: nontarget at (0,0), alpha at (10,0), beta at (0,10). One eval 'alpha' clip
    sits in the beta cluster, so predictions are known: class F1 = 1 (nontarget), 6/7 (alpha:
    P=3/3, R=3/4), 8/9 (beta: P=4/5, R=4/4); macro F1 = (1 + 6/7 + 8/9) / 3 for every seed."""
    rng = np.random.default_rng(0)
    centre = {"noise": (0, 0), "alpha": (10, 0), "beta": (0, 10)}

    def clips(word, tag, n, where=None):
        ids = [f"{word}/{tag}_{i}.wav" for i in range(n)]
        return ids, [np.add(centre[where or word], rng.normal(0, 0.5, 2)) for _ in range(n)]

    allowed, evalset = {"targets": {}, "nontargets": []}, {"targets": {}, "nontargets": []}
    for word in ("alpha", "beta"):
        ids, vecs = clips(word, "train", 4)
        _write_table(tmp_path / "train_embeddings" / f"{word}.parquet", ids, vecs)
        allowed["targets"][word] = ids
    ids, vecs = clips("noise", "train", 4)
    _write_table(tmp_path / "train_embeddings" / "noise.parquet", ids, vecs)
    allowed["nontargets"] = ids
    a_ids, a_vecs = clips("alpha", "eval", 3)
    b_ids, b_vecs = clips("alpha", "evalb", 1, where="beta")  # an 'alpha' clip that sounds like beta
    _write_table(tmp_path / "eval_embeddings" / "alpha.parquet", a_ids + b_ids, a_vecs + b_vecs)
    evalset["targets"]["alpha"] = a_ids + b_ids
    ids, vecs = clips("beta", "eval", 4)
    _write_table(tmp_path / "eval_embeddings" / "beta.parquet", ids, vecs)
    evalset["targets"]["beta"] = ids
    ids, vecs = clips("noise", "eval", 4)
    _write_table(tmp_path / "eval_embeddings" / "noise.parquet", ids, vecs)
    evalset["nontargets"] = ids
    (tmp_path / "allowed_training_set.yaml").write_text(yaml.safe_dump(allowed, sort_keys=False))
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(evalset, sort_keys=False))

    path = write(tmp_path, {"targets": allowed["targets"], "nontargets": allowed["nontargets"]})
    problem = bench.load_problem(tmp_path, bench.config({"train_size": 12}))
    result = score(bench, problem, path, train_size=12)
    expected = (1 + 6 / 7 + 8 / 9) / 3
    assert all(abs(s["macro_f1"] - expected) < 1e-12 for s in result.details["per_seed"])
    assert abs(result.scores["macro_f1"] - expected) < 1e-12
    assert result.scores["macro_f1_std"] < 1e-12
    assert result.details["train_rows_per_class"] == {"nontarget": 4, "alpha": 4, "beta": 4}
    assert abs(np.mean(oracle_scores(tmp_path, path, 12)) - expected) < 1e-12


# --- quirks of the reference, reproduced ------------------------------------------------------
@pytest.fixture(scope="module")
def base_submission(data_dir):
    return random_speech_submission(data_dir, 24, 11)


def test_duplicate_target_id_is_counted_but_used_once(bench, problem, data_dir, base_submission, tmp_path):
    word = next(iter(base_submission["targets"]))
    dup = json.loads(json.dumps(base_submission))
    dup["targets"][word].append(dup["targets"][word][0])
    plain = score(bench, problem, write(tmp_path, base_submission, "plain.json"))
    doubled = assert_matches_oracle(bench, problem, data_dir, write(tmp_path, dup, "dup.json"))
    assert doubled.details["per_seed"] == plain.details["per_seed"]
    assert doubled.details["n_selected"] == plain.details["n_selected"] + 1
    assert doubled.details["n_train_rows"] == plain.details["n_train_rows"]
    assert any("used once" in note for note in doubled.details["notes"])
    # ...and it still counts against the limit
    assert plain.details["n_selected"] == 24
    with pytest.raises(SubmissionError, match="25 clips selected"):
        bench.load_submission(problem, write(tmp_path, dup, "dup.json"), bench.config({"train_size": 24}))


def test_duplicate_nontarget_id_is_an_extra_row(bench, problem, data_dir, base_submission, tmp_path):
    dup = json.loads(json.dumps(base_submission))
    dup["nontargets"].append(dup["nontargets"][0])
    result = assert_matches_oracle(bench, problem, data_dir, write(tmp_path, dup))
    assert result.details["train_rows_per_class"]["nontarget"] == len(dup["nontargets"])
    assert any("extra training row" in note for note in result.details["notes"])


def test_nontarget_order_is_respected(bench, problem, data_dir, base_submission, tmp_path):
    reordered = json.loads(json.dumps(base_submission))
    reordered["nontargets"].reverse()
    assert_matches_oracle(bench, problem, data_dir, write(tmp_path, reordered))
    solution = bench.load_submission(problem, write(tmp_path, reordered), bench.config())
    # rows: grouped by word in first-appearance order, submission order inside a word
    expected = []
    for word in dict.fromkeys(speech_selection.nontarget_word(c) for c in reordered["nontargets"]):
        expected += [problem.nontarget_row[c] for c in reordered["nontargets"]
                     if speech_selection.nontarget_word(c) == word]
    n_nontarget = solution.rows_per_class["nontarget"]
    assert solution.rows[-n_nontarget:].tolist() == expected


def test_target_order_follows_parquet_not_submission(bench, problem, data_dir, base_submission, tmp_path):
    shuffled = json.loads(json.dumps(base_submission))
    for ids in shuffled["targets"].values():
        ids.reverse()
    a = bench.load_submission(problem, write(tmp_path, base_submission, "a.json"), bench.config())
    b = bench.load_submission(problem, write(tmp_path, shuffled, "b.json"), bench.config())
    assert a.rows.tolist() == b.rows.tolist()
    # target *key* order decides the order of the class blocks, exactly as in eval.py
    keys_reversed = dict(shuffled, targets=dict(reversed(list(shuffled["targets"].items()))))
    assert_matches_oracle(bench, problem, data_dir, write(tmp_path, keys_reversed, "c.json"))


def test_missing_target_key_is_rejected(bench, problem, base_submission, tmp_path):
    word = sorted(base_submission["targets"])[1]
    missing = json.loads(json.dumps(base_submission))
    del missing["targets"][word]
    with pytest.raises(SubmissionError) as error:
        bench.load_submission(problem, write(tmp_path, missing), bench.config())
    message = str(error.value)
    assert repr(word) in message and "[]" in message and "missing" in message
    # the empty list is accepted
    missing["targets"][word] = []
    bench.load_submission(problem, write(tmp_path, missing), bench.config())


# --- validation errors -------------------------------------------------------------------------
def _valid(allowed):
    return {"targets": {w: ids[:2] for w, ids in allowed["targets"].items()}, "nontargets": allowed["nontargets"][:5]}


def _mutations(allowed):
    words = list(allowed["targets"])
    w0, w1 = words[0], words[1]

    def mutate(fn):
        content = _valid(allowed)
        fn(content)
        return content

    return [
        ("", ["sub.json", "empty"]),
        ("   \n", ["empty"]),
        ("{not json", ["not valid JSON", "line 1"]),
        (b"\xff\xfe\x00{", ["not UTF-8"]),
        ([], ["expected a JSON object", "a list"]),
        (mutate(lambda c: c.update(extra=1)), ["unknown top-level key", "'extra'"]),
        (mutate(lambda c: c.pop("nontargets")), ["missing top-level key 'nontargets'"]),
        (mutate(lambda c: c.update(targets=[])), ["'targets' must be an object"]),
        (mutate(lambda c: c["targets"].update({w0: "x"})), [f"targets[{w0!r}]", "must be a list"]),
        (mutate(lambda c: c["targets"].update({w0: [3]})), [f"targets[{w0!r}]", "strings"]),
        (mutate(lambda c: c.update(nontargets={})), ["'nontargets' must be a list"]),
        (mutate(lambda c: c.update(nontargets=[None])), ["nontargets contains None", "strings"]),
        (mutate(lambda c: c["targets"].update(zebra=[])), ["'zebra'", "not an allowed target word"]),
        (mutate(lambda c: c["targets"].pop(w1)), [f"missing the key {w1!r}", "[]"]),
        (mutate(lambda c: c["targets"][w0].append(allowed["targets"][w1][5])),
         [f"targets[{w0!r}]", allowed["targets"][w1][5], "not in the allowed"]),
        (mutate(lambda c: c["targets"][w0].append(f"{w0}/made_up.wav")), [f"{w0}/made_up.wav"]),
        (mutate(lambda c: c["nontargets"].append(allowed["targets"][w0][9])),
         ["nontargets", allowed["targets"][w0][9], "not in the allowed"]),
        (mutate(lambda c: c["nontargets"].extend(allowed["nontargets"][5:20])), ["30 clips selected", "limit of 25"]),
        (mutate(lambda c: c.update(targets={w: [] for w in words})), ["no target clips"]),
        (mutate(lambda c: c.update(nontargets=[])), ["nontargets is empty"]),
        ('{"targets": {}, "targets": {}, "nontargets": []}', ["'targets' appears twice"]),
    ]


def test_validation_errors_name_the_problem(bench, problem, allowed, tmp_path):
    bench.load_submission(problem, write(tmp_path, _valid(allowed)), bench.config())  # the base is valid
    for content, fragments in _mutations(allowed):
        path = tmp_path / "sub.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write(tmp_path, content)
        with pytest.raises(SubmissionError) as error:
            bench.load_submission(problem, path, bench.config())
        for fragment in fragments:
            assert fragment in str(error.value), (fragment, str(error.value))


def test_train_size_config(bench, problem, data_dir, tmp_path):
    path = write(tmp_path, random_speech_submission(data_dir, 60, 4))
    with pytest.raises(SubmissionError, match="limit of 25"):
        bench.load_submission(problem, path, bench.config())
    bench.load_submission(problem, path, bench.config({"train_size": 60}))
    for bad in (0, -3, "25", 2.5, True):
        with pytest.raises(DataError, match="train_size"):
            bench.load_submission(problem, path, bench.config({"train_size": bad}))
    with pytest.raises(DataError, match="unknown config keys"):
        bench.config({"seeds": [1]})


def test_bad_data_directory(bench, data_dir, tmp_path):
    with pytest.raises(DataError, match="allowed_training_set.yaml"):
        bench.load_problem(tmp_path, bench.config())
    broken = tmp_path / "broken"
    write_speech_data(broken, **{**SMALL, "dim": 8, "train_nontargets": 20, "eval_nontargets": 60})
    victim = sorted((broken / "eval_embeddings").glob("*.parquet"))[0]
    victim.unlink()
    with pytest.raises(DataError, match=f"eval_embeddings/{victim.stem}.parquet"):
        bench.load_problem(broken, bench.config())


# --- progress, CLI, cache ------------------------------------------------------------------------
def test_progress_is_reported_per_seed(bench, problem, data_dir, tmp_path):
    calls = []
    config = bench.config()
    solution = bench.load_submission(problem, write(tmp_path, random_speech_submission(data_dir, 25, 1)), config)
    bench.evaluate(problem, solution, config, lambda fraction, message: calls.append((fraction, message)))
    seed_calls = [c for c in calls if c[1].startswith("seed ")]
    assert len(seed_calls) == 10 and seed_calls[-1][0] == 1.0
    assert [f for f, _ in calls] == sorted(f for f, _ in calls)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "evaluation", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_score_json(data_dir, tmp_path):
    path = write(tmp_path, random_speech_submission(data_dir, 25, 0))
    done = subprocess.run(
        [sys.executable, "-m", "evaluation", "score", "speech-selection", "--data", str(data_dir),
         "--submission", str(path), "--train-size", "25", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert abs(payload["score"] - np.mean(oracle_scores(data_dir, path, 25))) <= 1e-9
    assert set(payload["scores"]) == {"macro_f1", "macro_f1_std"}
    assert len(payload["details"]["per_seed"]) == 10


def test_cli_errors_are_one_line(data_dir, tmp_path, capsys):
    from evaluation.__main__ import main

    bad = write(tmp_path, {"targets": {}, "nontargets": []}, "bad.json")
    assert main(["score", "speech-selection", "--data", str(data_dir), "--submission", str(bad),
                 "--train-size", "25", "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "missing the key" in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""

    path = write(tmp_path, random_speech_submission(data_dir, 60, 0))
    assert main(["validate", "speech-selection", "--data", str(data_dir), "--submission", str(path),
                 "--train-size", "60"]) == 0
    assert main(["score", "speech-selection", "--data", str(data_dir), "--submission", str(path)]) == 2
    assert "exceeds the limit of 25" in capsys.readouterr().err
    assert main(["score", "speech-selection", "--data", str(tmp_path), "--submission", str(path)]) == 2
    assert "allowed_training_set.yaml" in capsys.readouterr().err


def test_problem_cache_returns_same_object(bench, data_dir):
    cache.clear()
    first = cache.load_problem(bench, data_dir, bench.config())
    assert cache.load_problem(bench, data_dir, bench.config()) is first
    assert cache.load_problem(bench, Path(str(data_dir) + "/"), bench.config()) is first
    cache.clear()


def test_generator_is_deterministic(tmp_path):
    tiny = {**SMALL, "dim": 4, "train_nontargets": 20, "eval_nontargets": 60}
    a, b = write_speech_data(tmp_path / "a", seed=9, **tiny), write_speech_data(tmp_path / "b", seed=9, **tiny)
    for name in ("allowed_training_set.yaml", "eval.yaml"):
        assert (a / name).read_text() == (b / name).read_text()
    for path in sorted(a.glob("*_embeddings/*.parquet")):
        assert pq.read_table(path).equals(pq.read_table(b / path.relative_to(a)))
    assert random_speech_submission(a, 25, 3) == random_speech_submission(b, 25, 3)
    assert (a / "eval.yaml").read_text() != write_speech_data(tmp_path / "c", seed=10, **tiny).joinpath(
        "eval.yaml").read_text()
