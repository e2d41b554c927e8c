"""Celery tasks of the verification app: thin wrappers around services.

When a test-set submission is scored, the submissions runner queues ``ingest_submission`` (after
commit): its items and machine results are recorded and the credits recomputed, so the leaderboard
moves as soon as a submission lands.
"""
import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task
def ingest_submission(submission_id: int) -> bool:
    return services.ingest_submission(submission_id)


@shared_task(acks_late=True)
def score_round(round_id: int) -> dict:
    return services.score_round(round_id)


@shared_task
def warm_suite_predictions(benchmark_id: int) -> bool:
    return services.warm_suite_predictions(benchmark_id)
