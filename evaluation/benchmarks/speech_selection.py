"""DataPerf speech selection (harvard-edge/dataperf-speech-example, 2023 rules).

Participants pick at most ``train_size`` (25 or 60) training clips for a keyword-spotting classifier
from ``allowed_training_set.yaml``. The fixed model is the reference ``eval.py`` one::

    VotingClassifier([("svm", SVC(probability=True, random_state=s)),
                      ("lr", LogisticRegression(random_state=s))], voting="soft")

trained on the 1024-d MSWC embeddings of the selected clips (class 0 = nontarget, target words are
classes 1..5 in sorted order) and scored by macro F1 on the eval set, averaged over the 10 seeds in
``SEEDS``. Results equal ``eval.py`` to floating-point precision (see docs/benchmarks/selection.md);
the one deliberate difference is that a submission omitting a target word key is rejected instead of
being scored with shifted class ids.

Speed: the eval matrix is built once in ``load_problem`` (and kept in the on-disk cache for cold
commands). Per seed only the Platt-scaling parameters of the SVC change (the SVM itself is
deterministic), so the SVC's pairwise decision values over the 30,000-row eval matrix are computed
once per submission (the RBF kernel through one BLAS product, checked against libsvm's own values on
64 rows to 1e-10 — measured 3e-15 — else libsvm's for every row) and the
per-seed probabilities are derived from them with a line-by-line port of libsvm's
``sigmoid_predict`` + ``multiclass_probability``. Every eval row whose soft-vote decision could be
affected by rounding (top-two margin < ``_MARGIN_TOL`` or a libsvm convergence test within
``_BOUNDARY_TOL`` of its threshold) is recomputed with sklearn's own ``predict_proba``, so the
predictions are exactly those of the reference. Each seed also self-checks the port against
``predict_proba`` on 64 rows and scores the seed with ``predict_proba`` if they disagree (e.g. a
different scikit-learn). Set ``EXACT_SVM_PROBA = True`` to use ``predict_proba`` for every row
(~5x slower, same numbers).
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..cache import derived_arrays, take_rows
from ..registry import register
from ..submission_io import shorten
from ._selection_common import load_yaml, parse_json, preview, read_embedding_table, read_submission_bytes, \
    single_threaded_blas, type_name

# eval_random_seeds of workspace/dataperf_speech_config.yaml (PR #28, 2023-05-16).
SEEDS: tuple[int, ...] = (5, 69, 98, 70, 95, 64, 37, 11, 4, 32)
ID_COLUMN = "clip_id"
VECTOR_COLUMN = "mswc_embedding_vector"

# Fast-path switches (see module docstring). Numbers are identical either way.
EXACT_SVM_PROBA = False
BLAS_DECISION_VALUES = True  # False: libsvm's decision_function for every eval row (~0.3 s more per submission)
def _thread_budget() -> int:
    """2 threads for libsvm's decision values where there are 2 cores, unless OMP_NUM_THREADS says fewer."""
    budget = min(2, os.cpu_count() or 1)
    try:
        budget = min(budget, int(os.environ.get("OMP_NUM_THREADS", budget)))
    except ValueError:
        pass
    return max(1, budget)


SVM_THREADS = _thread_budget()
_MARGIN_TOL = 1e-9
_BOUNDARY_TOL = 1e-9


def nontarget_word(clip_id: str) -> str:
    """The parquet file a nontarget clip lives in: ``Path(clip_id).parts[0]`` in load_samples.py."""
    parts = PurePosixPath(clip_id).parts
    return parts[0] if parts else clip_id


@dataclasses.dataclass
class SpeechProblem:
    data_dir: Path
    target_words: tuple[str, ...]               # allowed target keys, file order
    class_of: dict[str, int]                   # sorted target word -> 1..n (nontarget = 0)
    allowed_target_ids: dict[str, frozenset[str]]
    allowed_nontargets: frozenset[str]
    x_train: np.ndarray                        # every train parquet row, stored dtype
    target_rows: dict[str, dict[str, list[int]]]  # word -> clip_id -> rows in x_train (parquet order)
    nontarget_row: dict[str, int]              # allowed nontarget id -> first row of it in its word file
    x_eval: np.ndarray                         # float64, C order, rows in the reference's order
    y_eval: np.ndarray                         # float64 class ids, as eval.py's create_dataset builds them
    dim: int
    dtype: str


@dataclasses.dataclass
class SpeechSolution:
    rows: np.ndarray            # rows of problem.x_train, in the reference's training order
    y: np.ndarray               # float64 class ids
    n_selected: int             # ids in the file, duplicates counted (the size rule)
    rows_per_class: dict[str, int]
    notes: list[str]


def _check_id_mapping(content: Any, name: str) -> tuple[dict[str, list[str]], list[str]]:
    if not isinstance(content, dict) or not isinstance(content.get("targets"), dict) \
            or not isinstance(content.get("nontargets"), list):
        raise DataError(f"{name}: expected {{'targets': {{word: [clip_id, ...]}}, 'nontargets': [clip_id, ...]}}")
    targets = content["targets"]
    for word, ids in targets.items():
        if not isinstance(word, str) or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DataError(f"{name}: targets[{word!r}] must be a list of clip id strings")
    if not all(isinstance(i, str) for i in content["nontargets"]):
        raise DataError(f"{name}: nontargets must be a list of clip id strings")
    return targets, content["nontargets"]


class _EmbeddingFiles:
    """Reads ``<folder>/<word>.parquet`` once each and stacks them into one matrix."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.blocks: list[np.ndarray] = []
        self.files: dict[str, tuple[int, list[str]]] = {}  # word -> (first row, ids)
        self.n_rows = 0
        self.dim: int | None = None
        self.dtype: np.dtype | None = None

    def load(self, word: str) -> tuple[int, list[str]]:
        if word in self.files:
            return self.files[word]
        path = self.folder / f"{word}.parquet"
        if not path.is_file():
            raise DataError(f"missing {self.folder.name}/{word}.parquet")
        ids, matrix, _ = read_embedding_table(path, ID_COLUMN, VECTOR_COLUMN)
        if self.dim is None:
            self.dim, self.dtype = matrix.shape[1], matrix.dtype
        if matrix.shape[1] != self.dim or matrix.dtype != self.dtype:
            raise DataError(f"{self.folder.name}/{word}.parquet: {matrix.shape[1]}-d {matrix.dtype} vectors, "
                            f"other files have {self.dim}-d {self.dtype}")
        self.files[word] = (self.n_rows, ids)
        self.blocks.append(matrix)
        self.n_rows += len(ids)
        return self.files[word]

    def rows_by_id(self, word: str) -> dict[str, list[int]]:
        start, ids = self.load(word)
        rows: dict[str, list[int]] = {}
        for offset, clip_id in enumerate(ids):
            rows.setdefault(clip_id, []).append(start + offset)
        return rows

    def matrix(self) -> np.ndarray:
        if not self.blocks:
            return np.empty((0, self.dim or 0))
        return np.concatenate(self.blocks) if len(self.blocks) > 1 else self.blocks[0]


def _group_nontargets(ids: list[str]) -> dict[str, list[str]]:
    """load_samples.py: nontargets grouped by word in first-appearance order, ids in given order."""
    groups: dict[str, list[str]] = {}
    for clip_id in ids:
        groups.setdefault(nontarget_word(clip_id), []).append(clip_id)
    return groups


@register
class SpeechSelection(BenchmarkType):
    slug = "speech-selection"
    title = "Speech selection (keyword spotting training-set selection)"
    kind = "selection"
    metrics = (
        Metric("macro_f1", "Macro F1 (mean of 10 seeds)", spread_key="macro_f1_std"),
        Metric("macro_f1_std", "Macro F1 std over seeds", higher_is_better=False),
    )
    primary_metric = "macro_f1"
    hidden_patterns = ("eval_embeddings/*", "eval.yaml")
    submission_suffixes = (".json",)
    default_config = {"train_size": 25}

    # --- data -------------------------------------------------------------------------------
    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> SpeechProblem:
        self._train_size(config)
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise DataError(f"data directory {data_dir} does not exist")
        # Decoded once per data version into the on-disk cache (evaluation.cache): a cold command
        # memory-maps the eval matrix instead of parsing two YAML files and 400 parquet files.
        sources = [data_dir / "allowed_training_set.yaml", data_dir / "eval.yaml",
                   data_dir / "train_embeddings", data_dir / "eval_embeddings"]
        values = derived_arrays("speech-problem-v1", sources, lambda: _problem_arrays(self._build_problem(data_dir)))
        return _problem_from_arrays(data_dir, values)

    def _build_problem(self, data_dir: Path) -> SpeechProblem:
        allowed = load_yaml(data_dir / "allowed_training_set.yaml")
        allowed_targets, allowed_nontargets = _check_id_mapping(allowed, "allowed_training_set.yaml")
        eval_ids = load_yaml(data_dir / "eval.yaml")
        eval_targets, eval_nontargets = _check_id_mapping(eval_ids, "eval.yaml")
        if not allowed_targets:
            raise DataError("allowed_training_set.yaml lists no target words")
        if set(eval_targets) != set(allowed_targets):
            raise DataError(f"eval.yaml target words {sorted(eval_targets)} differ from "
                            f"allowed_training_set.yaml target words {sorted(allowed_targets)}")
        for folder in ("train_embeddings", "eval_embeddings"):
            if not (data_dir / folder).is_dir():
                raise DataError(f"missing folder {folder}/ in the data directory ({data_dir})")

        # Training pool: every target file and every nontarget word file, read once.
        train = _EmbeddingFiles(data_dir / "train_embeddings")
        target_rows = {word: train.rows_by_id(word) for word in allowed_targets}
        nontarget_row: dict[str, int] = {}
        for word, ids in _group_nontargets(allowed_nontargets).items():
            rows = train.rows_by_id(word)
            for clip_id in ids:
                if clip_id in rows:
                    nontarget_row[clip_id] = rows[clip_id][0]  # .loc[...].iloc[0]: first match
        x_train = train.matrix()

        # Eval set, in the exact order eval.py's load_samples + create_dataset produce.
        evaluation = _EmbeddingFiles(data_dir / "eval_embeddings")
        eval_class = {word: i + 1 for i, word in enumerate(sorted(eval_targets))}
        order: list[int] = []
        labels: list[int] = []
        for word, ids in eval_targets.items():
            wanted = set(ids)
            start, file_ids = evaluation.load(word)
            rows = [start + i for i, clip_id in enumerate(file_ids) if clip_id in wanted]
            order += rows
            labels += [eval_class[word]] * len(rows)
        n_target_rows = len(order)
        for word, ids in _group_nontargets(eval_nontargets).items():
            rows = evaluation.rows_by_id(word)
            for clip_id in ids:
                if clip_id not in rows:
                    raise DataError(f"eval.yaml nontarget {clip_id!r} is not in eval_embeddings/{word}.parquet")
                order.append(rows[clip_id][0])
            labels += [0] * len(ids)
        if n_target_rows == 0 or len(order) == n_target_rows:
            raise DataError("eval.yaml must select at least one target and one nontarget clip")
        if evaluation.dim != train.dim:
            raise DataError(f"eval embeddings are {evaluation.dim}-d but train embeddings are {train.dim}-d")
        x_eval = np.ascontiguousarray(evaluation.matrix()[np.asarray(order)], dtype=np.float64)
        y_eval = np.asarray(labels, dtype=np.float64)

        return SpeechProblem(
            data_dir=data_dir,
            target_words=tuple(allowed_targets),
            class_of={word: i + 1 for i, word in enumerate(sorted(allowed_targets))},
            allowed_target_ids={word: frozenset(ids) for word, ids in allowed_targets.items()},
            allowed_nontargets=frozenset(allowed_nontargets),
            x_train=x_train,
            target_rows=target_rows,
            nontarget_row=nontarget_row,
            x_eval=x_eval,
            y_eval=y_eval,
            dim=int(train.dim or 0),
            dtype=str(train.dtype),
        )

    @staticmethod
    def _train_size(config: dict[str, Any]) -> int:
        size = config.get("train_size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise DataError(f"config train_size must be a positive integer, got {size!r}")
        return size

    # --- submission ---------------------------------------------------------------------------
    def load_submission(self, problem: SpeechProblem, path: Path, config: dict[str, Any]) -> SpeechSolution:
        train_size = self._train_size(config)
        path = Path(path)
        name = path.name
        content = parse_json(read_submission_bytes(path), name)
        targets, nontargets = self._check_shape(content, name, problem)

        # validate_selected_ids of eval.py, with messages instead of asserts.
        for word in targets:
            if word not in problem.allowed_target_ids:
                raise SubmissionError(f"{name}: target {shorten(word)} is not an allowed target word "
                                      f"(allowed: {', '.join(problem.target_words)})")
        missing = [word for word in problem.target_words if word not in targets]
        if missing:
            raise SubmissionError(
                f"{name}: targets is missing the key {missing[0]!r}"
                + (f" (and {preview(missing[1:])})" if len(missing) > 1 else "")
                + "; every target word must be present (an empty list [] is allowed). The reference "
                  "eval.py would silently shift every class id and score this selection wrongly")
        for word, ids in targets.items():
            bad = [i for i in ids if i not in problem.allowed_target_ids[word]]
            if bad:
                raise SubmissionError(f"{name}: targets[{shorten(word)}] contains {len(bad)} id(s) not in the allowed "
                                      f"training set for {shorten(word)}: {preview(bad)}")
        bad = [i for i in nontargets if i not in problem.allowed_nontargets]
        if bad:
            raise SubmissionError(f"{name}: nontargets contains {len(bad)} id(s) not in the allowed training set: "
                                  f"{preview(bad)}")
        n_selected = sum(len(ids) for ids in targets.values()) + len(nontargets)
        if n_selected > train_size:
            raise SubmissionError(f"{name}: {n_selected} clips selected (duplicates counted) exceeds the limit "
                                  f"of {train_size}")

        # load_samples + create_dataset of eval.py: targets in JSON key order, rows in parquet
        # order without duplicates; nontargets grouped by word, submission order, duplicates kept.
        rows: list[int] = []
        labels: list[int] = []
        rows_per_class = {"nontarget": 0, **{word: 0 for word in sorted(problem.target_words)}}
        notes: list[str] = []
        for word, ids in targets.items():
            selected = sorted(row for clip_id in set(ids) for row in problem.target_rows[word].get(clip_id, ()))
            rows += selected
            labels += [problem.class_of[word]] * len(selected)
            rows_per_class[word] = len(selected)
            if len(set(ids)) < len(ids):
                dupes = sorted({i for i in ids if ids.count(i) > 1})
                notes.append(f"targets[{shorten(word)}]: duplicate id(s) {preview(dupes)} counted against the limit "
                             "but used once (as the reference does)")
        n_target_rows = len(rows)
        for word, ids in _group_nontargets(nontargets).items():
            for clip_id in ids:
                if clip_id not in problem.nontarget_row:
                    raise SubmissionError(f"{name}: nontarget {shorten(clip_id)} is allowed but has no embedding in "
                                          f"train_embeddings/{word}.parquet; choose another clip")
                rows.append(problem.nontarget_row[clip_id])
            labels += [0] * len(ids)
        rows_per_class["nontarget"] = len(rows) - n_target_rows
        if len(set(nontargets)) < len(nontargets):
            dupes = sorted({i for i in nontargets if nontargets.count(i) > 1})
            notes.append(f"nontargets: duplicate id(s) {preview(dupes)} each used as an extra training row "
                         "(as the reference does)")
        if n_target_rows == 0:
            raise SubmissionError(f"{name}: no target clips selected; select at least one clip of one target word "
                                  "(the reference eval.py cannot train without target clips)")
        if rows_per_class["nontarget"] == 0:
            raise SubmissionError(f"{name}: nontargets is empty; select at least one nontarget clip "
                                  "(the reference eval.py cannot train without nontarget clips)")
        return SpeechSolution(
            rows=np.asarray(rows, dtype=np.intp),
            y=np.asarray(labels, dtype=np.float64),
            n_selected=n_selected,
            rows_per_class=rows_per_class,
            notes=notes,
        )

    @staticmethod
    def _check_shape(content: Any, name: str, problem: SpeechProblem) -> tuple[dict[str, list[str]], list[str]]:
        expected = '{"targets": {word: [clip_id, ...]}, "nontargets": [clip_id, ...]}'
        if not isinstance(content, dict):
            raise SubmissionError(f"{name}: expected a JSON object {expected}, got {type_name(content)}")
        unknown = [key for key in content if key not in ("targets", "nontargets")]
        if unknown:
            raise SubmissionError(f"{name}: unknown top-level key(s) {preview(unknown)}; expected only "
                                  "'targets' and 'nontargets'")
        for key in ("targets", "nontargets"):
            if key not in content:
                raise SubmissionError(f"{name}: missing top-level key {key!r}; expected {expected}")
        targets, nontargets = content["targets"], content["nontargets"]
        if not isinstance(targets, dict):
            raise SubmissionError(f"{name}: 'targets' must be an object {{word: [clip_id, ...]}}, "
                                  f"got {type_name(targets)}")
        for word, ids in targets.items():
            if not isinstance(ids, list):
                raise SubmissionError(f"{name}: targets[{shorten(word)}] must be a list of clip ids, got {type_name(ids)}")
            for clip_id in ids:
                if not isinstance(clip_id, str):
                    raise SubmissionError(f"{name}: targets[{shorten(word)}] contains {shorten(clip_id)} ({type_name(clip_id)}); "
                                          "clip ids are strings")
        if not isinstance(nontargets, list):
            raise SubmissionError(f"{name}: 'nontargets' must be a list of clip ids, got {type_name(nontargets)}")
        for clip_id in nontargets:
            if not isinstance(clip_id, str):
                raise SubmissionError(f"{name}: nontargets contains {shorten(clip_id)} ({type_name(clip_id)}); "
                                      "clip ids are strings")
        return targets, nontargets

    # --- scoring ------------------------------------------------------------------------------
    def evaluate(self, problem: SpeechProblem, solution: SpeechSolution, config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        import sklearn
        from sklearn.metrics import f1_score

        x_train = take_rows(problem.x_train, solution.rows)  # from the file if memory-mapped (evaluation.cache)
        predictor = _SoftVotePredictor(problem.x_eval)
        scores: list[float] = []
        per_seed = []
        progress(0.0, f"training on {len(solution.rows)} clips, {len(SEEDS)} seeds")
        # assume_finite: skip re-checking the 30,000 x 1,024 eval matrix for NaN on every prediction
        # (load_problem's data was checked when read; validation only, no effect on numbers)
        with single_threaded_blas(), sklearn.config_context(assume_finite=True):
            for index, seed in enumerate(SEEDS):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clf = _SoftVote.fit(x_train, solution.y, seed, previous=predictor.last_vote)
                    pred = predictor.predict(clf)
                    score = f1_score(problem.y_eval, pred, average="macro")
                scores.append(score)
                per_seed.append({"seed": seed, "macro_f1": float(score)})
                progress((index + 1) / len(SEEDS), f"seed {seed}: macro F1 {score:.4f}")
        mean = float(np.mean(scores))
        details = {
            "per_seed": per_seed,
            "seeds": list(SEEDS),
            "train_size_limit": self._train_size(config),
            "n_selected": solution.n_selected,
            "n_train_rows": int(len(solution.rows)),
            "train_rows_per_class": solution.rows_per_class,
            "notes": solution.notes,
            "rows_recomputed_exactly": predictor.recomputed,
            "seeds_scored_without_fast_path": predictor.fallbacks,
        }
        return Result(scores={"macro_f1": mean, "macro_f1_std": float(np.std(scores))}, details=details)


def _problem_arrays(problem: SpeechProblem) -> dict[str, Any]:
    return {
        "x_train": problem.x_train,
        "x_eval": problem.x_eval,
        "y_eval": problem.y_eval,
        "meta": {
            "target_words": list(problem.target_words),
            "allowed_target_ids": {word: sorted(ids) for word, ids in problem.allowed_target_ids.items()},
            "allowed_nontargets": sorted(problem.allowed_nontargets),
            "target_rows": problem.target_rows,
            "nontarget_row": problem.nontarget_row,
            "dim": problem.dim,
            "dtype": problem.dtype,
        },
    }


def _problem_from_arrays(data_dir: Path, values: dict[str, Any]) -> SpeechProblem:
    meta = values["meta"]
    return SpeechProblem(
        data_dir=data_dir,
        target_words=tuple(meta["target_words"]),
        class_of={word: i + 1 for i, word in enumerate(sorted(meta["target_words"]))},
        allowed_target_ids={word: frozenset(ids) for word, ids in meta["allowed_target_ids"].items()},
        allowed_nontargets=frozenset(meta["allowed_nontargets"]),
        x_train=values["x_train"],
        target_rows=meta["target_rows"],
        nontarget_row=meta["nontarget_row"],
        x_eval=values["x_eval"],
        y_eval=values["y_eval"],
        dim=int(meta["dim"]),
        dtype=str(meta["dtype"]),
    )


class _SoftVote:
    """What ``VotingClassifier(...).fit(X, y)`` holds after fitting, without importing sklearn.ensemble
    (~0.1 s of a cold command): ``le_`` = LabelEncoder (classes = np.unique(y), codes = searchsorted),
    ``estimators_`` = [SVC(probability=True, random_state=seed), LogisticRegression(random_state=seed)]
    fitted on the codes, X passed through unchanged — sklearn/ensemble/_voting.py (VotingClassifier.fit,
    _BaseVoting.fit). The lbfgs LogisticRegression does not use random_state (only sag/saga/liblinear
    do), so its fit on the same rows is reused across seeds."""

    def __init__(self, classes: np.ndarray, svc, lr):
        self.classes_ = classes
        self.le_ = self
        self.estimators_ = [svc, lr]

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        return self.classes_[codes]

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int, previous: "_SoftVote | None" = None) -> "_SoftVote":
        import sklearn.linear_model
        import sklearn.svm

        classes = np.unique(y)
        codes = np.searchsorted(classes, y)
        svc = sklearn.svm.SVC(probability=True, random_state=seed).fit(x, codes)
        if previous is not None and previous.x is x and np.array_equal(previous.codes, codes):
            lr = previous.estimators_[1]
        else:
            lr = sklearn.linear_model.LogisticRegression(random_state=seed).fit(x, codes)
        vote = cls(classes, svc, lr)
        vote.x, vote.codes = x, codes
        return vote


def _voting_classifier(seed: int):
    import sklearn.ensemble
    import sklearn.linear_model
    import sklearn.svm

    return sklearn.ensemble.VotingClassifier(
        estimators=[
            ("svm", sklearn.svm.SVC(probability=True, random_state=seed)),
            ("lr", sklearn.linear_model.LogisticRegression(random_state=seed)),
        ],
        voting="soft",
        weights=None,
    )


class _SoftVotePredictor:
    """``VotingClassifier.predict`` over a fixed eval matrix, reusing seed-independent work.

    Bit-for-bit the reference's predictions: the LR probabilities are sklearn's own (reused when
    the LR is unchanged between seeds), the SVC decision values are libsvm's own (reused when the
    SVM is unchanged), only the Platt/pairwise-coupling step is recomputed in numpy, and rows where
    that could matter are recomputed with ``SVC.predict_proba``.
    """

    def __init__(self, x_eval: np.ndarray):
        self.x = x_eval
        self._svc_key: tuple | None = None
        self._dec: np.ndarray | None = None
        self._lr_key: tuple | None = None
        self._lr_proba: np.ndarray | None = None
        self.recomputed = 0   # rows re-scored with predict_proba because they were near a tie
        self.fallbacks = 0    # seeds scored entirely with predict_proba because the self-check failed

    last_vote = None

    def predict(self, clf) -> np.ndarray:
        self.last_vote = clf
        svc, lr = clf.estimators_
        lr_key = (lr.coef_.tobytes(), lr.intercept_.tobytes(), lr.classes_.tobytes())
        if lr_key != self._lr_key:
            self._lr_key, self._lr_proba = lr_key, lr.predict_proba(self.x)
        p_lr = self._lr_proba
        if EXACT_SVM_PROBA:
            probas = np.asarray([svc.predict_proba(self.x), p_lr])
            return clf.le_.inverse_transform(np.argmax(np.average(probas, axis=0), axis=1))

        svc_key = (svc.support_.tobytes(), svc.support_vectors_.tobytes(), svc.dual_coef_.tobytes(),
                   svc.intercept_.tobytes(), svc.n_support_.tobytes(), repr(getattr(svc, "_gamma", svc.gamma)),
                   svc.classes_.tobytes())
        if svc_key != self._svc_key:
            self._svc_key, self._dec = svc_key, self._decision_values(svc)
        p_svm, uncertain = libsvm_probabilities(self._dec, svc.probA_, svc.probB_, len(svc.classes_))
        # Self-check on a few rows: the port must agree with this scikit-learn's predict_proba
        # (guards against a libsvm change in another version); otherwise score this seed exactly.
        probe = np.unique(np.r_[0:min(32, len(self.x)), max(0, len(self.x) - 32):len(self.x)])
        if not np.abs(svc.predict_proba(self.x[probe]) - p_svm[probe]).max() < 1e-12:
            self.fallbacks += 1
            probas = np.asarray([svc.predict_proba(self.x), p_lr])
            return clf.le_.inverse_transform(np.argmax(np.average(probas, axis=0), axis=1))
        avg = np.average(np.asarray([p_svm, p_lr]), axis=0)
        top = np.partition(avg, -2, axis=1)[:, -2:]
        redo = uncertain | ~((top[:, 1] - top[:, 0]) >= _MARGIN_TOL)  # also catches NaN
        if redo.any():
            rows = np.flatnonzero(redo)
            exact = svc.predict_proba(self.x[rows])
            avg[rows] = np.average(np.asarray([exact, p_lr[rows]]), axis=0)
            self.recomputed += int(rows.size)
        return clf.le_.inverse_transform(np.argmax(avg, axis=1))


    def _decision_values(self, svc) -> np.ndarray:
        """libsvm's pairwise decision values over the eval matrix: through BLAS when they agree with
        libsvm's own on probe rows to 1e-10 (measured: ~1e-15), else libsvm's for every row. A difference
        that small only moves probabilities far below the 1e-9 margin at which rows are recomputed with
        predict_proba, so the predictions stay exactly the reference's."""
        fast = _rbf_decision_values(svc, self.x) if BLAS_DECISION_VALUES else None
        if fast is not None:
            probe = np.unique(np.r_[0:min(32, len(self.x)), max(0, len(self.x) - 32):len(self.x)])
            exact = _svc_decision_values(svc, self.x[probe])
            scale = max(1.0, float(np.abs(exact).max()))
            if np.abs(fast[probe] - exact).max() <= 1e-10 * scale:
                return fast
            self.fallbacks_dec = getattr(self, "fallbacks_dec", 0) + 1
        return _svc_decision_values(svc, self.x)


def _rbf_decision_values(svc, x: np.ndarray) -> np.ndarray | None:
    """libsvm's svm_predict_values for an RBF SVC (one-vs-one, libsvm's pair order and signs), with the
    kernel from one matrix product instead of libsvm's per-row loops (~10x faster, equal to ~1e-15)."""
    if svc.kernel != "rbf" or not isinstance(getattr(svc, "_gamma", None), float):
        return None
    sv = np.asarray(svc.support_vectors_, dtype=np.float64)
    n_support = np.asarray(svc._n_support, dtype=np.int64)
    k = len(n_support)
    coef = np.asarray(svc._dual_coef_, dtype=np.float64)
    rho = -np.asarray(svc._intercept_, dtype=np.float64)
    if k < 2 or coef.shape != (k - 1, len(sv)) or rho.shape != (k * (k - 1) // 2,):
        return None
    squared = np.einsum("ij,ij->i", x, x)[:, None] + np.einsum("ij,ij->i", sv, sv)[None, :] - 2.0 * (x @ sv.T)
    np.maximum(squared, 0.0, out=squared)
    kernel = np.exp(-svc._gamma * squared)
    start = np.concatenate([[0], np.cumsum(n_support)[:-1]])
    dec = np.empty((len(x), k * (k - 1) // 2))
    pair = 0
    for i in range(k):
        for j in range(i + 1, k):
            si, sj = start[i], start[j]
            total = kernel[:, si:si + n_support[i]] @ coef[j - 1, si:si + n_support[i]]
            total += kernel[:, sj:sj + n_support[j]] @ coef[i, sj:sj + n_support[j]]
            dec[:, pair] = total - rho[pair]
            pair += 1
    return dec


def _svc_decision_values(svc, x: np.ndarray) -> np.ndarray:
    """libsvm's raw one-vs-one decision values (what predict_proba feeds to Platt scaling)."""
    svc.decision_function_shape = "ovo"  # only changes how decision_function reshapes its output

    def raw(chunk: np.ndarray) -> np.ndarray:
        dec = svc.decision_function(chunk)
        # sklearn negates the binary decision value; undo it (negation is exact).
        return -dec.reshape(-1, 1) if len(svc.classes_) == 2 else dec

    n_chunks = SVM_THREADS if len(x) >= 2000 else 1
    if n_chunks == 1:
        return raw(x)
    bounds = np.linspace(0, len(x), n_chunks + 1).astype(int)
    chunks = [x[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]  # row slices stay C-contiguous
    with ThreadPoolExecutor(n_chunks) as pool:  # libsvm releases the GIL; rows are independent
        return np.concatenate(list(pool.map(raw, chunks)))


PLATT_BLOCK_ROWS = 8192


def libsvm_probabilities(dec: np.ndarray, prob_a: np.ndarray, prob_b: np.ndarray, k: int,
                         boundary_tol: float = _BOUNDARY_TOL) -> tuple[np.ndarray, np.ndarray]:
    """``_libsvm_probabilities`` in blocks of rows: every row iterates on its own (the only reductions
    are over classes), so blocks give the same bits, and a block's working arrays stay in cache
    (2.6x faster on 30,000 rows)."""
    n = dec.shape[0]
    if n <= PLATT_BLOCK_ROWS:
        return _libsvm_probabilities(dec, prob_a, prob_b, k, boundary_tol)
    parts = [_libsvm_probabilities(dec[start:start + PLATT_BLOCK_ROWS], prob_a, prob_b, k, boundary_tol)
             for start in range(0, n, PLATT_BLOCK_ROWS)]
    return np.concatenate([p for p, _ in parts]), np.concatenate([u for _, u in parts])


def _libsvm_probabilities(dec: np.ndarray, prob_a: np.ndarray, prob_b: np.ndarray, k: int,
                          boundary_tol: float = _BOUNDARY_TOL) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised port of libsvm's ``svm_predict_probability`` from raw decision values.

    Same operations in the same order as ``sigmoid_predict`` and ``multiclass_probability`` in
    sklearn/svm/src/libsvm/svm.cpp of the pinned scikit-learn (only ``exp`` may differ by an ulp).
    Returns the probabilities (n, k) and a mask of rows whose iteration count could differ from
    libsvm's because a stopping test was within ``boundary_tol`` of its threshold.
    """
    n = dec.shape[0]
    dec_t = np.ascontiguousarray(dec.reshape(n, -1).T)  # (pairs, n): contiguous rows per pair
    f_apb = dec_t * np.asarray(prob_a)[:, None] + np.asarray(prob_b)[:, None]
    # sigmoid_predict: exp(-fApB)/(1+exp(-fApB)) if fApB >= 0 else 1/(1+exp(fApB)); both use exp(-|fApB|)
    e = np.exp(-np.abs(f_apb))
    denominator = 1.0 + e
    sig = np.divide(1.0, denominator)
    np.divide(e, denominator, out=sig, where=f_apb >= 0)
    min_prob = 1e-7
    pair = np.minimum(np.maximum(sig, min_prob), 1 - min_prob)
    uncertain = np.zeros(n, dtype=bool)

    # r[i][j] = pairwise_prob[i][j] as contiguous rows over samples
    r = np.empty((k, k, n))
    q = 0
    for i in range(k):
        for j in range(i + 1, k):
            r[i, j] = pair[q]
            np.subtract(1, pair[q], out=r[j, i])
            q += 1
    # (sklearn's libsvm runs multiclass_probability for two classes too, unlike upstream libsvm)
    big_q = np.empty((k, k, n))
    for t in range(k):
        acc = np.zeros(n)
        for j in range(t):
            acc += r[j, t] * r[j, t]
            big_q[t, j] = big_q[j, t]
        for j in range(t + 1, k):
            acc += r[j, t] * r[j, t]
            np.multiply(-r[j, t], r[t, j], out=big_q[t, j])
        big_q[t, t] = acc

    eps = 0.005 / k
    out = np.empty((k, n))
    active = np.arange(n)                 # sample index of each working column
    alive = np.ones(n, dtype=bool)        # columns still iterating (others are already recorded)
    p = np.full((k, n), 1.0 / k)
    qa = big_q
    qp = np.empty_like(p)
    tmp = np.empty_like(p)
    with np.errstate(all="ignore"):
        for _ in range(max(100, k)):
            # Qp[t] = sum_j Q[t][j] * p[j] and pQp = sum_t p[t] * Qp[t], accumulated in libsvm's order
            np.multiply(qa[:, 0], p[0], out=qp)
            for j in range(1, k):
                np.multiply(qa[:, j], p[j], out=tmp)
                qp += tmp
            pqp = p[0] * qp[0]
            for t in range(1, k):
                pqp += p[t] * qp[t]
            max_error = np.abs(qp - pqp).max(axis=0)
            near = alive & (np.abs(max_error - eps) < boundary_tol)
            if near.any():
                uncertain[active[near]] = True
            done = alive & (max_error < eps)
            if done.any():
                out[:, active[done]] = p[:, done]
                alive &= ~done
                n_alive = int(alive.sum())
                if n_alive == 0:
                    break
                if n_alive < 0.6 * alive.size:  # compact the working set
                    keep = alive
                    active, p, qa, qp, pqp = active[keep], p[:, keep], qa[:, :, keep], qp[:, keep], pqp[keep]
                    alive = np.ones(active.size, dtype=bool)
                    tmp = np.empty_like(p)
            for t in range(k):
                qtt = qa[t, t]
                diff = (pqp - qp[t]) / qtt
                p[t] += diff
                one = 1 + diff
                pqp = (pqp + diff * (diff * qtt + 2 * qp[t])) / one / one
                np.multiply(diff, qa[t], out=tmp)
                qp += tmp
                qp /= one
                p /= one
    if alive.any():
        out[:, active[alive]] = p[:, alive]
    return np.ascontiguousarray(out.T), uncertain
