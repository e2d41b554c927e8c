"""The worker side of a job: claim it, keep its lease alive with a heartbeat thread while the kind's
runner works, finish it. Runners report their own outcome on their subject; this module only keeps
the lease."""
from __future__ import annotations

import logging
import threading
import traceback

from django.conf import settings
from django.db import close_old_connections, connection

from . import registry, services
from .models import Job

log = logging.getLogger(__name__)
INTERNAL_ERROR = "an internal error stopped the run; the organizers can see the log and re-run it"


class Lease(threading.Thread):
    """Refreshes the job's heartbeat while a long computation gives no sign of life; ``lost`` turns
    True when the run lost its claim (cancelled, queued again, taken over): the runner should stop."""

    def __init__(self, job: Job):
        super().__init__(daemon=True, name=f"lease-{job.kind}-{job.subject_id}")
        self.job_id, self.token = job.pk, job.run_token
        self._stop_event = threading.Event()
        self.lost = False

    def run(self) -> None:
        try:
            while not self._stop_event.wait(settings.JOBS_HEARTBEAT_SECONDS):
                if not services.heartbeat(self.job_id, self.token):
                    self.lost = True
                    return
        finally:
            connection.close()

    def __enter__(self) -> "Lease":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_event.set()
        self.join(timeout=2)


def execute(job_id: int) -> None:
    """Entry point of the ``run_job`` task."""
    close_old_connections()
    job = services.claim(job_id)
    if job is None:
        return
    kind = registry.get(job.kind)
    with Lease(job) as lease:
        try:
            kind.run(job, lease)
        except Exception:  # noqa: BLE001 - runners report expected failures; this is the last resort
            log.exception("job %s (%s #%s) crashed", job.pk, job.kind, job.subject_id)
            services.fail(job.pk, job.run_token, INTERNAL_ERROR, traceback.format_exc())
            return
    services.finish(job.pk, job.run_token)
