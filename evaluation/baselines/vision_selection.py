"""Baselines for DataPerf vision selection: label at most ``max_train_size`` pool images per concept.

The pool is unlabelled; the only supervision is a small set of example positives per concept
(``examples/alpha_example_set_<Concept>.csv``). Both algorithms work on cosine similarity of the
L2-normalised embeddings to the example set.

* ``random_selection`` - "random, labelled by nearest-example similarity" (like the reference's
  ``data/train_sets/random_500.csv`` template, which needs labels): a seeded random sample of the
  pool; a sampled image is labelled positive when its cosine similarity to its nearest example is
  at least the similarity threshold ``tau`` read off the example set itself (the ``quantile`` of
  the examples' leave-one-out nearest-example similarities), negative otherwise. The examples are
  always included as positives.
* ``kcenter_selection`` - diversity (core-set / k-center greedy, Sener & Savarese, ICLR 2018;
  farthest-point traversal, Gonzalez 1985): positives = the examples plus the pool images most
  similar to them (at most ``positive_fraction`` of the budget: a concept is rare in the pool, so
  only the most confident look-alikes are labelled positive); negatives = k-center greedy over a
  seeded sample of the images that are *not* near the examples, started from the positives as
  centres, so the negatives cover the rest of the embedding space - rare look-alike classes
  included - instead of following the pool's density.

``*_baseline(public_data_dir, out_path, config, seed)`` reads the public files only (the pool
``embeddings/train_emb_256_dataperf.parquet`` - a file or a Spark directory of part files - and
``examples/``) and writes a ``.zip`` of ``<Concept>.csv`` files (``ImageID,Confidence``), the
reference's ``data/train_sets`` format.

Standalone on purpose (numpy, pyarrow only): the vision starter kit ships this file as ``baselines.py``.
"""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

__all__ = ["load_pool", "load_examples", "random_selection", "kcenter_selection", "k_center_greedy",
           "random_baseline", "kcenter_baseline", "write_submission"]

POOL = Path("embeddings") / "train_emb_256_dataperf.parquet"
EXAMPLE_PREFIX = "alpha_example_set_"


# --- data -----------------------------------------------------------------------------------------
def load_pool(data_dir: str | Path) -> tuple[list[str], np.ndarray]:
    """(ImageIDs, float32 matrix) of the candidate pool, in file (part) order."""
    path = Path(data_dir) / POOL
    if path.is_dir():
        parts = sorted(p for p in path.iterdir() if p.suffix == ".parquet" and not p.name.startswith((".", "_")))
    else:
        parts = [path]
    ids: list[str] = []
    blocks = []
    for part in parts:
        table = pq.read_table(part, columns=["ImageID", "embedding"])
        ids += [str(i) for i in table.column("ImageID").to_pylist()]
        column = table.column("embedding").combine_chunks()
        blocks.append(column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), -1))
    return ids, np.vstack(blocks) if blocks else np.zeros((0, 0), np.float32)


def load_examples(data_dir: str | Path, concepts: list[str] | None = None) -> dict[str, list[str]]:
    """Concept -> example ImageIDs from ``examples/alpha_example_set_<Concept>.csv`` (every file if
    ``concepts`` is empty)."""
    folder = Path(data_dir) / "examples"
    files = {p.stem[len(EXAMPLE_PREFIX):]: p for p in sorted(folder.glob(f"{EXAMPLE_PREFIX}*.csv"))}
    concepts = list(concepts or sorted(files))
    missing = [c for c in concepts if c not in files]
    if missing:
        raise ValueError(f"no examples/{EXAMPLE_PREFIX}{missing[0]}.csv")
    examples = {}
    for concept in concepts:
        with open(files[concept], newline="") as handle:
            examples[concept] = [str(row["ImageID"]).strip() for row in csv.DictReader(handle)]
    return examples


def _normalise(X: np.ndarray) -> np.ndarray:
    """Unit-length rows, float32 (a 200,000 x 256 pool stays ~200 MB)."""
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), np.float32(1e-12))


def _example_rows(pool_ids: list[str], example_ids: list[str], concept: str) -> list[int]:
    row_of: dict[str, int] = {}
    for row, image_id in enumerate(pool_ids):
        row_of.setdefault(image_id, row)
    rows = list(dict.fromkeys(row_of[i] for i in example_ids if i in row_of))
    if not rows:
        raise ValueError(f"none of the {concept} example images is in the candidate pool")
    return rows


def _nearest_example_similarity(unit: np.ndarray, example_rows: list[int], chunk: int = 65536) -> np.ndarray:
    """Cosine similarity of every pool row to its most similar example."""
    E = unit[example_rows]
    out = np.empty(len(unit))
    for start in range(0, len(unit), chunk):
        out[start:start + chunk] = (unit[start:start + chunk] @ E.T).max(axis=1)
    return out


# --- random, labelled by similarity --------------------------------------------------------------
def random_selection(pool_ids: list[str], pool_embeddings: np.ndarray, examples: dict[str, list[str]],
                     max_train_size: int, seed: int = 0, *, size: int | None = None,
                     quantile: float = 0.1) -> dict[str, dict[str, int]]:
    """Per concept: the examples (label 1) plus a seeded random sample of the pool, each sampled
    image labelled 1 when its nearest-example cosine similarity reaches ``tau``, else 0.

    ``tau`` = the ``quantile`` of the examples' leave-one-out nearest-example similarities (with a
    single example: its similarity to the pool's 99th percentile). ``size`` defaults to
    ``max_train_size``. Returns ``{concept: {ImageID: 0|1}}`` (examples first, then sample order).
    """
    rng = np.random.default_rng(seed)
    unit = _normalise(pool_embeddings)
    size = min(int(size or max_train_size), max_train_size, len(pool_ids))
    result: dict[str, dict[str, int]] = {}
    for concept in examples:
        rows = _example_rows(pool_ids, examples[concept], concept)
        similarity = _nearest_example_similarity(unit, rows)
        tau = _similarity_threshold(unit, rows, similarity, quantile)
        labels = {pool_ids[row]: 1 for row in rows[:size]}
        for row in rng.permutation(len(pool_ids)):
            if len(labels) >= size:
                break
            labels.setdefault(pool_ids[row], int(similarity[row] >= tau))
        if set(labels.values()) == {1} and size >= 2:  # the model needs a negative too
            if len(labels) >= size:
                labels.pop(next(reversed(labels)))
            least = next(row for row in np.argsort(similarity, kind="stable") if pool_ids[row] not in labels)
            labels[pool_ids[least]] = 0
        result[concept] = labels
    return result


# --- diversity: k-center greedy --------------------------------------------------------------------
def k_center_greedy(X: np.ndarray, k: int, initial: list[int] | np.ndarray | None = None,
                    first: int | None = None) -> list[int]:
    """Farthest-point traversal: repeatedly add the point farthest (Euclidean) from the chosen set.

    ``initial`` rows count as already chosen but are not returned; without them the traversal
    starts at ``first`` (default: the point nearest to the mean). Ties go to the lowest row index.
    Returns up to ``k`` new row indices in the order they were chosen.
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


def _similarity_threshold(unit: np.ndarray, rows: list[int], similarity: np.ndarray, quantile: float) -> float:
    """``quantile`` of the examples' leave-one-out nearest-example similarities (one example: the
    pool's 99th percentile of similarity to it)."""
    if len(rows) < 2:
        return float(np.quantile(similarity, 0.99))
    E = unit[rows]
    gram = E @ E.T
    np.fill_diagonal(gram, -np.inf)
    return float(np.quantile(gram.max(axis=1), quantile))


def kcenter_selection(pool_ids: list[str], pool_embeddings: np.ndarray, examples: dict[str, list[str]],
                      max_train_size: int, seed: int = 0, *, positive_fraction: float = 0.05, quantile: float = 0.1,
                      candidate_sample: int = 8000) -> dict[str, dict[str, int]]:
    """Per concept, split the pool at the similarity threshold ``tau`` (as in ``random_selection``):
    images at least as close to an example as the examples are to each other form the positive
    region, the rest the negative region. Positives = the examples + the positive region's images
    most similar to an example (up to ``positive_fraction`` of the budget), negatives = k-center
    greedy over the negative region with every positive as an initial centre, so the negatives are
    covered evenly instead of in the pool's dense spots. Each region is a seeded sample of at most
    ``candidate_sample`` images (speed). Returns ``{concept: {ImageID: 0|1}}`` (positives first)."""
    rng = np.random.default_rng(seed)
    unit = _normalise(pool_embeddings)
    budget = min(int(max_train_size), len(pool_ids))
    result: dict[str, dict[str, int]] = {}
    for concept in examples:
        rows = _example_rows(pool_ids, examples[concept], concept)[:max(1, budget - 1)]
        similarity = _nearest_example_similarity(unit, rows)
        tau = _similarity_threshold(unit, rows, similarity, quantile)
        is_example = np.zeros(len(unit), dtype=bool)
        is_example[rows] = True

        def region(mask: np.ndarray) -> np.ndarray:
            members = np.flatnonzero(mask & ~is_example)
            if len(members) > candidate_sample:
                members = np.sort(rng.choice(members, size=candidate_sample, replace=False))
            return members

        near, far = region(similarity >= tau), region(similarity < tau)
        n_positive = max(len(rows), min(int(budget * positive_fraction), budget - 1))
        near = near[np.argsort(-similarity[near], kind="stable")]
        positives = rows + [int(row) for row in near[:max(0, n_positive - len(rows))]]
        picked = k_center_greedy(np.vstack([unit[positives], unit[far]]), budget - len(positives),
                                 initial=list(range(len(positives))))
        negatives = [int(far[i - len(positives)]) for i in picked]
        labels = {pool_ids[row]: 1 for row in positives}
        for row in negatives:
            labels.setdefault(pool_ids[row], 0)
        result[concept] = labels
    return result


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
def write_submission(selection: dict[str, dict[str, int]], out_path: str | Path) -> Path:
    """A ``.zip`` of ``<Concept>.csv`` (``ImageID,Confidence``), rows in selection order."""
    path = Path(out_path).with_suffix(".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for concept, labels in selection.items():
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["ImageID", "Confidence"])
            writer.writerows((image_id, int(label)) for image_id, label in labels.items())
            info = zipfile.ZipInfo(f"{concept}.csv", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    return path


def _inputs(public_data_dir, config):
    config = config or {}
    pool_ids, pool = load_pool(public_data_dir)
    examples = load_examples(public_data_dir, list(config.get("concepts") or []))
    return pool_ids, pool, examples, int(config.get("max_train_size", 1000))


def random_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    """Random sample labelled by nearest-example similarity; ``config['random_size']`` (default: the cap)."""
    pool_ids, pool, examples, cap = _inputs(public_data_dir, config)
    with _single_threaded():
        selection = random_selection(pool_ids, pool, examples, cap, seed, size=(config or {}).get("random_size"))
    return write_submission(selection, out_path)


def kcenter_baseline(public_data_dir: str | Path, out_path: str | Path,
                     config: dict | None = None, seed: int = 0) -> Path:
    pool_ids, pool, examples, cap = _inputs(public_data_dir, config)
    with _single_threaded():
        selection = kcenter_selection(pool_ids, pool, examples, cap, seed)
    return write_submission(selection, out_path)
