"""Celery tasks of the job machinery: one task runs every kind of job; the beat runs the sweep."""
import logging

from celery import shared_task

from backend.core import uploads

from . import services, worker

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int) -> None:
    worker.execute(job_id)


@shared_task
def sweep_jobs() -> dict:
    counts = services.sweep()
    if any(counts.values()):
        log.warning("job sweep: %s", counts)
    # The same beat clears upload spool files left by killed web processes (on this host).
    counts["removed_uploads"] = len(uploads.sweep_spool())
    return counts
