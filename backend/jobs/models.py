"""The lease of one unit of background work: who runs it, whether it is alive, whether its message is out.

One row per (kind, subject): a submission's scoring, one split part, a code run's verification... The
subject's own state machine (Submission.status, CodeRun.status) is what users see; a Job only says
whether the work is queued, running under which token, or finished, and is written only by
``backend.jobs.services``.
"""
from django.db import models


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=40)
    subject_id = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Extra arguments of the kind's runner (e.g. the token of the submission run a part belongs to).
    args = models.JSONField(default=dict, blank=True)
    # Celery options of each publish (time limits).
    options = models.JSONField(default=dict, blank=True)
    # Identifies the current run: only its holder may heartbeat or finish; a new claim changes it.
    run_token = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    queued_at = models.DateTimeField()
    # Set when the broker accepted a message for the current queueing; null = still to publish (outbox).
    published_at = models.DateTimeField(null=True, blank=True)
    # Why the last publish failed (the broker was down); cleared by the next successful publish.
    publish_error = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, help_text="Why the job failed or was given up (internal).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "subject_id"], name="one_job_per_kind_and_subject")]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="jobs_status_heartbeat"),
                   models.Index(fields=["status", "published_at"], name="jobs_status_published")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.subject_id} ({self.status})"
