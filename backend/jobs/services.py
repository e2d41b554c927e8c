"""Every write to a job lease: enqueue (an outbox row in the caller's transaction, published after
commit), ensure_queued (enqueue unless already under way), publish, claim, heartbeat, finish, fail,
cancel, and the sweep that recovers lost work.

Guarantees (docs/architecture.md, "Reliability of evaluation"):
- a job whose message never reached the broker (broker down, process killed between commit and
  publish, broker restarted without persistence) is published again by the sweep;
- a running job whose heartbeat stopped (pool process, whole worker or machine died) is queued again,
  at most ``max_attempts`` starts, then given up with a sentence saying so;
- every duplicate message (redelivery, re-publish) finds the job running or finished and is dropped:
  only the current ``run_token`` may write, so work is done and stored once.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import registry
from .models import Job

log = logging.getLogger(__name__)
J = Job.Status
# A publish to a broker that is down gives up after about a second; the sweep publishes later.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.3, "interval_max": 0.5}


def _stamp(now) -> str:
    return f"[{now:%Y-%m-%d %H:%M:%S}]"


def enqueue(kind: str, subject_id: int, *, args: dict | None = None, options: dict | None = None,
            max_attempts: int | None = None) -> Job:
    """Queue (or queue again) the job of ``subject_id``, inside the caller's transaction: the row is the
    outbox, the message goes out after commit. A run of the same job still going loses its claim."""
    registry.get(kind)  # an unknown kind is a programming error: fail before storing anything
    now = timezone.now()
    job, _ = Job.objects.update_or_create(kind=kind, subject_id=subject_id, defaults=dict(
        status=J.QUEUED, args=args or {}, options=options or {}, run_token="", attempts=0,
        max_attempts=max_attempts or settings.JOBS_MAX_ATTEMPTS, queued_at=now, published_at=None, publish_error="",
        started_at=None, heartbeat_at=None, finished_at=None, message=""))
    job_id = job.pk
    transaction.on_commit(lambda: publish(job_id))
    return job


def ensure_queued(kind: str, subject_id: int, *, unless_finished_within: float = 0) -> bool:
    """Queue the job unless it is already queued or running (a caller that only needs the work done,
    e.g. a web request waiting for a cache to fill: re-queueing a running job would restart it), or it
    ended less than ``unless_finished_within`` seconds ago. True when this call queued it. Called outside
    a transaction, the message is published before it returns (a caller may then wait for the work)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(kind=kind, subject_id=subject_id).first()
        if job is not None and job.status in (J.QUEUED, J.RUNNING):
            return False
        if (job is not None and job.finished_at is not None and unless_finished_within
                and (timezone.now() - job.finished_at).total_seconds() < unless_finished_within):
            return False
        enqueue(kind, subject_id)
    return True


def publish(job_id: int) -> bool:
    """Send the job's message if it is still queued. False when the broker refused (the row stays
    unpublished and the sweep tries again) or there is nothing to send."""
    from . import tasks

    job = Job.objects.filter(pk=job_id, status=J.QUEUED).first()
    if job is None:
        return False
    kind = registry.get(job.kind)
    try:
        tasks.run_job.apply_async((job.pk,), queue=kind.queue, retry=True, retry_policy=PUBLISH_RETRY_POLICY,
                                  **job.options)
    except Exception as error:  # noqa: BLE001 - any broker failure: the outbox row is the record
        log.warning("job %s (%s #%s): broker did not take the message, the sweep will publish it: %s",
                    job.pk, job.kind, job.subject_id, error)
        Job.objects.filter(pk=job.pk, status=J.QUEUED, published_at__isnull=True).update(
            publish_error=f"{type(error).__name__}: {error}"[:300])
        return False
    Job.objects.filter(pk=job.pk, status=J.QUEUED).update(published_at=timezone.now(), publish_error="")
    return True


def publish_failed(kind: str, subject_id: int) -> bool:
    """True when the job is waiting for the broker: its publish was refused and no later one succeeded."""
    return Job.objects.filter(kind=kind, subject_id=subject_id, status=J.QUEUED, published_at__isnull=True).exclude(
        publish_error="").exists()


def claim(job_id: int) -> Job | None:
    """Start the job under a fresh run token. None when a message has nothing to do: the job is finished,
    cancelled, unknown, or running with a live heartbeat (a duplicate delivery: the sweep queues the
    job again if that run dies). A running job whose heartbeat went stale is taken over."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (J.QUEUED, J.RUNNING):
            return None
        now = timezone.now()
        if job.status == J.RUNNING:
            if not _is_stale(job, now):
                return None
            if job.attempts >= job.max_attempts:
                _give_up(job, _died_reason(job), now)
                return None
            job.message += f"{_stamp(now)} the previous run stopped responding; taken over\n"
        job.status = J.RUNNING
        job.run_token = uuid.uuid4().hex
        job.attempts += 1
        job.started_at = job.heartbeat_at = now
        job.save()
        return job


def heartbeat(job_id: int, token: str) -> bool:
    """Record that the run is alive; False when it lost its claim (cancelled, queued again, taken over)."""
    return bool(Job.objects.filter(pk=job_id, run_token=token, status=J.RUNNING).update(heartbeat_at=timezone.now()))


def finish(job_id: int, token: str) -> bool:
    return bool(Job.objects.filter(pk=job_id, run_token=token, status=J.RUNNING).update(
        status=J.DONE, finished_at=timezone.now()))


def fail(job_id: int, token: str, reason: str, log_text: str = "") -> bool:
    """The run stopped on an error its runner did not handle: give the job up (its kind is told).
    ``reason`` may be shown to participants; ``log_text`` (a traceback) stays in the job's log."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id, run_token=token, status=J.RUNNING).first()
        if job is None:
            return False
        if log_text:
            job.message += log_text if log_text.endswith("\n") else log_text + "\n"
        _give_up(job, reason, timezone.now())
    return True


def cancel(kind: str, subject_ids) -> int:
    """Stop the jobs of these subjects: queued messages are dropped, a running one loses its claim."""
    return Job.objects.filter(kind=kind, subject_id__in=list(subject_ids), status__in=(J.QUEUED, J.RUNNING)).update(
        status=J.CANCELLED, run_token="", finished_at=timezone.now())


# --- recovery --------------------------------------------------------------------------------------

def _is_stale(job: Job, now) -> bool:
    return job.heartbeat_at is None or now - job.heartbeat_at > timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS)


def _died_reason(job: Job) -> str:
    times = "once" if job.attempts == 1 else f"{job.attempts} times"
    return f"the worker running it stopped {times} (it was killed or its machine went away)"


def _over_time(job: Job, now) -> float | None:
    """The job's time limit when it has been running longer than the limit plus a grace period."""
    limit = job.options.get("time_limit")
    if limit and job.started_at and now - job.started_at > timedelta(seconds=limit + settings.JOBS_OVERTIME_GRACE_SECONDS):
        return limit
    return None


def _killed_at_time_limit(job: Job) -> bool:
    limit = job.options.get("time_limit")
    if not limit or not job.started_at or not job.heartbeat_at:
        return False
    alive_for = (job.heartbeat_at - job.started_at).total_seconds()
    return alive_for >= limit - 2 * settings.JOBS_HEARTBEAT_SECONDS


def _give_up(job: Job, reason: str, now) -> None:
    """Fail a locked job and tell its kind (in the same transaction), which fails the subject."""
    job.status = J.FAILED
    job.run_token = ""
    job.finished_at = now
    job.message += f"{_stamp(now)} given up: {reason}\n"
    job.save()
    registry.get(job.kind).gave_up(job, reason)


def _recover(job_id: int, now) -> str:
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id, status=J.RUNNING).first()
        if job is None:
            return ""
        limit = _over_time(job, now)
        if limit is not None:
            _give_up(job, f"it ran longer than its time limit of {limit:.0f} s", now)
            return "gave_up"
        if not _is_stale(job, now):
            return ""
        if _killed_at_time_limit(job):
            # Celery's hard limit killed the run: running it again would only hit the limit again.
            _give_up(job, f"it ran longer than its time limit of {job.options['time_limit']:.0f} s", now)
            return "gave_up"
        if job.attempts >= job.max_attempts:
            _give_up(job, _died_reason(job), now)
            return "gave_up"
        job.status = J.QUEUED
        job.run_token = ""
        job.queued_at = now
        job.published_at = None
        job.message += f"{_stamp(now)} the run stopped responding (attempt {job.attempts}); queued again\n"
        job.save()
        transaction.on_commit(lambda: publish(job_id))
    return "requeued"


def broker_queue_depth(queue: str) -> int | None:
    """Messages waiting in the broker's ``queue`` (0 when it does not exist); None when unknown."""
    from celery import current_app
    from kombu.exceptions import ChannelError

    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            try:
                return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:  # no such queue: a broker restarted without persistence
                return 0
    except Exception as error:  # noqa: BLE001 - unknown depth: republish to be safe
        log.info("job sweep: depth of queue %s unknown: %s", queue, error)
        return None


def _lost_messages(unclaimed_before) -> list[int]:
    """Queued jobs published before ``unclaimed_before`` and still unclaimed, in the queues whose broker
    depth is below their count of queued, published jobs (the broker lost messages); a queue that
    holds a message for each of them is only busy."""
    candidates = list(Job.objects.filter(status=J.QUEUED, published_at__lt=unclaimed_before)
                      .order_by("queued_at").values_list("pk", "kind"))
    by_queue: dict[str, list[int]] = {}
    for job_id, kind in candidates:
        by_queue.setdefault(registry.get(kind).queue, []).append(job_id)
    lost: list[int] = []
    for queue, job_ids in by_queue.items():
        kinds = [name for name in registry.names() if registry.get(name).queue == queue]
        waiting = Job.objects.filter(status=J.QUEUED, published_at__isnull=False, kind__in=kinds).count()
        depth = broker_queue_depth(queue)
        if depth is None or depth < waiting:
            lost.extend(job_ids)
    return lost


def sweep(now=None) -> dict[str, int]:
    """Beat-scheduled (JOBS_SWEEP_INTERVAL_SECONDS). Queues again running jobs whose heartbeat went
    stale, gives up those out of attempts or far over their time limit, and publishes queued jobs
    whose message is missing: never published (broker down, process killed after commit), or
    published but unclaimed for JOBS_REPUBLISH_AFTER_SECONDS while their broker queue holds fewer
    messages than it should (the broker lost them). Duplicates are harmless: a message for a running
    or finished job is dropped at claim."""
    now = now or timezone.now()
    counts = {"requeued": 0, "gave_up": 0, "published": 0}
    for job_id in Job.objects.filter(status=J.RUNNING).values_list("pk", flat=True):
        outcome = _recover(job_id, now)
        if outcome:
            counts[outcome] += 1
    unpublished_before = now - timedelta(seconds=settings.JOBS_PUBLISH_GRACE_SECONDS)
    unclaimed_before = now - timedelta(seconds=settings.JOBS_REPUBLISH_AFTER_SECONDS)
    unpublished = Job.objects.filter(status=J.QUEUED, published_at__isnull=True, queued_at__lt=unpublished_before)
    for job_id in [*unpublished.order_by("queued_at").values_list("pk", flat=True), *_lost_messages(unclaimed_before)]:
        if publish(job_id):
            counts["published"] += 1
    return counts
