"""Runs one evaluation on a worker: claim, load the (cached) problem, score, store.

Hidden data is read here and only here; what leaves is the scores and the scorer's aggregate details.
"""
from __future__ import annotations

import logging
import tempfile
import threading
import time
import traceback
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections, connection

import evaluation

from . import services
from .models import Submission

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The run lost its claim (an organizer cancelled it, or another worker took it over)."""


class _Heartbeat(threading.Thread):
    """Keeps ``heartbeat_at`` fresh while a long model fit gives no progress callbacks."""

    def __init__(self, submission_id: int, token: str):
        super().__init__(daemon=True, name=f"heartbeat-{submission_id}")
        self.submission_id, self.token = submission_id, token
        self.stop = threading.Event()
        self.lost_claim = False

    def run(self) -> None:
        try:
            while not self.stop.wait(services.HEARTBEAT_SECONDS):
                if not services.heartbeat(self.submission_id, self.token):
                    self.lost_claim = True
                    return
        finally:
            connection.close()


def _progress_writer(submission_id: int, token: str, beat: _Heartbeat):
    last = {"t": 0.0, "fraction": -1.0}

    def progress(fraction: float, message: str) -> None:
        if beat.lost_claim:
            raise Cancelled()
        now = time.monotonic()
        # Throttle writes: twice a second at most, unless it is a big step.
        if now - last["t"] < 0.5 and fraction - last["fraction"] < 0.1 and fraction < 1.0:
            return
        last.update(t=now, fraction=fraction)
        if not services.record_progress(submission_id, token, fraction, message):
            raise Cancelled()

    return progress


def _local_copy(submission: Submission, directory: Path) -> Path:
    path = directory / f"submission{Path(submission.file.name).suffix}"
    with submission.file.open("rb") as src, path.open("wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            dst.write(chunk)
    return path


def run_evaluation(submission_id: int) -> None:
    """Entry point of the Celery task. Raises services.Busy if a live worker already runs it."""
    close_old_connections()
    claimed = services.claim_for_evaluation(submission_id)
    if claimed is None:
        return
    submission, token = claimed
    benchmark = submission.benchmark
    benchmark_type = benchmark.benchmark_type
    beat = _Heartbeat(submission_id, token)
    beat.start()
    try:
        config = benchmark.effective_config
        progress = _progress_writer(submission_id, token, beat)
        progress(0.01, "loading benchmark data")
        problem = services.load_benchmark_problem(benchmark)
        with tempfile.TemporaryDirectory() as tmp:
            path = _local_copy(submission, Path(tmp))
            solution = benchmark_type.load_submission(problem, path, config)
            progress(0.05, "scoring")
            result = benchmark_type.evaluate(problem, solution, config, progress)
    except Cancelled:
        log.info("submission %s: run stopped, it lost its claim", submission_id)
    except evaluation.SubmissionError as error:
        services.fail_evaluation(submission_id, token, f"invalid submission: {error}")
    except SoftTimeLimitExceeded:
        services.fail_evaluation(
            submission_id, token, f"the evaluation exceeded its time limit of {benchmark.effective_time_limit} s"
        )
    except MemoryError:
        services.fail_evaluation(
            submission_id, token,
            f"the evaluation ran out of memory (limit {settings.EVALUATION_MEMORY_LIMIT_MB} MB per evaluation)",
        )
    except evaluation.DataError as error:
        services.fail_evaluation(
            submission_id, token, "the benchmark's data could not be loaded; the organizers have been told",
            f"DataError: {error}",
        )
    except Exception:  # noqa: BLE001 - the participant gets a sentence, organizers the traceback
        log.exception("submission %s: scorer crashed", submission_id)
        services.fail_evaluation(
            submission_id, token, "an internal error stopped the evaluation; the organizers can see the log and re-run it",
            traceback.format_exc(),
        )
    else:
        services.complete_evaluation(submission_id, token, result, benchmark_type.primary_metric)
    finally:
        beat.stop.set()
        beat.join(timeout=2)
