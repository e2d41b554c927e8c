"""Degenerate submissions lose on the demo data.

Each test cuts a real prebuilt task dataset into its benchmark layout with the layout writers (as
``make run`` does), runs the shipped baselines on the public files, and builds the submissions a
careless or gaming participant would send: random, the first rows of the file, one class only,
duplicated ids, the minimal set, the identity/reversed ranking... Each must either be refused with
a sentence naming the file, or score strictly worse than the best shipped baseline.
"""
from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from evaluation import registry
from evaluation.base import SubmissionError
from evaluation.baselines import BASELINES

builders = pytest.importorskip("fixtures.builders")
from fixtures.builders import layouts  # noqa: E402


def _layout(tmp_path_factory, task: str, layout: str) -> tuple[Path, Path, dict]:
    """(data dir, public copy without hidden files, build info) of a demo benchmark."""
    root = tmp_path_factory.mktemp(f"{task}-{layout}")
    kwargs = {} if layout == "speech-selection" else {"seed": 0}
    info = layouts.write_layout(builders.load_prebuilt(task), layout, root / "data", **kwargs)
    bench = registry.get(layout)
    public = root / "public"
    shutil.copytree(root / "data", public)
    for path in sorted(public.rglob("*")):
        if path.is_file() and bench.is_hidden(path.relative_to(public).as_posix()):
            path.unlink()
    return root / "data", public, info


class Cell:
    """A benchmark cell: loaded problem, config, and the best shipped baseline's primary score."""

    def __init__(self, type_slug: str, data: Path, public: Path, config: dict, workdir: Path):
        self.bench = registry.get(type_slug)
        self.metric = next(m for m in self.bench.metrics if m.key == self.bench.primary_metric)
        self.config = self.bench.config(config)
        self.workdir = workdir
        with threadpool_limits(1):
            self.problem = self.bench.load_problem(data, self.config)
            self.baselines = {name: self.score(make(public, workdir / f"baseline-{name}", dict(self.config), 0))
                              for name, make in BASELINES[type_slug].items()}
        better = max if self.metric.higher_is_better else min
        self.best = better(self.baselines.values())

    def score(self, path: Path) -> float:
        with threadpool_limits(1):
            solution = self.bench.load_submission(self.problem, path, self.config)
            return self.bench.evaluate(self.problem, solution, self.config).scores[self.bench.primary_metric]

    def assert_loses(self, what: str, path: Path) -> None:
        """Refused with a sentence naming the file, or strictly worse than the best baseline."""
        try:
            value = self.score(path)
        except SubmissionError as error:
            # a sentence that starts by naming the file (or the archive member) at fault
            assert re.match(r"[\w.\-]+\.(csv|json|zip|txt)\b", str(error)) and len(str(error)) > 30, error
            return
        worse = value < self.best if self.metric.higher_is_better else value > self.best
        assert worse, f"{what}: {self.metric.key} {value:.4f} is not worse than the best baseline " \
                      f"{self.best:.4f} ({self.baselines})"


# --- vision selection ------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["image", "ocr", "nlp"])
def vision(request, tmp_path_factory):
    data, public, info = _layout(tmp_path_factory, request.param, "vision-selection")
    return Cell("vision-selection", data, public, {"concepts": sorted(info["concepts"])},
                tmp_path_factory.mktemp("vision-subs")), public


def test_vision_selection_degenerate_submissions_lose(vision):
    from evaluation.baselines import vision_selection as vs

    cell, public = vision
    assert cell.baselines["k-center"] - cell.baselines["random"] >= 0.03, cell.baselines
    pool_ids, _pool, examples, cap = vs._inputs(public, cell.config)
    rng = np.random.default_rng(7)
    non_examples = {c: [i for i in pool_ids if i not in set(ex)] for c, ex in examples.items()}

    def write(name, per_concept):
        return vs.write_submission(per_concept, cell.workdir / name)

    random_rows = rng.permutation(len(pool_ids))[:cap]
    cell.assert_loses("random ids, random labels", write("random", {
        c: {pool_ids[r]: int(rng.integers(2)) for r in random_rows} for c in examples}))
    cell.assert_loses("examples + the first pool rows as negatives", write("first-rows", {
        c: {**{i: 1 for i in ex}, **{i: 0 for i in non_examples[c][:cap - len(ex)]}} for c, ex in examples.items()}))
    cell.assert_loses("everything positive", write("all-positive", {
        c: {i: 1 for i in pool_ids[:cap]} for c in examples}))
    cell.assert_loses("the examples only, every other row one class", write("one-class", {
        c: {**{i: 0 for i in non_examples[c][:cap - len(ex)]}} for c, ex in examples.items()}))
    cell.assert_loses("minimal: one example and one other row", write("minimal", {
        c: {ex[0]: 1, non_examples[c][0]: 0} for c, ex in examples.items()}))
    # duplicated ids: a CSV that lists the examples many times
    dup = cell.workdir / "duplicated.zip"
    import zipfile
    with zipfile.ZipFile(dup, "w") as archive:
        for c, ex in examples.items():
            rows = "".join(f"{i},1\n" for i in ex * 10) + "".join(f"{i},0\n" for i in non_examples[c][:100])
            archive.writestr(f"{c}.csv", "ImageID,Confidence\n" + rows)
    cell.assert_loses("duplicated ids", dup)


# --- speech selection ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def speech_layout(tmp_path_factory):
    return _layout(tmp_path_factory, "keyword", "speech-selection")


@pytest.fixture(scope="module", params=[25, 60])   # both demo cells (the official train sizes)
def speech(request, speech_layout, tmp_path_factory):
    data, public, _info = speech_layout
    return Cell("speech-selection", data, public, {"train_size": request.param},
                tmp_path_factory.mktemp("speech-subs")), public


def test_speech_selection_degenerate_submissions_lose(speech):
    from evaluation.baselines import speech_selection as ss

    cell, public = speech
    size = cell.config["train_size"]
    assert cell.best - cell.baselines["random"] >= 0.03, cell.baselines
    allowed = ss.load_allowed_embeddings(public)
    targets = {word: [s["ID"] for s in samples] for word, samples in allowed["targets"].items()}
    nontargets = [s["ID"] for s in allowed["nontargets"]]
    words = list(targets)
    per_class = size // (len(words) + 1)

    def write(name, selection):
        return ss.write_submission(selection, cell.workdir / name)

    # random clips of each class: with 4 clips per class one draw can be lucky (spread about ±0.04),
    # so the random *strategy* - its mean over five draws other than the baseline's seed 0 - must lose
    draws = [cell.score(write(f"random-{seed}", ss.random_selection(allowed, size, seed))) for seed in range(1, 6)]
    assert np.mean(draws) < cell.best, (draws, cell.baselines)
    everything = [(w, i) for w in words for i in targets[w]] + [(None, i) for i in nontargets]
    draws = []
    for seed in range(1, 6):   # random clips regardless of class, the same way
        picked = random.Random(seed).sample(everything, size)
        draws.append(cell.score(write(f"random-clips-{seed}", {
            "targets": {w: [i for ww, i in picked if ww == w] for w in words},
            "nontargets": [i for ww, i in picked if ww is None] or nontargets[:1]})))
    assert np.mean(draws) < cell.best, (draws, cell.baselines)
    cell.assert_loses("first rows of every class", write("first-rows", {
        "targets": {w: targets[w][:per_class] for w in words}, "nontargets": nontargets[:per_class]}))
    cell.assert_loses("first rows of the file (one word)", write("first-file-rows", {
        "targets": {words[0]: targets[words[0]][:size]}, "nontargets": []}))
    cell.assert_loses("one target word only", write("one-word", {
        "targets": {words[0]: targets[words[0]][:size - 1]}, "nontargets": nontargets[:1]}))
    cell.assert_loses("all positives (targets only)", write("all-targets", {
        "targets": {w: targets[w][:5] for w in words}, "nontargets": []}))
    cell.assert_loses("duplicated ids", write("duplicated", {
        "targets": {w: [targets[w][0]] * per_class for w in words}, "nontargets": [nontargets[0]] * per_class}))
    cell.assert_loses("minimal: one clip per class", write("minimal", {
        "targets": {w: targets[w][:1] for w in words}, "nontargets": nontargets[:1]}))


# --- training-set creation --------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["image", "ocr", "keyword", "nlp"])
def training_set(request, tmp_path_factory):
    data, public, _info = _layout(tmp_path_factory, request.param, "training-set")
    return Cell("training-set", data, public, {}, tmp_path_factory.mktemp("training-subs")), public


def test_training_set_degenerate_submissions_lose(training_set):
    from evaluation.baselines import training_set as ts

    cell, public = training_set
    assert cell.baselines["confident-learning"] - cell.baselines["random"] >= 0.03, cell.baselines
    ids, _X, given = ts.load_pool(public)
    cap = cell.config["max_train_size"]

    def write(name, rows, labels):
        return ts.write_submission(ids, np.asarray(rows), np.asarray(labels), cell.workdir / name)

    for seed in (1, 2):   # random subsets with the given labels (the baseline's seed is 0)
        rows = ts.random_subset(len(ids), cap, seed)
        cell.assert_loses(f"random subset, seed {seed}", write(f"random-{seed}", rows, given[rows]))
    first = np.arange(cap)
    cell.assert_loses("the first rows of the pool", write("first-rows", first, given[first]))
    one_class = np.flatnonzero(given == given[0])[:cap]
    cell.assert_loses("one class only", write("one-class", one_class, given[one_class]))
    relabelled = np.arange(cap)
    cell.assert_loses("every row labelled with one class", write("one-label", relabelled, np.zeros(cap, int)))
    half = ts.random_subset(len(ids), cap // 2, 3)
    twice = np.concatenate([half, half])
    cell.assert_loses("every row duplicated", write("duplicated", twice, given[twice]))
    cell.assert_loses("one row", write("one-row", [0], given[:1]))
    empty = cell.workdir / "empty.csv"
    empty.write_text("id,label\n")
    with pytest.raises(SubmissionError, match="empty.csv: the training set is empty"):
        cell.score(empty)
    over = np.concatenate([np.arange(len(ids))] * 2)[:cap + 1]
    with pytest.raises(SubmissionError, match="the limit is"):
        cell.score(write("over-cap", over, given[over]))


# --- debugging (DataPerf's torch model, as the demo) --------------------------------------------------
# The best shipped baseline of each demo cell (fraction of fixes, torch model, seed 0): the yardstick.
DEBUG_BEST = {"image": "confident-learning", "ocr": "knn-shapley", "keyword": "confident-learning",
              "nlp": "knn-shapley"}


@pytest.fixture(scope="module", params=sorted(DEBUG_BEST))
def debugging(request, tmp_path_factory):
    pytest.importorskip("torch")
    data, public, _info = _layout(tmp_path_factory, request.param, "debugging")
    workdir = tmp_path_factory.mktemp("debugging-subs")
    bench = registry.get("debugging")
    config = bench.config({"model": "dataperf-torch"})
    with threadpool_limits(1):
        problem = bench.load_problem(data, config)
    return request.param, bench, problem, config, public, workdir


def test_debugging_degenerate_rankings_lose(debugging):
    """On every demo cell (two tasks each: machine-label errors and class-conditional errors), the
    fraction of fixes (lower is better) of file order, reversed file order, the shipped random
    baseline (seed 0) and random orders at other seeds is strictly higher than the best shipped
    baseline's.

    The best baseline is scored by the evaluator; a degenerate ranking walks the same scorer's curve
    (``Scorer.steps``, target = 0.95 x clean accuracy, as ``evaluate_task``) task by task and stops as
    soon as its total steps exceed the baseline's: the tasks have equal sizes, so a larger total is a
    larger mean fraction, and the rest of its curve cannot change the verdict (keeps torch training short).
    """
    from evaluation.benchmarks.debugging import get_scorer

    cell, bench, problem, config, public, workdir = debugging

    def load(path):
        return bench.load_submission(problem, path, config)

    with threadpool_limits(1):
        solution = load(BASELINES["debugging"][DEBUG_BEST[cell]](public, workdir / "best", dict(config), 0))
        result = bench.evaluate(problem, solution, config)
    sizes = {task.size for task in problem.tasks.values()}
    assert len(sizes) == 1, sizes
    budget = sum(int(r["target_index"]) for r in result.details["tasks"].values())

    def loses(rankings: dict[str, np.ndarray]) -> tuple[bool, int]:
        """(total steps exceed the budget, steps walked)."""
        total = 0
        with threadpool_limits(1):
            for data_id, task in problem.tasks.items():
                scorer = get_scorer(task, config)
                target = config["target_ratio"] * scorer.cached("clean")
                for step, value in enumerate(scorer.steps(np.asarray(rankings[data_id]))):
                    if value >= target or total + step > budget:
                        break
                total += step
                if total > budget:
                    return True, total
        return False, total

    degenerate = {
        "identity": {d: np.arange(t.size) for d, t in problem.tasks.items()},
        "reversed": {d: np.arange(t.size)[::-1] for d, t in problem.tasks.items()},
        "random baseline (seed 0)": load(BASELINES["debugging"]["random"](public, workdir / "random",
                                                                           dict(config), 0)).rankings,
    }
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        degenerate[f"random, seed {seed}"] = {d: rng.permutation(t.size) for d, t in problem.tasks.items()}
    for name, rankings in degenerate.items():
        lost, total = loses(rankings)
        assert lost, f"{cell}: {name} ranking needs {total} fixes in all, not more than the " \
                     f"{DEBUG_BEST[cell]} baseline's {budget} (fraction of fixes {result.scores['fraction_fixes']:.4f})"


# --- test-set creation --------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["image", "ocr", "keyword", "nlp"])
def test_test_set_degenerate_submissions_are_refused_or_earn_nothing(tmp_path_factory, task):
    """No test-set baseline is shipped, so the yardstick is an honest submission: items the model suite
    gets wrong, with their true label. Empty and duplicated submissions are refused with a sentence;
    claiming one class for everything fools the suite often but fails verification, so its credit
    (fooling AND verified; hidden labels stand in for the annotators) stays far below."""
    from evaluation.benchmarks import test_set as tsc

    data, _public, _info = _layout(tmp_path_factory, task, "test-set")
    bench = registry.get("test-set")
    config = bench.config({})
    workdir = tmp_path_factory.mktemp("test-set-subs")
    problem = bench.load_problem(data, config)

    def write(name, rows):
        path = workdir / f"{name}.csv"
        path.write_text("item_id,label\n" + "".join(f"{item},{label}\n" for item, label in rows))
        return path

    with pytest.raises(SubmissionError, match=r"empty.csv: no items"):
        bench.load_submission(problem, write("empty", []), config)
    item = problem.ids[0]
    with pytest.raises(SubmissionError, match=r"duplicated.csv.*appears twice"):
        bench.load_submission(problem, write("duplicated", [(item, problem.class_names[0])] * 2), config)

    predictions = tsc.problem_predictions(problem, config)
    truth = {i: problem.class_names[int(problem.true_labels[problem.index[i]])] for i in problem.ids}
    honest = [(i, truth[i]) for i in problem.ids if predictions.fools(i, truth[i])][:config["max_items"]]
    rng = np.random.default_rng(3)
    picked = [str(i) for i in rng.choice(problem.ids, size=config["max_items"], replace=False)]
    # one label for everything: the class the suite is fooled by most often (on keyword, the first
    # class is "nontarget", which the suite predicts a lot, so it would be a weak trick)
    trick = max(problem.class_names, key=lambda label: sum(predictions.fools(i, label) for i in picked))
    one_class = [(i, trick) for i in picked]

    def verified_credit(rows):
        solution = bench.load_submission(problem, write("s", rows), config)
        fooled = bench.evaluate(problem, solution, config).scores["fooled"]
        proposals = [(p.item_id, p.label) for p in solution.proposals]
        verdicts = tsc.oracle_verdicts(problem, proposals)
        scoring = {pair for pair in tsc.fooling_items(predictions, proposals) if verdicts[pair]}
        return fooled, len(scoring)

    honest_fooled, honest_credit = verified_credit(honest)
    one_fooled, one_credit = verified_credit(one_class)
    assert honest_credit == len(honest) > 0
    assert one_fooled > len(one_class) / 2, (task, trick, one_fooled)   # the machine alone would reward it...
    assert one_credit < honest_credit and one_credit <= 0.2 * len(one_class), \
        (task, trick, one_credit, honest_credit)                          # ...verification does not
