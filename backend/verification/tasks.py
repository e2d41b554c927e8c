"""Celery tasks of the verification app: thin wrappers around services.

After the worker finishes ``evaluate_submission`` for a test-set submission, its items and machine
results are ingested and the credits recomputed right there (``task_postrun``), so the leaderboard
moves as soon as a submission lands. Nothing else in the submissions app needs to know.
"""
import logging

from celery import shared_task
from celery.signals import task_postrun

from . import services

log = logging.getLogger(__name__)
# The tasks that may finish a submission's evaluation (the whole run, or its last fanned-out part).
EVALUATE_TASKS = {"backend.submissions.tasks.evaluate_submission", "backend.submissions.tasks.evaluate_submission_part"}


@shared_task
def ingest_submission(submission_id: int) -> bool:
    return services.ingest_submission(submission_id)


@shared_task(acks_late=True)
def score_round(round_id: int) -> dict:
    return services.score_round(round_id)


@task_postrun.connect
def _ingest_after_evaluation(sender=None, args=None, state=None, **_kwargs) -> None:
    if getattr(sender, "name", None) not in EVALUATE_TASKS or state != "SUCCESS" or not args:
        return
    try:
        services.ingest_submission(int(args[0]))
    except Exception:  # noqa: BLE001 - never break the worker; ingest_missing catches up later
        log.exception("test-set ingestion of submission %s failed", args[0])
