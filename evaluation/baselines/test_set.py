"""Starting points for test-set creation: propose at most ``max_items`` pool items, each with a label.

Test-set creation rewards items that a majority of the fixed model suite gets wrong *and* whose
claimed label human annotators confirm (Dynabench's "model fooled, verified by people"; DataPerf paper
section 2.2). No algorithm can know the true label of an item; a person has to. These functions only
pick *candidates* worth looking at and pre-fill a label for the person to check:

* ``random_candidates`` - a seeded random subset of the pool, labelled with a k-nearest-neighbour
  vote on the public reference training set.
* ``uncertain_candidates`` - uncertainty sampling (Lewis & Gale, SIGIR 1994): a standardised logistic
  regression is trained on the reference set (the same kind of model as the suite's first member);
  the items whose two most likely classes are closest (smallest margin) are where the suite is most
  likely to be wrong. Each is pre-labelled with the k-NN vote, which differs from the logistic
  regression's choice exactly where the two models disagree - a hint, not a verdict.

The public data holds ``meta.json`` (``class_names``), ``pool.parquet`` (``id``, ``encoding``,
``display``) and ``reference_train.parquet`` (``encoding``, ``label`` = index into ``class_names``).
``*_baseline(public_data_dir, out_path, config, seed)`` writes an ``item_id,label`` CSV (labels as
class names). Look at each item (its ``display``: text, or base64 PNG / WAV) and fix the labels
before submitting: the annotators verify the label you claim.

Standalone on purpose (numpy, scikit-learn, pyarrow only): the starter kit ships this file as
``baselines.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

__all__ = ["load_public", "knn_labels", "margins", "random_candidates", "uncertain_candidates",
           "write_submission", "random_baseline", "uncertain_baseline"]


def _matrix(table, column: str = "encoding") -> np.ndarray:
    values = table.column(column).combine_chunks()
    return values.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(values), -1)


def load_public(data_dir: str | Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(class_names, pool ids, pool embeddings, reference embeddings, reference labels)."""
    data_dir = Path(data_dir)
    class_names = [str(name) for name in json.loads((data_dir / "meta.json").read_text())["class_names"]]
    pool = pq.read_table(data_dir / "pool.parquet", columns=["id", "encoding"])
    reference = pq.read_table(data_dir / "reference_train.parquet", columns=["encoding", "label"])
    return (class_names, [str(i) for i in pool.column("id").to_pylist()], _matrix(pool), _matrix(reference),
            np.asarray(reference.column("label").to_numpy(), np.int64))


def knn_labels(X_ref: np.ndarray, y_ref: np.ndarray, X: np.ndarray, k: int = 5) -> np.ndarray:
    """Majority label of the ``k`` nearest reference rows (cosine), ties to the smaller label."""
    def unit(a):
        a = np.asarray(a, np.float64)
        return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)

    similarity = unit(X) @ unit(X_ref).T
    k = max(1, min(int(k), len(y_ref)))
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(X), int(y_ref.max()) + 1))
    np.add.at(votes, (np.repeat(np.arange(len(X)), k), y_ref[nearest].ravel()), 1)
    return np.argmax(votes, axis=1)


def margins(X_ref: np.ndarray, y_ref: np.ndarray, X: np.ndarray, seed: int = 0) -> np.ndarray:
    """Top-1 minus top-2 probability of a logistic regression trained on the reference set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(np.asarray(X_ref, np.float64), y_ref)
    probabilities = np.sort(model.predict_proba(np.asarray(X, np.float64)), axis=1)
    return probabilities[:, -1] - (probabilities[:, -2] if probabilities.shape[1] > 1 else 0.0)


def random_candidates(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(int(n))[:max(0, min(int(size), int(n)))]


def uncertain_candidates(X_ref: np.ndarray, y_ref: np.ndarray, X: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Rows of ``X`` with the smallest margins first (stable: ties keep pool order)."""
    return np.argsort(margins(X_ref, y_ref, X, seed), kind="stable")[:max(0, min(int(size), len(X)))]


def write_submission(ids: list[str], rows: np.ndarray, labels: np.ndarray, class_names: list[str],
                     out_path: str | Path) -> Path:
    path = Path(out_path).with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("item_id,label\n" + "".join(f"{ids[row]},{class_names[int(label)]}\n"
                                                for row, label in zip(rows, labels)))
    return path


def random_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                    seed: int = 0) -> Path:
    class_names, ids, X, X_ref, y_ref = load_public(public_data_dir)
    rows = random_candidates(len(ids), int((config or {}).get("max_items", 50)), seed)
    return write_submission(ids, rows, knn_labels(X_ref, y_ref, X[rows]), class_names, out_path)


def uncertain_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                       seed: int = 0) -> Path:
    class_names, ids, X, X_ref, y_ref = load_public(public_data_dir)
    rows = uncertain_candidates(X_ref, y_ref, X, int((config or {}).get("max_items", 50)), seed)
    return write_submission(ids, rows, knn_labels(X_ref, y_ref, X[rows]), class_names, out_path)
