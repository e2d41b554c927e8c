"""Celery tasks of the closed division (queue ``sandbox``): thin wrappers around the runner."""
import logging

from celery import shared_task

from . import runner, services

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def verify_code(self, code_run_id: int) -> None:
    try:
        runner.run_verification(code_run_id)
    except services.Busy:
        raise self.retry(countdown=services.STALE_HEARTBEAT_SECONDS, max_retries=2000)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_concealed_tasks(self, code_run_id: int) -> None:
    try:
        runner.run_concealed(code_run_id)
    except services.Busy:
        raise self.retry(countdown=services.STALE_HEARTBEAT_SECONDS, max_retries=2000)


@shared_task
def requeue_stale_code_runs() -> int:
    count = services.requeue_stale_code_runs()
    if count:
        log.warning("re-sent %s stale code run(s)", count)
    return count
