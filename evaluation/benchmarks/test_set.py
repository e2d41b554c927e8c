"""Test-set creation (DataPerf Table 1): propose adversarial test items from a supplemental pool.

A participant proposes at most ``max_items`` items of an unlabelled candidate pool, each with the
label they claim is correct. An item scores when (1) a majority of the model suite labels it
differently from the claimed label and (2) humans verify the claimed label as correct. Each scoring
item's credit is divided by the number of submissions containing it; a submission's score is the
sum of its credits. Novelty relative to the existing test data (cosine distance to the nearest
existing test item) is reported too. Layout and rules: docs/benchmarks/test-set.md.

This module computes the *machine* part (model suite, fooling, novelty) and the pure credit split.
Human verdicts only exist on the platform, which combines them with this module's functions
(``backend/verification``). ``evaluate`` therefore reports ``credit`` = ``verified`` = 0: nothing is
verified when a submission is scored.

The suite is the fixed ``config["suite"]`` trained on the public reference training set, plus the
fixed ``config["ratchet_suite"]`` trained on each *extra training set* (the data ratchet: the best
training sets of the task's training-set benchmarks, frozen by the platform into
``hidden/ratchet.npz``).
"""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import threading
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Any, Hashable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..data_io import embeddings, int_column, read_table, str_column, unique_ids, write_table
from ..models import fit_predict, resolve_suite
from ..registry import register
from ..submission_io import format_items, read_bytes, read_csv, decode_text, shorten

DISPLAY_KINDS = {"text": "text/plain", "image": "image/png", "audio": "audio/wav"}
RATCHET_PATH = "hidden/ratchet.npz"
MAX_CSV_BYTES = 5 * 2**20


@dataclasses.dataclass(frozen=True)
class TrainingSetData:
    """An extra training set for the ratchet: embeddings and integer labels (class indices)."""

    name: str
    X: np.ndarray
    y: np.ndarray


@dataclasses.dataclass(eq=False)
class TestSetProblem:
    class_names: list[str]
    display_kind: str                # text | image | audio
    ids: list[str]
    index: dict[str, int]
    X: np.ndarray                    # pool embeddings (n, d)
    display: list[str]               # text, or base64 PNG/WAV, per pool item
    reference_X: np.ndarray          # public reference training set
    reference_y: np.ndarray
    true_labels: np.ndarray | None   # hidden: class index per pool item
    existing_X: np.ndarray | None    # hidden: existing test items (+ promoted pool items)
    ratchet: list[TrainingSetData]   # hidden: extra training sets frozen by the platform
    promoted_ids: list[str]          # pool items already promoted into a test set
    # Items participants created (model-in-the-loop): rows after ``n_pool`` in ids/X/display, added
    # by ``with_items``; ``base`` is the problem without them (its predictions matrix is reused).
    base: "TestSetProblem | None" = dataclasses.field(default=None, repr=False)
    _predictions: dict = dataclasses.field(default_factory=dict, repr=False)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_pool(self) -> int:
        """Rows of the candidate pool; rows after them are created items."""
        return len(self.base.ids) if self.base is not None else len(self.ids)

    @property
    def pool(self) -> "TestSetProblem":
        """The problem without created items (what the pool browser lists)."""
        return self.base if self.base is not None else self

    def is_created(self, item_id: str) -> bool:
        return self.index[item_id] >= self.n_pool

    def with_items(self, ids: Sequence[str], X: np.ndarray, display: Sequence[str]) -> "TestSetProblem":
        """A copy with created items appended (their ids, feature rows and display: the text, or "" when
        the platform serves the raw file itself). The pool, reference set and hidden data are shared."""
        pool = self.pool
        X = np.asarray(X, dtype=np.float32).reshape(len(ids), -1) if len(ids) else np.zeros((0, pool.dim), np.float32)
        if X.shape[1] != pool.dim:
            raise DataError(f"created items have {X.shape[1]}-d features, the pool is {pool.dim}-d")
        if len(display) != len(ids):
            raise DataError("created items: one display value per item")
        index = dict(pool.index)
        for k, item_id in enumerate(ids):
            if item_id in index:
                raise DataError(f"created item id {shorten(item_id)} is already a pool or created item id")
            index[item_id] = len(pool.ids) + k
        existing = pool.existing_X
        return dataclasses.replace(pool, ids=list(pool.ids) + list(ids), index=index, X=np.vstack([pool.X, X]),
                                   display=list(pool.display) + list(display), existing_X=existing, base=pool,
                                   _predictions={}, _lock=threading.Lock())

    def label_index(self, name: str) -> int:
        return self.class_names.index(name)


@dataclasses.dataclass
class Proposal:
    item_id: str
    label: str          # class name claimed by the submitter


@dataclasses.dataclass
class TestSetSolution:
    proposals: list[Proposal]
    source: str


@dataclasses.dataclass
class SuitePredictions:
    """What every suite member predicts for every pool item (class indices)."""

    members: list[str]
    class_names: list[str]
    index: dict[str, int]
    matrix: np.ndarray   # (n_pool, n_members) int

    def of(self, item_id: str) -> dict[str, str]:
        row = self.matrix[self.index[item_id]]
        return {member: self.class_names[int(label)] for member, label in zip(self.members, row)}

    def wrong_votes(self, item_id: str, label: str) -> int:
        """How many members predict something other than ``label`` for the item."""
        return int(np.sum(self.matrix[self.index[item_id]] != self.class_names.index(label)))

    def majority(self, item_id: str) -> str:
        counts = np.bincount(self.matrix[self.index[item_id]], minlength=len(self.class_names))
        return self.class_names[int(np.argmax(counts))]   # ties: the lower class index

    def fools(self, item_id: str, label: str) -> bool:
        """A strict majority of the members labels the item differently from ``label``."""
        return 2 * self.wrong_votes(item_id, label) > len(self.members)


# --- pure functions used offline and by the platform ----------------------------------------------

def model_suite_predictions(problem: TestSetProblem, extra_training_sets: Sequence[TrainingSetData] = (), *,
                            suite: str | Sequence[str] = "default", ratchet_suite: str | Sequence[str] = "default",
                            seed: int = 0) -> SuitePredictions:
    """Train the fixed ``suite`` on the reference set and the fixed ``ratchet_suite`` on every extra
    training set (members ``<model>@<set name>``), and predict every pool item."""
    members, columns = [], []
    for name in resolve_suite(suite):
        members.append(name)
        columns.append(fit_predict(name, problem.reference_X, problem.reference_y, problem.X, seed))
    ratchet_models = resolve_suite(ratchet_suite)
    for extra in extra_training_sets:
        if extra.X.ndim != 2 or extra.X.shape[1] != problem.dim:
            raise DataError(f"extra training set {extra.name!r} has {extra.X.shape[-1]}-d embeddings, "
                            f"the pool is {problem.dim}-d")
        for name in ratchet_models:
            members.append(f"{name}@{extra.name}")
            columns.append(fit_predict(name, extra.X, extra.y, problem.X, seed))
    matrix = np.stack([np.asarray(c, dtype=np.int64) for c in columns], axis=1)
    return SuitePredictions(members, list(problem.class_names), problem.index, matrix)


class PredictionStore(Protocol):
    """Somewhere to share computed suite predictions between processes (the platform passes its cache)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


def predictions_key(config: Mapping[str, Any]) -> str:
    """Names one suite configuration; with the data version it names one predictions matrix."""
    return "suite={};ratchet={};seed={}".format(
        ",".join(resolve_suite(config["suite"])), ",".join(resolve_suite(config["ratchet_suite"])), int(config["seed"]))


def problem_predictions(problem: TestSetProblem, config: Mapping[str, Any],
                        store: PredictionStore | None = None) -> SuitePredictions:
    """The suite of ``config`` with the problem's own ratchet, computed once per loaded problem.

    With a ``store`` (keyed by the caller for this problem's data), a matrix another process already
    computed is reused: training the suite takes seconds, its predictions are a few kilobytes.
    """
    key = predictions_key(config)
    if problem.base is not None:
        with problem._lock:
            if key not in problem._predictions:
                problem._predictions[key] = _with_created_rows(problem, problem_predictions(problem.base, config, store),
                                                               config)
            return problem._predictions[key]
    with problem._lock:
        if key not in problem._predictions:
            shared = store.get(key) if store is not None else None
            members = shared.get("members") if isinstance(shared, dict) else None
            matrix = np.asarray(shared.get("matrix")) if members else None
            if matrix is not None and matrix.shape == (len(problem.ids), len(members)):
                predictions = SuitePredictions(list(members), list(problem.class_names), problem.index,
                                               matrix.astype(np.int64))
            else:
                predictions = model_suite_predictions(
                    problem, problem.ratchet, suite=config["suite"], ratchet_suite=config["ratchet_suite"],
                    seed=int(config["seed"]))
                if store is not None:
                    store.set(key, {"members": predictions.members, "matrix": predictions.matrix.astype(np.int16)})
            problem._predictions[key] = predictions
        return problem._predictions[key]


def _with_created_rows(problem: TestSetProblem, pool: SuitePredictions, config: Mapping[str, Any]) -> SuitePredictions:
    """The pool's matrix plus the suite's answers for the created rows: the same members trained on the
    same data with the same seeds (fitting does not depend on what is predicted), predicting new rows."""
    n_pool = problem.n_pool
    if len(problem.ids) == n_pool:
        return SuitePredictions(pool.members, pool.class_names, problem.index, pool.matrix)
    created = created_suite_rows(problem.base, problem.X[n_pool:], config)
    if created.shape[1] != len(pool.members):
        raise DataError(f"the suite has {len(pool.members)} members but {created.shape[1]} answered the created items")
    return SuitePredictions(pool.members, pool.class_names, problem.index, np.vstack([pool.matrix, created]))


def created_suite_rows(pool: TestSetProblem, X: np.ndarray, config: Mapping[str, Any]) -> np.ndarray:
    """(n, members) class indices the suite of ``config`` (with the pool problem's ratchet) predicts for
    new feature rows, members in ``model_suite_predictions``'s order."""
    from ..live_suite import LiveSuite  # noqa: PLC0415 - live_suite imports this module

    key = ("live", predictions_key(config))
    with pool._lock:   # fitted once per loaded pool problem; the next created item is predicted in milliseconds
        if key not in pool._predictions:
            pool._predictions[key] = LiveSuite.from_config(pool, config)
        suite = pool._predictions[key]
    return suite.predict_matrix(np.asarray(X, dtype=np.float32))


def fooling_items(predictions: SuitePredictions, proposals: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (item_id, claimed label) pairs that a strict majority of the suite labels differently."""
    return {(item, label) for item, label in proposals if predictions.fools(item, label)}


def novelty(problem: TestSetProblem, item_ids: Sequence[str]) -> dict[str, float]:
    """Cosine distance (0..2) from each item to its nearest existing test item (existing test set plus
    pool items already promoted into a test set). Empty if the problem has no existing test data."""
    reference = problem.existing_X
    if reference is None or len(reference) == 0 or not item_ids:
        return {}
    rows = np.array([problem.index[i] for i in item_ids], dtype=np.int64)
    items = _unit(problem.X[rows])
    nearest = np.max(items @ _unit(reference).T, axis=1)
    return {item: float(np.clip(1.0 - sim, 0.0, 2.0)) for item, sim in zip(item_ids, nearest)}


def credit(submissions: Mapping[Hashable, Iterable[Hashable]], scoring_items: set,
           entrant_of: Mapping[Hashable, Hashable] | None = None) -> dict[Hashable, float]:
    """Each scoring item's credit (1) is divided by the number of submissions containing it; a
    submission's score is the sum of its shares.

    With ``entrant_of`` the divisor counts entrants instead of submissions, so that one entrant's
    re-submission of the same item never divides its own credit. Sums are exact (fractions).
    """
    holders: dict[Hashable, set] = {}
    items_of = {sub: set(items) for sub, items in submissions.items()}
    for sub, items in items_of.items():
        for item in items & scoring_items:
            holders.setdefault(item, set()).add(entrant_of[sub] if entrant_of is not None else sub)
    return {sub: float(sum((Fraction(1, len(holders[item])) for item in items & scoring_items), Fraction(0)))
            for sub, items in items_of.items()}


def oracle_verdicts(problem: TestSetProblem, proposals: Iterable[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """Whether each claimed label equals the hidden reference label (organizer tools and tests only;
    never shown to participants)."""
    if problem.true_labels is None:
        raise DataError("the hidden reference labels (hidden/pool_labels.parquet) are not available")
    return {(item, label): problem.class_names[int(problem.true_labels[problem.index[item]])] == label
            for item, label in proposals if problem.index.get(item, len(problem.ids)) < len(problem.true_labels)}  # created: none


def score_training_set_on_items(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                                suite: str | Sequence[str] = "default", seed: int = 0) -> dict[str, Any]:
    """Mean accuracy of the model suite trained on a training set, on a (round's) test set."""
    per_model = {}
    for name in resolve_suite(suite):
        predictions = fit_predict(name, X_train, y_train, X_test, seed)
        per_model[name] = float(np.mean(np.asarray(predictions) == np.asarray(y_test))) if len(y_test) else 0.0
    return {"accuracy": float(np.mean(list(per_model.values()))), "models": per_model, "test_size": int(len(y_test))}


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms == 0, 1.0, norms)


# --- data files -----------------------------------------------------------------------------------

def write_data_dir(out_dir: Path, *, class_names: Sequence[str], pool_ids: Sequence[str], pool_X, pool_display: Sequence[str],
                   display_kind: str, reference_X, reference_y, pool_labels=None, existing_test_X=None,
                   featurizer: str | None = None, extractor: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write a test-set data directory (see docs/benchmarks/test-set.md). With ``featurizer`` (a name of
    ``evaluation.raw_items.FEATURIZERS``) and its fitted ``extractor`` the benchmark takes raw items:
    ``meta.json`` declares them and ``extractor.npz`` is public data."""
    if display_kind not in DISPLAY_KINDS:
        raise ValueError(f"display_kind must be one of {', '.join(DISPLAY_KINDS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"class_names": list(class_names), "display": display_kind}
    if featurizer is not None:
        from ..raw_items import raw_meta  # noqa: PLC0415

        if extractor is None:
            raise ValueError("a featurizer needs its fitted extractor")
        meta["raw"] = raw_meta(featurizer)
        np.savez_compressed(out_dir / meta["raw"]["extractor"], **{k: np.asarray(v) for k, v in extractor.items()})
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    write_table(out_dir / "pool.parquet", {"id": np.asarray(list(pool_ids)), "encoding": np.asarray(pool_X),
                                           "display": np.asarray(list(pool_display), dtype=object)})
    write_table(out_dir / "reference_train.parquet", {"encoding": np.asarray(reference_X),
                                                      "label": np.asarray(reference_y, dtype=np.int64)})
    if pool_labels is not None:
        write_table(out_dir / "hidden" / "pool_labels.parquet", {"id": np.asarray(list(pool_ids)),
                                                                 "label": np.asarray(pool_labels, dtype=np.int64)})
    if existing_test_X is not None:
        write_table(out_dir / "hidden" / "existing_test.parquet", {"encoding": np.asarray(existing_test_X)})
    return out_dir


def ratchet_bytes(training_sets: Sequence[TrainingSetData], promoted_ids: Sequence[str] = (),
                  promoted_created: Mapping[str, np.ndarray] | None = None) -> bytes:
    """The content of ``hidden/ratchet.npz``: the extra training sets and the promoted pool ids. Promoted
    *created* items (not in the pool) are listed in ``promoted_ids`` too, with their features in
    ``created_ids`` / ``created_X``, so novelty counts them as existing test data offline as well."""
    created = dict(promoted_created or {})
    arrays: dict[str, np.ndarray] = {
        "names": np.asarray(json.dumps([t.name for t in training_sets])),
        "promoted_ids": np.asarray(json.dumps(list(promoted_ids))),
    }
    if created:
        arrays["created_ids"] = np.asarray(json.dumps(sorted(created)))
        arrays["created_X"] = np.stack([np.asarray(created[k], dtype=np.float32) for k in sorted(created)])
    for k, t in enumerate(training_sets):
        arrays[f"X_{k}"] = np.ascontiguousarray(t.X, dtype=np.float32)
        arrays[f"y_{k}"] = np.asarray(t.y, dtype=np.int64)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):   # fixed member order and time: same content, same bytes
            member = io.BytesIO()
            np.lib.format.write_array(member, arrays[key], allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(2020, 1, 1, 0, 0, 0)), member.getvalue())
    return buffer.getvalue()


def _read_ratchet(path: Path, dim: int, n_classes: int,
                  index: dict[str, int]) -> tuple[list[TrainingSetData], list[str], dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = json.loads(str(archive["names"]))
            promoted = json.loads(str(archive["promoted_ids"]))
            sets = [TrainingSetData(name, archive[f"X_{k}"].astype(np.float32), archive[f"y_{k}"].astype(np.int64))
                    for k, name in enumerate(names)]
            created_ids = json.loads(str(archive["created_ids"])) if "created_ids" in archive.files else []
            created_X = archive["created_X"].astype(np.float32) if created_ids else np.zeros((0, dim), np.float32)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{RATCHET_PATH}: not a readable ratchet file ({error})") from None
    if created_X.shape != (len(created_ids), dim):
        raise DataError(f"{RATCHET_PATH}: created items have shape {created_X.shape}, expected ({len(created_ids)}, {dim})")
    created = dict(zip(created_ids, created_X))
    for t in sets:
        if t.X.ndim != 2 or t.X.shape[1] != dim or t.y.shape != (len(t.X),):
            raise DataError(f"{RATCHET_PATH}: training set {t.name!r} has shape {t.X.shape}, expected (m, {dim})")
        if len(t.y) and (t.y.min() < 0 or t.y.max() >= n_classes):
            raise DataError(f"{RATCHET_PATH}: training set {t.name!r} has labels outside 0..{n_classes - 1}")
    unknown = [i for i in promoted if i not in index and i not in created]
    if unknown:
        raise DataError(f"{RATCHET_PATH}: promoted ids not in the pool: {format_items(unknown)}")
    return sets, promoted, created


def display_data_url(problem: TestSetProblem, item_id: str) -> str:
    """What a page shows for an item: the text itself, or a data: URL of its PNG/WAV."""
    value = problem.display[problem.index[item_id]]
    if problem.display_kind == "text":
        return value
    return f"data:{DISPLAY_KINDS[problem.display_kind]};base64,{value}"


@register
class TestSetCreation(BenchmarkType):
    slug = "test-set"
    title = "Test-set creation (adversarial test items, human-verified)"
    kind = "test-set"
    # The proposed items (and the model suite's per-item answers) are the submission itself.
    private_detail_keys = ("items", "suite")
    metrics = (
        Metric("credit", "Credit (shared)"),
        Metric("verified", "Verified items", integer=True),
        Metric("fooled", "Fooling items", integer=True),
        Metric("novelty", "Novelty"),
    )
    primary_metric = "credit"
    # Equal credit (e.g. before annotators have voted): more verified, then more fooling items rank first.
    tie_break_metrics = ("verified", "fooled")
    hidden_patterns = ("hidden/*",)
    submission_suffixes = (".csv",)
    default_config = {
        "max_items": 50,                # N: items a submission may contain
        "suite": "default",             # evaluation.models.SUITES name, trained on the reference set
        "ratchet_suite": "default",     # the fixed suite trained on each extra (ratchet) training set
        "seed": 0,
        # Platform settings (backend/verification), kept with the benchmark's other settings:
        "consensus_threshold": 3,       # matching human votes that resolve an item
        "verify_non_fooling": False,    # also queue items that fool no majority (they can never score)
        "ratchet_top_k": 3,             # best K training sets of the linked benchmarks join the suite
        "ratchet_benchmarks": [],       # slugs of linked training-set benchmarks; empty: every one in the challenge
    }

    # --- data -------------------------------------------------------------------------------
    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> TestSetProblem:
        data_dir = Path(data_dir)
        self._check_config(config)
        meta_path = data_dir / "meta.json"
        if not meta_path.is_file():
            raise DataError(f"missing data file meta.json ({meta_path})")
        try:
            meta = json.loads(meta_path.read_text())
        except (ValueError, UnicodeDecodeError) as error:
            raise DataError(f"meta.json: not valid JSON ({error})") from None
        class_names = meta.get("class_names") if isinstance(meta, dict) else None
        if (not isinstance(class_names, list) or len(class_names) < 2
                or not all(isinstance(c, str) and c.strip() for c in class_names) or len(set(class_names)) != len(class_names)):
            raise DataError("meta.json: class_names must list at least two distinct, non-empty names")
        display_kind = meta.get("display", "text")
        if display_kind not in DISPLAY_KINDS:
            raise DataError(f"meta.json: display must be one of {', '.join(DISPLAY_KINDS)}, got {display_kind!r}")

        pool = read_table(data_dir / "pool.parquet", ["id", "encoding", "display"])
        ids = str_column(pool, "id", "pool.parquet")
        index = unique_ids(ids, "pool.parquet")
        X = embeddings(pool, name="pool.parquet")
        if len(ids) == 0:
            raise DataError("pool.parquet has no rows")
        display = str_column(pool, "display", "pool.parquet")

        ref = read_table(data_dir / "reference_train.parquet", ["encoding", "label"])
        reference_X, reference_y = embeddings(ref, name="reference_train.parquet"), int_column(ref, "label", "reference_train.parquet")
        if reference_X.shape[1] != X.shape[1]:
            raise DataError(f"reference_train.parquet has {reference_X.shape[1]} dims, pool.parquet {X.shape[1]}")
        self._check_labels(reference_y, len(class_names), "reference_train.parquet")

        true_labels = None
        if (data_dir / "hidden" / "pool_labels.parquet").is_file():
            table = read_table(data_dir / "hidden" / "pool_labels.parquet", ["id", "label"])
            label_of = dict(zip(str_column(table, "id", "pool_labels.parquet"), int_column(table, "label", "pool_labels.parquet").tolist()))
            missing = [i for i in ids if i not in label_of]
            if missing:
                raise DataError(f"pool_labels.parquet: no label for pool item(s) {format_items(missing)}")
            true_labels = np.array([label_of[i] for i in ids], dtype=np.int64)
            self._check_labels(true_labels, len(class_names), "pool_labels.parquet")

        existing = None
        if (data_dir / "hidden" / "existing_test.parquet").is_file():
            existing = embeddings(read_table(data_dir / "hidden" / "existing_test.parquet", ["encoding"]),
                                  name="existing_test.parquet")
            if len(existing) and existing.shape[1] != X.shape[1]:
                raise DataError(f"existing_test.parquet has {existing.shape[1]} dims, pool.parquet {X.shape[1]}")

        ratchet, promoted, created = [], [], {}
        if (data_dir / RATCHET_PATH).is_file():
            ratchet, promoted, created = _read_ratchet(data_dir / RATCHET_PATH, X.shape[1], len(class_names), index)
        if promoted:
            extra = np.stack([X[index[i]] if i in index else created[i] for i in promoted])
            existing = extra if existing is None or len(existing) == 0 else np.vstack([existing, extra])
        return TestSetProblem(list(class_names), display_kind, ids, index, X, display, reference_X, reference_y,
                              true_labels, existing, ratchet, promoted)

    @staticmethod
    def _check_labels(labels: np.ndarray, n_classes: int, name: str) -> None:
        if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
            raise DataError(f"{name}: labels must be class indices 0..{n_classes - 1}")

    @staticmethod
    def _check_config(config: dict[str, Any]) -> None:
        for key in ("max_items", "consensus_threshold", "ratchet_top_k"):
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "ratchet_top_k" else 1):
                raise DataError(f"config {key} must be a {'non-negative' if key == 'ratchet_top_k' else 'positive'} "
                                f"integer, got {value!r}")
        resolve_suite(config["suite"])
        resolve_suite(config["ratchet_suite"])

    # --- submission ---------------------------------------------------------------------------
    def load_submission(self, problem: TestSetProblem, path: Path, config: dict[str, Any]) -> TestSetSolution:
        path = Path(path)
        if not path.is_file() or path.suffix.lower() != ".csv":
            raise SubmissionError(f"{path.name}: expected a CSV file with the header item_id,label")
        if path.stat().st_size > MAX_CSV_BYTES:
            raise SubmissionError(f"{path.name} is {path.stat().st_size} bytes; the limit is {MAX_CSV_BYTES} bytes")
        rows = read_csv(decode_text(read_bytes(path), path.name), path.name, ["item_id", "label"])
        entries = [(f"{path.name}, line {line}", values["item_id"], values["label"]) for line, values in rows]
        return TestSetSolution(check_proposals(problem, entries, config, path.name), path.name)

    # --- scoring ------------------------------------------------------------------------------
    def evaluate(self, problem: TestSetProblem, solution: TestSetSolution, config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        progress(0.1, "training the model suite")
        predictions = problem_predictions(problem, config)
        progress(0.8, "checking the proposed items")
        distances = novelty(problem, [p.item_id for p in solution.proposals])
        items = []
        for p in solution.proposals:
            wrong = predictions.wrong_votes(p.item_id, p.label)
            items.append({"item_id": p.item_id, "label": p.label, "fooled": predictions.fools(p.item_id, p.label),
                          "wrong_votes": wrong, "predicted": predictions.majority(p.item_id),
                          "novelty": distances.get(p.item_id)})
        fooled = sum(1 for item in items if item["fooled"])
        scores = {"credit": 0.0, "verified": 0.0, "fooled": float(fooled)}
        if distances:
            scores["novelty"] = float(np.mean(list(distances.values())))
        progress(1.0, "done")
        return Result(scores=scores, details={
            "items": items, "suite": predictions.members, "n_items": len(items), "fooled": fooled,
            "note": "credit counts human-verified fooling items; it is 0 until annotators verify them",
        })


def check_proposals(problem: TestSetProblem, entries: Sequence[tuple[str, str, str]], config: Mapping[str, Any],
                    source: str) -> list[Proposal]:
    """Validate ``(where, item_id, label)`` entries: at most ``max_items``, at least one, known pool ids,
    known class names, every item once. ``where`` locates the entry in messages (``line 3``, ``item 3``)."""
    limit = int(config["max_items"])
    if not entries:
        raise SubmissionError(f"{source}: no items; propose between 1 and {limit} items")
    if len(entries) > limit:
        raise SubmissionError(f"{source}: {len(entries)} items, the limit is {limit} per submission")
    first: dict[str, str] = {}
    proposals = []
    for where, item_id, label in entries:
        if not item_id:
            raise SubmissionError(f"{where}: empty item_id")
        if item_id not in problem.index:
            raise SubmissionError(f"{where}: unknown item_id {shorten(item_id)} (not in the candidate pool)")
        if item_id in first:
            raise SubmissionError(f"{where}: item_id {shorten(item_id)} appears twice (also {first[item_id]}); "
                                  "propose each item once, with one label")
        if label not in problem.class_names:
            near = [c for c in problem.class_names if c.lower() == label.lower()]
            hint = f" (did you mean {near[0]!r}? labels are case-sensitive)" if near else ""
            raise SubmissionError(f"{where}: unknown label {shorten(label)}{hint}; labels: {', '.join(problem.class_names)}")
        first[item_id] = where
        proposals.append(Proposal(item_id, label))
    return proposals


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
