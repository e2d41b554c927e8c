"""Celery tasks of the verification app: thin wrappers around services. Ingesting a scored test-set
submission and training the suite run as jobs (kinds registered in apps.py, queued by backend.orchestration)."""
import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def score_round(round_id: int) -> dict:
    return services.score_round(round_id)
