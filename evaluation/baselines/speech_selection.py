"""Baselines for DataPerf speech selection (keyword spotting): choose at most ``train_size`` clips.

Three algorithms, each a function of the candidates in the shape DataPerf's ``TrainingSetSelection``
receives (``{"targets": {word: [{"ID", "feature_vector"}, ...]}, "nontargets": [...]}``, built by
``load_allowed_embeddings`` exactly like the reference's ``selection/load_samples.py``):

* ``random_selection`` - the reference ``selection/implementations/random_selection.py``
  (harvard-edge/dataperf-speech-example): a seeded ``random.sample`` of ``train_size // (words + 1)``
  clips per target word and as many nontargets (``train_size // 6`` for the 5 DataPerf words). With
  ``seed=0`` the selection is the reference's own (it calls ``random.seed(0)``). ``fill_budget=True``
  spends the remainder of the budget on nontargets (what the starter kit does).
* ``crossval_selection`` - the reference ``baseline_selection.py`` ("DataPerf cross-validation
  baseline"): 60 % of the budget for targets, 40 % for nontargets; a nested
  ``StratifiedShuffleSplit`` (``n_outer`` splits of the targets x ``n_inner`` splits of the
  nontargets) proposes candidate training sets, each is scored by fitting the fixed
  SVC + LogisticRegression soft-voting ensemble and computing macro F1 on the held-out clips, and
  the best candidate wins. The reference runs 10 x 10 = 100 fits on the whole held-out remainder;
  here the counts and the held-out sample size are parameters (defaults 5 x 5 fits, at most
  ``max_val_per_class`` held-out clips per class) so it runs in seconds, and the ensemble is seeded
  (the reference's is not, so its choice is not reproducible).
* ``kcenter_selection`` - diversity: per class, k-center greedy (farthest-point traversal; Gonzalez
  1985, used for active learning as the "core-set" approach by Sener & Savarese, ICLR 2018) starting
  from the clip nearest to the class mean, so the chosen clips cover the class's embedding cloud.
  The budget is split like the random baseline, the remainder going to the (broad) nontarget class.

The ``*_baseline(public_data_dir, out_path, config, seed)`` functions read only the public files
(``allowed_training_set.yaml``, ``train_embeddings/``) and write the submission JSON the way
``selection/main.py`` does (``json.dumps(..., sort_keys=True, indent=4)``).

Standalone on purpose (numpy, scikit-learn, pyarrow, PyYAML only): the speech starter kit ships
this file as ``baselines.py``.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml

__all__ = ["load_allowed_embeddings", "random_selection", "crossval_selection", "kcenter_selection",
           "k_center_greedy", "random_baseline", "crossval_baseline", "kcenter_baseline", "write_submission"]


# --- data -----------------------------------------------------------------------------------------
def _nontarget_word(clip_id: str) -> str:
    """The parquet a nontarget clip lives in: the first path component of its id (load_samples.py)."""
    return clip_id.split("/", 1)[0]


def _read_embeddings(path: Path) -> tuple[list[str], np.ndarray]:
    table = pq.read_table(path, columns=["clip_id", "mswc_embedding_vector"])
    ids = [str(i) for i in table.column("clip_id").to_pylist()]
    vectors = table.column("mswc_embedding_vector").combine_chunks()
    flat = vectors.flatten().to_numpy(zero_copy_only=False)
    return ids, flat.reshape(len(ids), -1) if len(ids) else np.zeros((0, 0), np.float32)


def load_allowed_embeddings(data_dir: str | Path) -> dict:
    """The candidates as DataPerf's ``load_samples`` builds them from the public files.

    Targets: per allowed word (YAML order), the allowed rows of ``train_embeddings/<word>.parquet``
    in parquet order. Nontargets: grouped by word in first-appearance order, each id in YAML order
    (first parquet row with that id). ``feature_vector`` is a row view of the stored (float32) matrix.
    """
    data_dir = Path(data_dir)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(data_dir / "allowed_training_set.yaml") as handle:
        allowed = yaml.load(handle, Loader=loader)
    folder = data_dir / "train_embeddings"
    cache: dict[str, tuple[list[str], np.ndarray]] = {}

    def table(word: str) -> tuple[list[str], np.ndarray]:
        if word not in cache:
            cache[word] = _read_embeddings(folder / f"{word}.parquet")
        return cache[word]

    result: dict = {"targets": {}, "nontargets": []}
    for word, ids in allowed["targets"].items():
        wanted = set(ids)
        file_ids, matrix = table(word)
        result["targets"][word] = [{"ID": clip, "feature_vector": matrix[row]}
                                   for row, clip in enumerate(file_ids) if clip in wanted]
    groups: dict[str, list[str]] = {}
    for clip in allowed["nontargets"]:
        groups.setdefault(_nontarget_word(clip), []).append(clip)
    for word, ids in groups.items():
        file_ids, matrix = table(word)
        first: dict[str, int] = {}
        for row, clip in enumerate(file_ids):
            first.setdefault(clip, row)
        for clip in ids:
            if clip not in first:
                raise ValueError(f"allowed nontarget {clip} is missing from train_embeddings/{word}.parquet")
            result["nontargets"].append({"ID": clip, "feature_vector": matrix[first[clip]]})
    return result


def _matrix(samples: list[dict]) -> np.ndarray:
    if not samples:
        return np.zeros((0, 0), dtype=np.float64)
    return np.vstack([np.asarray(s["feature_vector"], dtype=np.float64) for s in samples])


# --- random (reference random_selection.py) ------------------------------------------------------
def random_selection(allowed_embeddings: dict, train_size: int, seed: int = 0, fill_budget: bool = False) -> dict:
    """``train_size // (words + 1)`` random clips per target word and per nontarget class.

    Same calls in the same order as the reference (``random.seed(0)`` then ``random.sample`` per
    target in key order, then the nontargets), so ``seed=0`` reproduces its selection.
    """
    rng = random.Random(seed)
    targets = allowed_embeddings["targets"]
    nontargets = allowed_embeddings["nontargets"]
    per_class = train_size // (len(targets) + 1)
    selection: dict = {"targets": {}, "nontargets": []}
    for word, samples in targets.items():
        selection["targets"][word] = [s["ID"] for s in rng.sample(samples, min(per_class, len(samples)))]
    used = sum(len(ids) for ids in selection["targets"].values())
    n_nontargets = train_size - used if fill_budget else per_class
    selection["nontargets"] = [s["ID"] for s in rng.sample(nontargets, max(0, min(n_nontargets, len(nontargets))))]
    return selection


# --- DataPerf cross-validation baseline (reference baseline_selection.py) -------------------------
def _ensemble(seed: int):
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    return VotingClassifier([("svm", SVC(probability=True, random_state=seed)),
                             ("lr", LogisticRegression(random_state=seed))], voting="soft", weights=None)


def _subsample_per_class(indices: np.ndarray, labels: np.ndarray, limit: int | None,
                         rng: np.random.Generator) -> np.ndarray:
    if limit is None:
        return indices
    keep = []
    for label in np.unique(labels[indices]):
        members = indices[labels[indices] == label]
        keep.append(members if len(members) <= limit else np.sort(rng.choice(members, size=limit, replace=False)))
    return np.sort(np.concatenate(keep))


def crossval_selection(allowed_embeddings: dict, train_size: int, seed: int = 0, *, n_outer: int = 5,
                       n_inner: int = 5, target_fraction: float = 0.6, max_val_per_class: int | None = 300) -> dict:
    """The DataPerf cross-validation baseline with configurable counts (reference: 10 x 10, all held-out clips).

    ``max_val_per_class=None`` scores every candidate on the whole held-out remainder, as the
    reference does; otherwise each class contributes at most that many held-out clips (seeded).
    """
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedShuffleSplit

    targets = allowed_embeddings["targets"]
    words = list(targets)
    class_of = {word: i + 1 for i, word in enumerate(sorted(words))}
    target_samples = [(word, s) for word in words for s in targets[word]]
    nontarget_samples = allowed_embeddings["nontargets"]
    X_t = _matrix([s for _, s in target_samples])
    y_t = np.array([class_of[word] for word, _ in target_samples], dtype=np.int64)
    X_n = _matrix(nontarget_samples)
    y_n = np.zeros(len(nontarget_samples), dtype=np.int64)

    n_targets = int(train_size * target_fraction)
    n_nontargets = int(train_size * (1 - target_fraction))
    rng = np.random.default_rng(seed)
    if n_targets < 1 or n_nontargets < 1 or n_targets >= len(y_t) or n_nontargets >= len(y_n) \
            or len(np.unique(y_t)) > n_targets:
        # too small to split: fall back to the random baseline (the reference would crash)
        return random_selection(allowed_embeddings, train_size, seed=seed, fill_budget=True)

    outer = StratifiedShuffleSplit(n_splits=n_outer, train_size=n_targets, random_state=seed)
    inner = StratifiedShuffleSplit(n_splits=n_inner, train_size=n_nontargets, random_state=seed)
    inner_splits = list(inner.split(X_n, y_n))  # the reference re-creates the same splitter per outer split
    best = (-1.0, None, None)
    for t_train, t_val in outer.split(X_t, y_t):
        t_val = _subsample_per_class(t_val, y_t, max_val_per_class, rng)
        for n_train, n_val in inner_splits:
            n_val = _subsample_per_class(n_val, y_n, max_val_per_class, rng)
            model = _ensemble(seed).fit(np.vstack([X_t[t_train], X_n[n_train]]),
                                        np.concatenate([y_t[t_train], y_n[n_train]]))
            y_val = np.concatenate([y_t[t_val], y_n[n_val]])
            score = f1_score(y_val, model.predict(np.vstack([X_t[t_val], X_n[n_val]])), average="macro")
            if score > best[0]:
                best = (score, t_train, n_train)
    _, t_train, n_train = best
    selection: dict = {"targets": {word: [] for word in words}, "nontargets": []}
    for index in t_train:
        word, sample = target_samples[index]
        selection["targets"][word].append(sample["ID"])
    selection["nontargets"] = [nontarget_samples[index]["ID"] for index in n_train]
    return selection


# --- diversity: k-center greedy --------------------------------------------------------------------
def k_center_greedy(X: np.ndarray, k: int, initial: list[int] | np.ndarray | None = None,
                    first: int | None = None) -> list[int]:
    """Farthest-point traversal: repeatedly add the point farthest (Euclidean) from the chosen set.

    ``initial`` rows count as already chosen (centres) but are not returned; without them the
    traversal starts at ``first`` (default: the point nearest to the mean). Ties go to the lowest
    row index. Returns up to ``k`` new row indices in the order they were chosen; the i-th returned
    point maximises the distance to everything chosen before it (the 2-approximation of k-center).
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    initial = [] if initial is None else [int(row) for row in initial]
    k = min(int(k), n - len(set(initial)))
    if n == 0 or k <= 0:
        return []
    norms = np.einsum("ij,ij->i", X, X)

    def sq_dist(row: int) -> np.ndarray:
        return np.maximum(norms - 2.0 * (X @ X[row]) + norms[row], 0.0)

    chosen: list[int] = []
    min_dist = np.full(n, np.inf)
    taken = np.zeros(n, dtype=bool)
    if initial:
        for row in initial:
            min_dist = np.minimum(min_dist, sq_dist(row))
            taken[row] = True
    else:
        if first is None:
            centre = X.mean(axis=0)
            first = int(np.argmin(np.einsum("ij,ij->i", X - centre, X - centre)))
        chosen.append(int(first))
        taken[first] = True
        min_dist = sq_dist(int(first))
    while len(chosen) < k:
        candidates = np.where(taken, -np.inf, min_dist)
        row = int(np.argmax(candidates))
        if not np.isfinite(candidates[row]):
            break
        chosen.append(row)
        taken[row] = True
        min_dist = np.minimum(min_dist, sq_dist(row))
    return chosen


def kcenter_selection(allowed_embeddings: dict, train_size: int, seed: int = 0) -> dict:
    """Per class, k-center greedy from the clip nearest the class mean; ``seed`` is unused (deterministic)."""
    targets = allowed_embeddings["targets"]
    nontargets = allowed_embeddings["nontargets"]
    per_class = train_size // (len(targets) + 1)
    selection: dict = {"targets": {}, "nontargets": []}
    for word, samples in targets.items():
        rows = k_center_greedy(_matrix(samples), min(per_class, len(samples))) if samples else []
        selection["targets"][word] = [samples[row]["ID"] for row in rows]
    budget = train_size - sum(len(ids) for ids in selection["targets"].values())
    rows = k_center_greedy(_matrix(nontargets), min(budget, len(nontargets))) if nontargets else []
    selection["nontargets"] = [nontargets[row]["ID"] for row in rows]
    return selection


def _single_threaded():
    """Limit BLAS/OpenMP pools to one thread: the models here are small and threaded BLAS made
    the fits 10-30x slower on a busy 2-core machine (results are unchanged)."""
    try:
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency
    except ImportError:  # pragma: no cover
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


# --- files -----------------------------------------------------------------------------------------
def write_submission(selection: dict, out_path: str | Path) -> Path:
    """Write the selection like ``selection/main.py`` (``sort_keys=True, indent=4``) to ``out_path`` (.json)."""
    path = Path(out_path).with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(selection, sort_keys=True, indent=4))
    return path


def _train_size(config: dict | None) -> int:
    return int((config or {}).get("train_size", 25))


def random_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    """Reference random baseline (``config['fill_budget']`` optional, default False)."""
    config = config or {}
    allowed = load_allowed_embeddings(public_data_dir)
    return write_submission(random_selection(allowed, _train_size(config), seed,
                                             fill_budget=bool(config.get("fill_budget", False))), out_path)


def crossval_baseline(public_data_dir: str | Path, out_path: str | Path,
                      config: dict | None = None, seed: int = 0) -> Path:
    """DataPerf cross-validation baseline; ``config`` keys ``cv_outer``, ``cv_inner`` (default 5 x 5 fits)
    and ``cv_max_val_per_class`` (default 300; None = the whole held-out remainder, as the reference)."""
    config = config or {}
    allowed = load_allowed_embeddings(public_data_dir)
    with _single_threaded():
        selection = crossval_selection(allowed, _train_size(config), seed, n_outer=int(config.get("cv_outer", 5)),
                                       n_inner=int(config.get("cv_inner", 5)),
                                       max_val_per_class=config.get("cv_max_val_per_class", 300))
    return write_submission(selection, out_path)


def kcenter_baseline(public_data_dir: str | Path, out_path: str | Path,
                     config: dict | None = None, seed: int = 0) -> Path:
    allowed = load_allowed_embeddings(public_data_dir)
    with _single_threaded():
        selection = kcenter_selection(allowed, _train_size(config), seed)
    return write_submission(selection, out_path)
