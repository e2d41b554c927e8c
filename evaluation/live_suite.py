"""The test-set benchmark's model suite, fitted once and kept, to answer for new items live.

:func:`evaluation.benchmarks.test_set.model_suite_predictions` trains the suite and predicts the pool
in one go; :class:`LiveSuite` trains the very same members (same models, training sets, seeds and
order: the fixed ``suite`` on the reference set, then the fixed ``ratchet_suite`` on every extra
training set, members ``<model>@<set name>``) and keeps them, so a participant's own item
(featurised by :mod:`evaluation.raw_items`) is answered in milliseconds. ``predict_matrix(pool X)``
equals ``model_suite_predictions(...).matrix``.

Each member answers with a label and a confidence: the member's ``predict_proba`` for the label it
predicts (all built-in models have one; 1.0 otherwise). The majority and "fooled?" follow
``SuitePredictions`` exactly: the most voted label (ties: the lower class index); an item fools the
suite when a strict majority of members labels it differently from the claimed label.

A fitted suite is serialisable (:meth:`LiveSuite.to_bytes`, pickle) so the platform caches it per data
version; only unpickle bytes you wrote yourself.
"""
from __future__ import annotations

import dataclasses
import pickle
from typing import Any, Mapping, Sequence

import numpy as np

from .base import DataError, SubmissionError
from .benchmarks.test_set import TestSetProblem, TrainingSetData
from .models import fit_model, resolve_suite
from .raw_items import single_thread

FORMAT = 1   # bump when the pickled layout changes (a cached suite of another format is refitted)


@dataclasses.dataclass(frozen=True)
class MemberPrediction:
    model: str          # member name: "logreg", or "knn@<training set>" for a ratchet member
    label: str          # class name
    confidence: float   # the member's probability of that label (1.0 without predict_proba)


@dataclasses.dataclass(frozen=True)
class LivePrediction:
    """The suite's answer for one new item."""

    predictions: list[MemberPrediction]
    majority: str
    features: np.ndarray            # the item's feature vector (float32, quantised like the pool)
    label: str | None = None        # the claimed label, if one was given
    fooled: bool | None = None      # a strict majority predicts something other than ``label``
    wrong_votes: int | None = None

    @property
    def features_dim(self) -> int:
        return int(self.features.shape[-1])

    def as_dict(self) -> dict[str, Any]:
        """The API's JSON body (no features: they are the platform's to store)."""
        out: dict[str, Any] = {
            "predictions": [{"model": p.model, "label": p.label, "confidence": round(p.confidence, 4)}
                            for p in self.predictions],
            "majority": self.majority,
            "features_dim": self.features_dim,
        }
        if self.label is not None:
            out.update(label=self.label, fooled=self.fooled, wrong_votes=self.wrong_votes)
        return out


class LiveSuite:
    """Fitted suite members of a test-set problem (see the module docstring)."""

    def __init__(self, members: Sequence[str], models: Sequence[Any], class_names: Sequence[str], dim: int):
        self.members = list(members)
        self.models = list(models)
        self.class_names = list(class_names)
        self.dim = int(dim)

    @classmethod
    def fit(cls, problem: TestSetProblem, extra_training_sets: Sequence[TrainingSetData] | None = None, *,
            suite: str | Sequence[str] = "default", ratchet_suite: str | Sequence[str] = "default",
            seed: int = 0) -> "LiveSuite":
        """Train the members exactly as ``model_suite_predictions`` does (default extra sets: the
        problem's own ratchet)."""
        extra = problem.ratchet if extra_training_sets is None else extra_training_sets
        members, models = [], []
        for name in resolve_suite(suite):
            members.append(name)
            models.append(fit_model(name, problem.reference_X, problem.reference_y, seed))
        ratchet_models = resolve_suite(ratchet_suite)
        for t in extra:
            if t.X.ndim != 2 or t.X.shape[1] != problem.dim:
                raise DataError(f"extra training set {t.name!r} has {t.X.shape[-1]}-d embeddings, "
                                f"the pool is {problem.dim}-d")
            for name in ratchet_models:
                members.append(f"{name}@{t.name}")
                models.append(fit_model(name, t.X, t.y, seed))
        return cls(members, models, problem.class_names, problem.dim)

    @classmethod
    def from_config(cls, problem: TestSetProblem, config: Mapping[str, Any]) -> "LiveSuite":
        """The suite of a benchmark's config (``suite``, ``ratchet_suite``, ``seed``) with its ratchet."""
        return cls.fit(problem, suite=config["suite"], ratchet_suite=config["ratchet_suite"], seed=int(config["seed"]))

    # --- predicting ---------------------------------------------------------------------------
    def _check(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise DataError(f"features have shape {X.shape}, the suite takes (n, {self.dim})")
        return X

    def predict_matrix(self, X) -> np.ndarray:
        """(n, members) class indices, as ``SuitePredictions.matrix``."""
        X = self._check(X)
        return np.stack([np.asarray(m.predict(X), dtype=np.int64) for m in self.models], axis=1)

    def predict(self, features, label: str | None = None) -> LivePrediction:
        """Every member's label and confidence for one feature vector, the majority, and whether the
        claimed ``label`` (a class name) fools the suite."""
        if label is not None and label not in self.class_names:
            raise SubmissionError(f"label: unknown label {label[:60]!r}; labels: {', '.join(self.class_names)}")
        X = self._check(features)
        if len(X) != 1:
            raise DataError(f"predict takes one feature vector, got {len(X)}")
        votes, answers = [], []
        with single_thread():
            for name, model in zip(self.members, self.models):
                predicted = int(np.asarray(model.predict(X))[0])
                confidence = 1.0
                if hasattr(model, "predict_proba"):
                    proba = np.asarray(model.predict_proba(X))[0]
                    where = np.flatnonzero(np.asarray(model.classes_) == predicted)
                    confidence = float(proba[where[0]]) if len(where) else 0.0
                votes.append(predicted)
                answers.append(MemberPrediction(name, self.class_names[predicted], confidence))
        counts = np.bincount(np.asarray(votes, dtype=np.int64), minlength=len(self.class_names))
        majority = self.class_names[int(np.argmax(counts))]   # ties: the lower class index
        fooled = wrong = None
        if label is not None:
            wrong = int(sum(v != self.class_names.index(label) for v in votes))
            fooled = 2 * wrong > len(self.members)
        return LivePrediction(answers, majority, np.asarray(X[0], dtype=np.float32), label, fooled, wrong)

    # --- caching ------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        return pickle.dumps({"format": FORMAT, "members": self.members, "models": self.models,
                             "class_names": self.class_names, "dim": self.dim}, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> "LiveSuite | None":
        """The suite pickled by :meth:`to_bytes`, or None if the bytes are of another format."""
        try:
            state = pickle.loads(data)  # noqa: S301 - bytes this platform wrote into its own cache
        except Exception:  # noqa: BLE001 - a stale or foreign cache entry is refitted, not an error
            return None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            return None
        return cls(state["members"], state["models"], state["class_names"], state["dim"])
