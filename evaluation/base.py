"""The contract every benchmark type implements.

A *problem* is a benchmark's data (public inputs plus hidden ground truth), loaded once from a
directory in the official layout. A *solution* is a participant's validated submission. Scoring is
``benchmark.evaluate(problem, solution, progress) -> Result``, the shape DCBench uses.

This module, like the whole ``evaluation`` package, must not import Django: participants run it
offline and the platform's workers call it unchanged.
"""
from __future__ import annotations

import dataclasses
import fnmatch
from pathlib import Path
from typing import Any, Callable, ClassVar

# progress(fraction_done in [0, 1], short human-readable message)
ProgressCallback = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """Default progress callback: ignore updates."""


class EvaluationError(Exception):
    """Base class for errors a user should read (never a traceback)."""


class SubmissionError(EvaluationError):
    """The submitted file is malformed or breaks the benchmark's rules.

    The message names the problem (file, field, id, limit) so it can be shown as-is in the page,
    the API (HTTP 400) and the CLI (non-zero exit).
    """


class DataError(EvaluationError):
    """The benchmark's own data directory is missing files or has the wrong layout."""


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool = True
    # Shown next to the mean when the benchmark reports a spread (e.g. std over seeds).
    spread_key: str | None = None
    # A count (items, rows): shown as a whole number, not with four decimals.
    integer: bool = False
    # Decimals shown for a (non-count) value on pages: four unless the metric declares its own.
    decimals: int = 4


@dataclasses.dataclass
class Result:
    """What ``evaluate`` returns.

    ``scores`` maps every declared metric key to a float; ``details`` is JSON-serialisable
    per-seed / per-task information shown on the submission page. ``details`` must never contain
    hidden labels or hidden data, only aggregate numbers.
    """

    scores: dict[str, float]
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self, primary_metric: str) -> dict[str, Any]:
        return {"score": self.scores[primary_metric], "scores": self.scores, "details": self.details}


class BenchmarkType:
    """A kind of benchmark (speech selection, vision selection, debugging, ...).

    Subclasses set the class attributes and implement ``load_problem``, ``load_submission`` and
    ``evaluate``. Instances are stateless: per-benchmark parameters come in ``config``.
    """

    slug: ClassVar[str]
    title: ClassVar[str]
    # Which of Table 1's six kinds this is (selection, debugging, ...), for the benchmark matrix.
    kind: ClassVar[str]
    metrics: ClassVar[tuple[Metric, ...]]
    primary_metric: ClassVar[str]
    # Glob patterns (relative to the data directory) of files that must stay on the worker.
    hidden_patterns: ClassVar[tuple[str, ...]] = ()
    # Submission file name suffixes accepted by the upload form (e.g. ".json", ".zip").
    submission_suffixes: ClassVar[tuple[str, ...]] = ()
    # Key under which ``background_details`` adds its material to a scored submission's details
    # (None: the type has no background extras).
    background_key: ClassVar[str | None] = None
    # Metrics that break ties of the primary metric on a leaderboard, in order (each in its own
    # direction), before the earlier submission wins; e.g. more fooling items first on equal credit.
    tie_break_metrics: ClassVar[tuple[str, ...]] = ()
    # Keys of ``details`` that echo what was submitted (e.g. the proposed items): shown to the submission's
    # owner and organizers, left out of the public view that leaderboard rows link to.
    private_detail_keys: ClassVar[tuple[str, ...]] = ()
    # Default ``config`` values; the organizer may override them per benchmark.
    default_config: ClassVar[dict[str, Any]] = {}
    # One line per config key that needs explaining (the CLI's --help shows it with the default).
    config_help: ClassVar[dict[str, str]] = {}

    def config(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        merged = dict(self.default_config)
        unknown = set(overrides or {}) - set(merged)
        if unknown:
            raise DataError(f"unknown config keys for {self.slug}: {', '.join(sorted(unknown))}")
        merged.update(overrides or {})
        return merged

    def is_hidden(self, relative_path: str) -> bool:
        return any(fnmatch.fnmatch(relative_path, pattern) for pattern in self.hidden_patterns)

    def required_libraries(self, config: dict[str, Any]) -> dict[str, str]:
        """Distributions beyond the ones every environment has (numpy, scipy, scikit-learn, pandas,
        pyarrow) that scoring with ``config`` needs -> a phrase saying what needs it and the way out.
        Lets a benchmark be refused a pinned environment that lacks them (evaluation.environments)."""
        return {}

    def metrics_for(self, config: dict[str, Any]) -> tuple[Metric, ...]:
        """The metrics a benchmark with this config reports (types with per-task columns override)."""
        return self.metrics

    def metric(self, key: str) -> Metric:
        for metric in self.metrics:
            if metric.key == key:
                return metric
        raise KeyError(key)

    # --- to implement -------------------------------------------------------------------------
    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> Any:
        """Read the benchmark's data (public + hidden) into memory. Raise DataError on bad layout."""
        raise NotImplementedError

    def load_submission(self, problem: Any, path: Path, config: dict[str, Any]) -> Any:
        """Parse and validate a submission file (or directory). Raise SubmissionError on bad input."""
        raise NotImplementedError

    def evaluate(
        self, problem: Any, solution: Any, config: dict[str, Any], progress: ProgressCallback = no_progress
    ) -> Result:
        """Score a validated solution against the problem's hidden ground truth."""
        raise NotImplementedError

    # --- optional hooks -----------------------------------------------------------------------
    def task_ids(self, problem: Any) -> list[str]:
        """Independent parts of a submission that may be scored on different workers.

        Types that return two or more ids implement ``evaluate_task`` (a JSON-serialisable dict per
        task) and ``combine`` (task dicts -> Result), with ``evaluate`` equal to their combination.
        """
        return []

    def evaluate_task(self, problem: Any, solution: Any, task_id: str, config: dict[str, Any],
                      progress: ProgressCallback = no_progress) -> dict[str, Any]:
        raise NotImplementedError

    def combine(self, task_results: list[dict[str, Any]]) -> Result:
        raise NotImplementedError

    def background_details(self, problem: Any, solution: Any, config: dict[str, Any],
                           progress: ProgressCallback = no_progress) -> dict[str, Any] | None:
        """Extra, slower material for the submission page (e.g. plot curves), computed after scoring;
        returns ``{background_key: ...}``. Aggregates only, coarse enough not to reveal hidden labels."""
        return None

    def data_summary(self, problem: Any, config: dict[str, Any]) -> dict[str, Any]:
        """Public-safe facts about the benchmark's data shown on its page (sizes, baseline accuracies)."""
        return {}
