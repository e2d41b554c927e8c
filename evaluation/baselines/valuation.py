"""Baselines for data valuation: predict the test accuracy of the fixed model trained on A ∪ B_k.

Only A (``a.parquet``: embeddings + labels) and the unlabelled candidates
(``candidates/<id>.parquet``: embeddings) are public; B_k's labels and the test set are hidden.

* ``random_predictions`` - a seeded uniform guess in [chance, 1] per candidate (chance = 1 / the
  number of classes in A): the floor any method should beat.
* ``learning_curve_predictions`` - learning-curve extrapolation (the power law of accuracy vs
  training-set size, e.g. Hestness et al. 2017, "Deep Learning Scaling is Predictable,
  Empirically"; used to value data acquisition by Mahmood et al., CVPR 2022, "How Much More Data
  Do I Need?"):

  1. Learning curve on A: for fractions of A's training folds (stratified, seeded K-fold; sizes
     ``fractions``), fit the fixed model (same model and hyper-parameters as the scorer's
     ``config['model']``: ``logreg``, ``knn`` or ``random_forest``) and measure accuracy on the
     held-out folds (optionally per-class recalls re-weighted by estimated test class priors, a
     label-shift correction: ``priors`` in ``learning_curve_predictions``).
  2. Fit ``acc(n) = a - b * n^(-c)`` (``b >= 0``, ``a <= 1``; grid over c, least squares for a, b).
  3. For candidate B_k (labels unknown) estimate how many *effective* new examples it brings:
     ``n_eff = |A| + q_k * |B_k|`` where the quality proxy ``q_k`` in [0, 1] is the mean, over B_k's
     rows, of ``min(1, d(b, A) / median nearest-neighbour distance inside A)`` - copies of A's
     rows add nothing, rows as novel as A's own points add one example each.
  4. Predict ``acc(n_eff)``, clipped to [0, 1].

* ``quality_predictions`` - data-quality signals fed into a per-class learning curve (the
  signals data-acquisition work uses before buying: label quality from a labelled sample, e.g.
  Northcutt et al. 2021 "Confident Learning" / Bahri et al. 2020 "Deep k-NN for Noisy Labels";
  redundancy and novelty w.r.t. the data already owned; class make-up under label shift):

  1. Per-class learning curve on A: held-out recall of each class against its number of training
     rows over subsamples of A's folds, ``recall(n_c) = w0 + w1 log(1 + n_c)`` by least squares.
  2. Label noise of B_k from its published sample (``samples/<id>.parquet``): the share of sample
     labels agreeing with the majority of their 10 nearest labelled neighbours among A and the
     *other* candidates' samples, against the rate A's clean rows of the same classes agree
     (shrunk towards A's overall rate); solved for the flip rate ``e`` (wrong labels are uniform over
     the other classes). A wrong label is taken to cost what a right one brings:
     ``signal = 1 - 2 e k / (k - 1)`` (negative for very noisy sets: worse than nothing).
  3. Useful rows ``|B_k| * novelty * distinct share * signal`` (novelty as above; distinct share =
     rows that are not exact repeats), spread over the classes in the sample's proportions.
  4. Test class priors: per class, the median share over the candidates' samples (the market's
     typical make-up, robust to a few one-class sellers); predicted accuracy = priors-weighted
     recalls of A's counts plus the useful rows, minus ``mismatch_cost`` (1.0) times the total
     variation distance between the merged training set's class shares and those priors (a skewed
     training set biases the model toward its big classes; the level is therefore pessimistic -
     this baseline is built to rank, its MAE is not its strength). Without samples: no noise estimate and
     class shares predicted by the model trained on A.

``*_baseline(public_data_dir, out_path, config, seed)`` reads only the public files and writes
``candidate_id,predicted_accuracy`` CSV.

Standalone on purpose (numpy, scikit-learn, pyarrow only).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

__all__ = ["load_public", "load_samples", "make_model", "random_predictions", "learning_curve", "fit_power_law",
           "novelty", "learning_curve_predictions", "quality_predictions", "random_baseline",
           "learning_curve_baseline", "data_quality_baseline", "write_submission"]


# --- data -----------------------------------------------------------------------------------------
def _matrix(table) -> np.ndarray:
    column = table.column("encoding").combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), -1)


def load_public(data_dir: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(X_a, y_a, {candidate_id: X_b}) from ``a.parquet`` and ``candidates/*.parquet`` (sorted by id)."""
    data_dir = Path(data_dir)
    a = pq.read_table(data_dir / "a.parquet", columns=["encoding", "label"])
    candidates = {path.stem: _matrix(pq.read_table(path, columns=["encoding"]))
                  for path in sorted((data_dir / "candidates").glob("*.parquet"))}
    return _matrix(a), np.asarray(a.column("label").to_numpy(), dtype=np.int64), candidates


def make_model(name: str, seed: int = 0):
    """The scorer's fixed models (``evaluation/models.py``), rebuilt here so this file stands alone."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    if name == "logreg":
        return LogisticRegression(max_iter=1000, random_state=seed)
    if name == "knn":
        return KNeighborsClassifier(n_neighbors=5, algorithm="brute")
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=50, random_state=seed, n_jobs=1)
    raise ValueError(f"unknown model {name!r} (logreg, knn, random_forest)")


def _fit_predict(model_name: str, X, y, X_test, seed: int) -> np.ndarray:
    classes = np.unique(y)
    if len(classes) == 1:  # as the scorer's fit_predict: a one-class training set predicts that class
        return np.full(len(X_test), classes[0])
    model = make_model(model_name, seed)
    if model_name == "knn" and len(y) < model.n_neighbors:
        model.set_params(n_neighbors=len(y))
    model.fit(np.asarray(X, np.float64), y)
    return model.predict(np.asarray(X_test, np.float64))


# --- random -----------------------------------------------------------------------------------------
def random_predictions(y_a: np.ndarray, candidate_ids: list[str], seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    chance = 1.0 / max(1, len(np.unique(y_a)))
    return {cid: float(rng.uniform(chance, 1.0)) for cid in candidate_ids}


# --- learning-curve extrapolation ----------------------------------------------------------------
def learning_curve(X: np.ndarray, y: np.ndarray, model: str = "logreg", seed: int = 0, n_folds: int = 5,
                   fractions=(0.2, 0.4, 0.7, 1.0), priors: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(training sizes, held-out accuracies) on subsamples of the training folds of (X, y).

    With ``priors`` ({class: probability}) the accuracy is the prior-weighted mean of the per-class
    held-out recalls (the accuracy on a test set with those class proportions), else plain accuracy.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() >= n_folds:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=min(n_folds, len(y)), shuffle=True, random_state=seed)
    sizes = np.zeros(len(fractions))
    hits = np.zeros((len(fractions), len(classes)))     # correct held-out predictions per class
    totals = np.zeros(len(classes))                       # held-out rows per class
    n_splits = 0
    for train, test in splitter.split(X, y):
        n_splits += 1
        totals += np.array([np.sum(y[test] == c) for c in classes])
        permutation = train[rng.permutation(len(train))]
        for i, fraction in enumerate(fractions):
            subset = permutation[:max(2, int(round(fraction * len(train))))]
            sizes[i] += len(subset)
            correct = _fit_predict(model, X[subset], y[subset], X[test], seed) == y[test]
            hits[i] += np.array([np.sum(correct & (y[test] == c)) for c in classes])
    if priors:
        weights = np.array([priors.get(int(c), 0.0) for c in classes])
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(classes), 1 / len(classes))
        accuracies = (hits / np.maximum(totals, 1)) @ weights
    else:
        accuracies = hits.sum(axis=1) / totals.sum()
    return sizes / n_splits, accuracies


def estimated_priors(X_a: np.ndarray, y_a: np.ndarray, X_pool: np.ndarray, model: str = "logreg",
                     seed: int = 0, method: str = "em", iterations: int = 100) -> dict[int, float]:
    """Class proportions of the candidates pooled together, a proxy for the population the test set
    comes from (A itself may be class-skewed).

    ``method="em"``: the EM prior adjustment of Saerens, Latinne & Decaestecker (Neural Computation
    2002) on the predicted probabilities of the model trained on A; ``"predicted"``: the frequencies
    of its predicted classes; ``"uniform"``: equal priors; ``"a"``: A's own proportions.
    """
    classes, counts = np.unique(y_a, return_counts=True)
    train_priors = counts / counts.sum()
    if method == "a" or len(X_pool) == 0 or len(classes) == 1:
        return {int(c): float(p) for c, p in zip(classes, train_priors)}
    if method == "uniform":
        return {int(c): 1.0 / len(classes) for c in classes}
    fitted = make_model(model, seed)
    if model == "knn" and len(y_a) < fitted.n_neighbors:
        fitted.set_params(n_neighbors=len(y_a))
    fitted.fit(np.asarray(X_a, np.float64), y_a)
    probabilities = fitted.predict_proba(np.asarray(X_pool, np.float64))
    if method == "predicted":
        predicted = probabilities.argmax(axis=1)
        return {int(c): float(np.mean(predicted == i)) for i, c in enumerate(classes)}
    priors = train_priors.copy()
    for _ in range(iterations):
        adjusted = probabilities * (priors / train_priors)[None, :]
        adjusted /= np.maximum(adjusted.sum(axis=1, keepdims=True), 1e-300)
        new = adjusted.mean(axis=0)
        if np.max(np.abs(new - priors)) < 1e-8:
            priors = new
            break
        priors = new
    return {int(c): float(p) for c, p in zip(classes, priors)}


def fit_power_law(sizes: np.ndarray, accuracies: np.ndarray, exponents=None) -> tuple[float, float, float]:
    """(a, b, c) of ``acc(n) = a - b * n^(-c)`` by least squares, with b >= 0 and a <= 1."""
    sizes = np.asarray(sizes, dtype=np.float64)
    accuracies = np.asarray(accuracies, dtype=np.float64)
    exponents = np.linspace(0.05, 2.0, 40) if exponents is None else exponents
    best = (float(np.mean(accuracies)), 0.0, 1.0)
    best_error = float(np.sum((accuracies - best[0]) ** 2))
    for c in exponents:
        basis = sizes ** (-c)
        design = np.column_stack([np.ones_like(basis), -basis])
        (a, b), *_ = np.linalg.lstsq(design, accuracies, rcond=None)
        if b < 0 or a > 1:
            continue
        error = float(np.sum((accuracies - (a - b * basis)) ** 2))
        if error < best_error - 1e-15:
            best, best_error = (float(a), float(b), float(c)), error
    return best


def _nearest_distances(X: np.ndarray, Y: np.ndarray, exclude_self: bool = False, chunk: int = 1024) -> np.ndarray:
    """Euclidean distance from every row of X to its nearest row of Y."""
    X = np.asarray(X, np.float64)
    Y = np.asarray(Y, np.float64)
    y_norms = np.einsum("ij,ij->i", Y, Y)
    out = np.empty(len(X))
    for start in range(0, len(X), chunk):
        block = X[start:start + chunk]
        d = np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * block @ Y.T + y_norms[None, :]
        if exclude_self:
            d[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        out[start:start + chunk] = np.sqrt(np.maximum(d.min(axis=1), 0.0))
    return out


def novelty(X_a: np.ndarray, X_b: np.ndarray) -> float:
    """Mean over B's rows of min(1, distance to A / median nearest-neighbour distance within A)."""
    if len(X_b) == 0:
        return 0.0
    if len(X_a) < 2:
        return 1.0
    scale = float(np.median(_nearest_distances(X_a, X_a, exclude_self=True)))
    if scale <= 0:
        return 1.0
    return float(np.mean(np.minimum(1.0, _nearest_distances(X_b, X_a) / scale)))


def learning_curve_predictions(X_a: np.ndarray, y_a: np.ndarray, candidates: dict[str, np.ndarray],
                               model: str = "logreg", seed: int = 0, n_folds: int = 5,
                               priors: str = "a") -> dict[str, float]:
    """Predicted accuracy of the model trained on A ∪ B_k per candidate (see the module docstring).

    ``priors`` weights the per-class held-out recalls of the learning curve (``estimated_priors``):
    ``"a"`` (default) = plain accuracy on A's held-out rows; ``"uniform"``, ``"predicted"`` and
    ``"em"`` assume the test population differs from A. On the prebuilt demo data none of the
    corrections was better on average (MAE 0.109 / 0.106 / 0.115 / 0.115 over five data sets).
    """
    pool = np.vstack(list(candidates.values())) if candidates else np.zeros((0, X_a.shape[1]))
    priors = estimated_priors(X_a, y_a, pool, model, seed, method=priors)
    sizes, accuracies = learning_curve(X_a, y_a, model, seed, n_folds, priors=priors)
    a, b, c = fit_power_law(sizes, accuracies)
    predictions = {}
    for cid, X_b in candidates.items():
        n_eff = len(y_a) + novelty(X_a, X_b) * len(X_b)
        predictions[cid] = float(np.clip(a - b * n_eff ** (-c), 0.0, 1.0))
    return predictions


# --- data quality -----------------------------------------------------------------------------------
def load_samples(data_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The public labelled samples ``samples/<candidate_id>.parquet`` as {candidate_id: (row positions in
    the candidate file, labels)}; empty when the benchmark publishes none."""
    data_dir = Path(data_dir)
    samples = {}
    for path in sorted((data_dir / "samples").glob("*.parquet")):
        candidate = data_dir / "candidates" / path.name
        if not candidate.is_file():
            continue
        position = {item: i for i, item in enumerate(pq.read_table(candidate, columns=["id"]).column("id").to_pylist())}
        table = pq.read_table(path, columns=["id", "label"])
        pairs = [(position[item], label) for item, label in zip(table.column("id").to_pylist(),
                                                                 table.column("label").to_pylist()) if item in position]
        samples[path.stem] = (np.array([p for p, _ in pairs], np.int64), np.array([lab for _, lab in pairs], np.int64))
    return samples


def distinct_fraction(X: np.ndarray) -> float:
    """Share of B's rows that are not exact repeats of an earlier row (repeats teach nothing new)."""
    if len(X) == 0:
        return 0.0
    return float(len(np.unique(np.round(np.asarray(X, np.float64), 6), axis=0)) / len(X))


def per_class_curve(X: np.ndarray, y: np.ndarray, model: str = "logreg", seed: int = 0, n_folds: int = 5,
                    fractions=(0.25, 0.5, 0.75, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """(training rows of the class, held-out recall of the class) for every class, subsample
    fraction and fold of A's stratified (seeded) K-fold split."""
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    splitter = (StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed) if counts.min() >= n_folds
                else KFold(n_splits=min(n_folds, len(y)), shuffle=True, random_state=seed))
    points = []
    for train, test in splitter.split(X, y):
        permutation = train[rng.permutation(len(train))]
        for fraction in fractions:
            subset = permutation[:max(2, int(round(fraction * len(train))))]
            predicted = _fit_predict(model, X[subset], y[subset], X[test], seed)
            for c in classes:
                held = y[test] == c
                if held.any():
                    points.append((np.sum(y[subset] == c), np.mean(predicted[held] == c)))
    points = np.array(points, np.float64).reshape(-1, 2)
    return points[:, 0], points[:, 1]


def fit_recall_model(counts: np.ndarray, recalls: np.ndarray):
    """Least squares ``recall ~ w0 + w1 log(1 + n_c)`` (w1 >= 0): a class's held-out recall against its
    number of training rows, pooled over A's classes and subsamples."""
    design = np.column_stack([np.ones_like(counts), np.log1p(counts)])
    weights, *_ = np.linalg.lstsq(design, recalls, rcond=None)
    if weights[1] < 0:
        weights = np.array([float(np.mean(recalls)), 0.0])
    return lambda n_c: np.clip(weights[0] + weights[1] * np.log1p(np.maximum(n_c, 0.0)), 0.0, 1.0)


def _knn_agreement(X_ref: np.ndarray, y_ref: np.ndarray, X: np.ndarray, y: np.ndarray, neighbours: int,
                   exclude_self: bool = False) -> np.ndarray:
    """Whether each (x, y) agrees with the majority label of its nearest reference rows."""
    if len(y_ref) - int(exclude_self) < 1:   # nothing to compare with: no evidence of noise
        return np.ones(len(y), dtype=bool)
    X = np.asarray(X, np.float64)
    X_ref = np.asarray(X_ref, np.float64)
    d = np.einsum("ij,ij->i", X, X)[:, None] - 2.0 * X @ X_ref.T + np.einsum("ij,ij->i", X_ref, X_ref)[None, :]
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :min(neighbours, len(y_ref) - int(exclude_self))]
    votes = y_ref[nearest]
    majority = np.array([np.bincount(row).argmax() for row in votes])
    return majority == np.asarray(y)


def quality_predictions(X_a: np.ndarray, y_a: np.ndarray, candidates: dict[str, np.ndarray],
                        samples: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                        model: str = "logreg", seed: int = 0, neighbours: int = 10,
                        mismatch_cost: float = 1.0) -> dict[str, float]:
    """Per-class learning curve fed with data-quality signals (see the module docstring)."""
    samples = {cid: value for cid, value in (samples or {}).items() if cid in candidates and len(value[1])}
    classes, a_counts = np.unique(y_a, return_counts=True)
    k = len(classes)
    counts, recalls = per_class_curve(X_a, y_a, model, seed)
    recall = fit_recall_model(counts, recalls)
    # Labelled reference: A plus every published sample. A sample's labels are checked against the
    # others (never against itself); A's own agreement is what clean labels score.
    owner = np.concatenate([np.full(len(y_a), "")] + [np.full(len(samples[c][1]), c) for c in samples]).astype(object)
    X_ref = np.vstack([X_a] + [candidates[c][samples[c][0]] for c in samples])
    y_ref = np.concatenate([y_a] + [samples[c][1] for c in samples]).astype(np.int64)
    # per class, how often A's (clean) rows agree with their neighbours, shrunk towards the overall rate
    a_agrees = _knn_agreement(X_ref, y_ref, X_ref[:len(y_a)], y_a, neighbours, exclude_self=True)
    overall = float(np.mean(a_agrees))
    clean_rate = {cl: (np.sum(a_agrees[y_a == cl]) + 5 * overall) / (np.sum(y_a == cl) + 5) for cl in classes}
    # test class priors: the typical class make-up of the market - per class, the median share over
    # the candidates' samples (robust to the few sellers offering one or two classes), else uniform
    priors = np.full(k, 1.0 / k)
    if samples:
        median = np.median([[np.mean(samples[c][1] == cl) for cl in classes] for c in samples], axis=0)
        if median.sum() > 0:
            priors = median / median.sum()

    def value(n_c: np.ndarray) -> float:
        # a training set whose class make-up strays from the test's biases the model towards its big classes
        mismatch = 0.5 * float(np.abs(n_c / n_c.sum() - priors).sum())
        return float(np.clip(recall(n_c) @ priors - mismatch_cost * mismatch, 0.0, 1.0))

    predictions = {}
    for cid, X_b in candidates.items():
        if len(X_b) == 0:
            predictions[cid] = value(a_counts.astype(np.float64))
            continue
        if cid in samples:
            positions, labels = samples[cid]
            others = owner != cid
            agreement = float(np.mean(_knn_agreement(X_ref[others], y_ref[others], X_b[positions], labels, neighbours)))
            clean = float(np.mean([clean_rate.get(int(label), overall) for label in labels]))
            wrong = (1.0 - clean) / max(1, k - 1)
            noise = float(np.clip((clean - agreement) / max(clean - wrong, 1e-9), 0.0, 1.0))
            shares_b = np.array([np.mean(labels == cl) for cl in classes])
        else:
            guessed = _fit_predict(model, X_a, y_a, X_b, seed)
            noise, shares_b = 0.0, np.array([np.mean(guessed == cl) for cl in classes])
        # a wrong label costs about what a right one brings (the 50 %-noise-in-2-classes break-even)
        signal = 1.0 - 2.0 * noise * k / (k - 1) if k > 1 else 1.0
        useful = len(X_b) * novelty(X_a, X_b) * distinct_fraction(X_b)
        n_c = a_counts + shares_b * useful * signal
        predictions[cid] = value(np.maximum(n_c, 1e-9))
    return predictions

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
def write_submission(predictions: dict[str, float], out_path: str | Path) -> Path:
    path = Path(out_path).with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("candidate_id,predicted_accuracy\n"
                    + "".join(f"{cid},{value:.6f}\n" for cid, value in predictions.items()))
    return path


def random_baseline(public_data_dir: str | Path, out_path: str | Path,
                    config: dict | None = None, seed: int = 0) -> Path:
    _, y_a, candidates = load_public(public_data_dir)
    return write_submission(random_predictions(y_a, list(candidates), seed), out_path)


def learning_curve_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                            seed: int = 0) -> Path:
    """Learning-curve extrapolation with the scorer's model (``config['model']``, default logreg);
    ``config['valuation_priors']`` picks the class-prior correction (default ``"a"``: none)."""
    X_a, y_a, candidates = load_public(public_data_dir)
    config = config or {}
    model = str(config.get("model", "logreg"))
    with _single_threaded():
        predictions = learning_curve_predictions(X_a, y_a, candidates, model, seed,
                                                 priors=str(config.get("valuation_priors", "a")))
    return write_submission(predictions, out_path)


def data_quality_baseline(public_data_dir: str | Path, out_path: str | Path, config: dict | None = None,
                          seed: int = 0) -> Path:
    """Data-quality signals (label noise from the published samples, redundancy, novelty, class make-up)
    in a per-class learning curve with the scorer's model (``config['model']``, default logreg)."""
    X_a, y_a, candidates = load_public(public_data_dir)
    model = str((config or {}).get("model", "logreg"))
    with _single_threaded():
        predictions = quality_predictions(X_a, y_a, candidates, load_samples(public_data_dir), model, seed)
    return write_submission(predictions, out_path)
