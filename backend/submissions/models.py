from django.conf import settings
from django.db import models


class Submission(models.Model):
    """A participant's artifact for one benchmark in one phase, and its evaluation state.

    Status changes only through ``services``; see ``TRANSITIONS`` there.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SCORED = "scored", "Scored"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Division(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    phase = models.ForeignKey("challenges.Phase", on_delete=models.CASCADE, related_name="submissions")
    benchmark = models.ForeignKey("challenges.Benchmark", on_delete=models.CASCADE, related_name="submissions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions")
    division = models.CharField(max_length=8, choices=Division.choices, default=Division.OPEN)
    description = models.TextField(blank=True)
    file = models.FileField(upload_to="submissions/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    is_baseline = models.BooleanField(default=False, help_text="Posted by the platform as a reference row.")
    baseline_name = models.CharField(max_length=100, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    progress_message = models.CharField(max_length=200, blank=True)
    failure_reason = models.TextField(blank=True, help_text="Shown to the participant.")
    log = models.TextField(blank=True, help_text="Internal log (tracebacks); organizers only.")
    details = models.JSONField(default=dict, blank=True)
    # Provenance of the scores: environment name, evaluator version, Python and library versions
    # (evaluation.environments.provenance() of the process that scored it); empty until scored.
    environment = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Identifies the current run; a run that lost its claim (cancelled, re-claimed) cannot write.
    run_token = models.CharField(max_length=32, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The client's Idempotency-Key: a retried upload with the same key returns this submission.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    # The participant chose it to count for the final ranking (only where the phase has a FinalSelection
    # rule); the leaderboard picks an entrant's row among selected submissions first.
    selected = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["phase", "benchmark", "status"]), models.Index(fields=["status", "heartbeat_at"])]
        constraints = [models.UniqueConstraint(fields=["user", "idempotency_key"], name="one_submission_per_idempotency_key")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.benchmark} by {self.user}"

    @property
    def entrant_name(self) -> str:
        if self.is_baseline:
            return f"Baseline: {self.baseline_name}"
        return self.team.name if self.team_id else self.user.username

    @property
    def environment_label(self) -> str:
        """Short name of what produced the scores, e.g. ``dataperf-2023 (scikit-learn 1.2.2)``."""
        env = self.environment or {}
        if not env:
            return ""
        return f"{env.get('environment', '?')} (scikit-learn {env.get('scikit-learn') or '?'})"

    ENVIRONMENT_KEYS = ("environment", "evaluator", "python", "scikit-learn", "numpy", "scipy", "torch")

    @property
    def environment_rows(self) -> list[tuple[str, str]]:
        """The provenance record in a fixed order, for the submission page."""
        env = self.environment or {}
        keys = [k for k in self.ENVIRONMENT_KEYS if k in env] + sorted(set(env) - set(self.ENVIRONMENT_KEYS))
        return [(key, env[key] if env[key] is not None else "not installed") for key in keys]

    @property
    def is_terminal(self) -> bool:
        return self.status in (self.Status.SCORED, self.Status.FAILED, self.Status.CANCELLED)


class Score(models.Model):
    """One metric value of a scored submission; unique per (submission, metric) so a redelivered job
    can never store a score twice."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="scores")
    metric = models.CharField(max_length=64)
    value = models.FloatField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["submission", "metric"], name="one_score_per_metric")]
        indexes = [models.Index(fields=["metric", "value"])]

    def __str__(self) -> str:
        return f"{self.metric}={self.value}"


class SubmissionPart(models.Model):
    """One independently scored task of a submission (benchmark types that split into tasks run
    each task as its own Celery job, possibly on different workers)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="parts")
    task_id = models.CharField(max_length=100)
    result = models.JSONField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["submission", "task_id"], name="one_part_per_task")]
        ordering = ["submission", "task_id"]

    def __str__(self) -> str:
        return f"{self.submission_id}/{self.task_id}"


class FinalSelection(models.Model):
    """A phase's rule that participants choose which of their submissions count (as on Kaggle): up to
    ``max_selected`` per entrant and benchmark. An entrant's leaderboard row is their best *selected*
    submission; an entrant who selected none is ranked by their best one. No rule: no selection (the default).
    It lives here, not on Phase, because selecting is a submissions concept (challenges does not import it)."""

    phase = models.OneToOneField("challenges.Phase", on_delete=models.CASCADE, related_name="final_selection")
    max_selected = models.PositiveIntegerField(default=2, help_text="Submissions an entrant may select per benchmark.")

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(max_selected__gte=1), name="final_selection_at_least_one")]

    def __str__(self) -> str:
        return f"{self.phase}: up to {self.max_selected} selected"
