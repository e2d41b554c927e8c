"""Celery tasks of the closed division (queue ``sandbox``): thin wrappers around the runner."""
import logging

from celery import shared_task
from celery.signals import worker_ready

from backend import sandbox

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


@shared_task
def sweep_sandboxes() -> dict:
    """Beat-scheduled, and run when a worker starts: kill sandbox processes and remove cgroups and
    scratch directories left by runs whose worker died (on the host that runs this)."""
    if not sandbox.sandbox_available():
        return {}
    report = sandbox.sweep()
    if report:
        log.warning("sandbox sweep: %s", report)
    return {"killed_processes": len(report.killed_processes), "removed_cgroups": len(report.removed_cgroups),
            "removed_scratch": len(report.removed_scratch)}


@worker_ready.connect
def _sweep_at_worker_start(**_kwargs) -> None:
    try:
        sweep_sandboxes()
    except Exception:  # noqa: BLE001 - never keep a worker from starting
        log.exception("sandbox sweep at worker start failed")
