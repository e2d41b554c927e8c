"""Runs evaluations on a worker: load the (cached) problem, score, store. The runners of the job kinds
``score``, ``score-part`` and ``details`` (backend/jobs claims the job and keeps its lease alive).

Hidden data is read here and only here; what leaves is the scores and the scorer's aggregate details.
Types whose submissions split into tasks (``BenchmarkType.task_ids``) are fanned out: each task is its
own job (``run_part``) and the last one to finish combines the results.
"""
from __future__ import annotations

import contextlib
import logging
import time
import traceback
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

import evaluation
from backend.jobs.models import Job
from backend.jobs.worker import Lease
# Working directories held by this process (flock): the sweep removes them once it is gone, however it died.
from backend.sandbox.scratch import scratch_directory

from . import environment_runner, services, signals
from .models import Submission

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The run lost its claim (an organizer cancelled it, or another worker took it over)."""


def _progress_writer(submission_id: int, token: str, lease: Lease, *, write: bool = True):
    last = {"t": 0.0, "fraction": -1.0}

    def progress(fraction: float, message: str) -> None:
        if lease.lost:
            raise Cancelled()
        if not write:
            return
        now = time.monotonic()
        # Throttle writes: twice a second at most, unless it is a big step.
        if now - last["t"] < 0.5 and fraction - last["fraction"] < 0.1 and fraction < 1.0:
            return
        last.update(t=now, fraction=fraction)
        if not services.record_progress(submission_id, token, fraction, message):
            raise Cancelled()

    return progress


def _load(submission: Submission, directory: Path):
    """The benchmark's problem (cached per process) and the submission's validated solution."""
    benchmark = submission.benchmark
    problem = services.load_benchmark_problem(benchmark)
    path = services.local_copy(submission, directory)
    return problem, benchmark.benchmark_type.load_submission(problem, path, benchmark.effective_config)


@contextlib.contextmanager
def _failures_reported(submission: Submission, token: str):
    """Turn any exception of a scoring run into a failed submission with a readable reason."""
    submission_id = submission.pk
    try:
        yield
    except Cancelled:
        log.info("submission %s: run stopped, it lost its claim", submission_id)
    except evaluation.SubmissionError as error:
        services.fail_evaluation(submission_id, token, f"invalid submission: {error}")
    except SoftTimeLimitExceeded:
        services.fail_evaluation(
            submission_id, token, f"the evaluation exceeded its time limit of {submission.benchmark.effective_time_limit} s")
    except MemoryError:
        services.fail_evaluation(
            submission_id, token,
            f"the evaluation ran out of memory (limit {settings.EVALUATION_MEMORY_LIMIT_MB} MB per evaluation)")
    except evaluation.DataError as error:
        services.fail_evaluation(
            submission_id, token, "the benchmark's data could not be loaded; the organizers have been told",
            f"DataError: {error}")
    except Exception:  # noqa: BLE001 - the participant gets a sentence, organizers the traceback
        log.exception("submission %s: scorer crashed", submission_id)
        services.fail_evaluation(
            submission_id, token, "an internal error stopped the evaluation; the organizers can see the log and re-run it",
            traceback.format_exc())


def _complete(submission: Submission, token: str, result: evaluation.Result, environment: dict | None = None) -> None:
    benchmark_type = submission.benchmark.benchmark_type
    with transaction.atomic():
        if not services.complete_evaluation(submission.pk, token, result, benchmark_type.primary_metric, environment):
            return
        if benchmark_type.background_key:
            services.request_background_details(submission, token)


def run_evaluation(job: Job, lease: Lease) -> None:
    """Runner of the ``score`` job kind."""
    submission = services.start_evaluation(job.subject_id, job)
    if submission is None:
        return
    submission_id, token = submission.pk, job.run_token
    benchmark = submission.benchmark
    benchmark_type = benchmark.benchmark_type
    config = benchmark.effective_config
    with _failures_reported(submission, token), scratch_directory("score") as tmp:
        progress = _progress_writer(submission_id, token, lease)
        progress(0.01, "loading benchmark data")
        if environment_runner.is_pinned(benchmark):  # pinned library versions: scored in that venv's subprocess
            return environment_runner.score(submission, token, Path(tmp), progress, _complete)
        problem, solution = _load(submission, Path(tmp))
        task_ids = benchmark_type.task_ids(problem)
        if settings.EVALUATION_FAN_OUT and len(task_ids) > 1:
            services.start_parts(submission_id, token, task_ids)
            return
        signals.preparing_scoring.send(sender=Submission, benchmark=benchmark, problem=problem, progress=progress)
        progress(0.05, "scoring")
        result = benchmark_type.evaluate(problem, solution, config, progress)
        _complete(submission, token, result)


def run_part(job: Job, lease: Lease) -> None:
    """Runner of the ``score-part`` job kind: score one task of a fanned-out submission; the last task
    to finish combines and completes."""
    token = job.args.get("token", "")
    part = services.SubmissionPart.objects.filter(pk=job.subject_id).first()
    if part is None:
        return  # cancelled or re-run: its parts were replaced
    submission = Submission.objects.filter(pk=part.submission_id, run_token=token, status=Submission.Status.RUNNING).first()
    if submission is None:
        return  # cancelled, re-run or already finished
    submission_id, task_id = submission.pk, part.task_id
    benchmark_type = submission.benchmark.benchmark_type
    config = submission.benchmark.effective_config
    with _failures_reported(submission, token), scratch_directory("part") as tmp:
        problem, solution = _load(submission, Path(tmp))
        result = benchmark_type.evaluate_task(problem, solution, task_id, config,
                                              _progress_writer(submission_id, token, lease, write=False))
        all_results = services.record_part(submission_id, token, task_id, result)
        if all_results is not None:
            _complete(submission, token, benchmark_type.combine(all_results))


def run_background_details(job: Job, lease: Lease) -> None:
    """Runner of the ``details`` job kind: the slower extras of a scored submission (optional)."""
    token = job.args.get("token", "")
    submission = Submission.objects.filter(pk=job.subject_id, run_token=token, status=Submission.Status.SCORED).first()
    if submission is None:
        return
    benchmark_type = submission.benchmark.benchmark_type
    try:
        with scratch_directory("details") as tmp:
            problem, solution = _load(submission, Path(tmp))
            extra = benchmark_type.background_details(problem, solution, submission.benchmark.effective_config)
    except Exception:  # noqa: BLE001 - extras are optional; the score stands
        log.exception("submission %s: background details failed", submission.pk)
        return
    if extra and not lease.lost:
        services.attach_background_details(submission.pk, token, extra)
