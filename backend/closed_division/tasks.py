"""Host housekeeping of the closed division's sandbox (its runs are jobs of backend/jobs): the sweep of
processes, cgroups and scratch directories that runs whose worker died left on this host (scoring jobs'
working directories are scratch directories as well, backend/submissions/runner.py)."""
import logging

from celery import shared_task
from celery.signals import worker_ready

from backend import sandbox

log = logging.getLogger(__name__)


@shared_task
def sweep_sandboxes() -> dict:
    """Beat-scheduled, and run when a worker starts: kill sandbox processes and remove cgroups and
    scratch directories left by runs whose worker died (on the host that runs this). Runs even where no
    sandbox can start: scoring jobs keep their working copies in scratch directories too."""
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
