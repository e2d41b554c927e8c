"""Closed division (DataPerf paper §4): the code behind a submission, its runs in the sandbox, and
the concealed tasks an algorithm is tested on (§3.1).

Status changes only through ``services``.
"""
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from backend.sandbox import Limits

MiB = 2**20
# Bytes of stdout and of stderr kept per run (first and last half; the sandbox marks the cut).
LOG_BYTES = 64 * 1024


class SandboxSettings(models.Model):
    """Per phase: the resource limits of every sandbox run and whether concealed scores are shown.

    Which divisions are open is set on the phase itself (``open_division`` / ``closed_division``).
    A phase without a row uses the defaults below.
    """

    phase = models.OneToOneField("challenges.Phase", on_delete=models.CASCADE, related_name="sandbox_settings")
    wall_seconds = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(1), MaxValueValidator(24 * 3600)],
        help_text="Wall-clock limit of one run of the participant's program (also its CPU-time limit).")
    memory_mb = models.PositiveIntegerField(
        default=4096, validators=[MinValueValidator(64)], help_text="Address space per process, in MiB.")
    max_processes = models.PositiveIntegerField(
        default=64, validators=[MinValueValidator(1), MaxValueValidator(4096)],
        help_text="Processes and threads the program may run at once.")
    output_mb = models.PositiveIntegerField(
        default=64, validators=[MinValueValidator(1)], help_text="Total size of what the program may write to /output.")
    concealed_scores_visible = models.BooleanField(
        default=False, help_text="Show the algorithms' scores on the concealed tasks to participants and in a "
                                 "leaderboard column. Organizers always see them.")

    class Meta:
        verbose_name = "sandbox settings"
        verbose_name_plural = "sandbox settings"

    def __str__(self) -> str:
        return f"sandbox settings of {self.phase}"

    @classmethod
    def for_phase(cls, phase) -> "SandboxSettings":
        """The phase's settings, or the defaults (unsaved) when the organizer set none."""
        return cls.objects.filter(phase=phase).first() or cls(phase=phase)

    def limits(self) -> Limits:
        return Limits(
            wall_seconds=self.wall_seconds, cpu_seconds=self.wall_seconds, memory_bytes=self.memory_mb * MiB,
            max_processes=self.max_processes, output_bytes=self.output_mb * MiB, log_bytes=LOG_BYTES,
        )


def concealed_upload_to(instance: "ConcealedTask", filename: str) -> str:
    return f"concealed/{instance.benchmark_id}/{filename}"


class ConcealedTask(models.Model):
    """A task participants never see (e.g. new target words, possibly another language): data in the
    benchmark type's official layout, split like a benchmark's data into the part an algorithm may
    use (the allowed pool, given to the sandbox) and the hidden part (scored outside the sandbox).

    Neither archive is a ``DatasetArtifact``, so no download view can reach them.
    """

    benchmark = models.ForeignKey("challenges.Benchmark", on_delete=models.CASCADE, related_name="concealed_tasks")
    name = models.CharField(max_length=100, help_text="Organizers only; participants see 'concealed task N'.")
    order = models.PositiveIntegerField(default=0)
    config = models.JSONField(default=dict, blank=True,
                              help_text="Overrides of the benchmark's config for this task (e.g. other concepts).")
    public_archive = models.FileField(upload_to=concealed_upload_to, editable=False)
    hidden_archive = models.FileField(upload_to=concealed_upload_to, blank=True, editable=False)
    public_sha256 = models.CharField(max_length=64, editable=False)
    hidden_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    size_bytes = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["benchmark", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["benchmark", "name"], name="concealed_task_name_per_benchmark")]

    def __str__(self) -> str:
        return f"{self.benchmark} / concealed: {self.name}"

    @property
    def effective_config(self) -> dict:
        return self.benchmark.benchmark_type.config({**self.benchmark.config, **self.config})


class CodeRun(models.Model):
    """The code of a closed-division submission and what happened when the platform ran it:
    first on the benchmark's public inputs (does it reproduce the submitted file?), then, when it
    did, on each concealed task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the sandbox"
        RUNNING = "running", "Running"
        REPRODUCED = "reproduced", "Reproduced"
        NOT_REPRODUCED = "not_reproduced", "Not reproduced"
        FAILED = "failed", "Failed (platform error)"

    class ConcealedStatus(models.TextChoices):
        NONE = "", "Not run"
        PENDING = "pending", "Waiting for the sandbox"
        RUNNING = "running", "Running"
        SCORED = "scored", "Scored"
        FAILED = "failed", "Failed"

    submission = models.OneToOneField("submissions.Submission", on_delete=models.CASCADE, related_name="code_run")
    code = models.FileField(upload_to="code/%Y/%m/")
    code_name = models.CharField(max_length=255)
    code_size = models.PositiveBigIntegerField(default=0)
    code_sha256 = models.CharField(max_length=64)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    message = models.TextField(blank=True, help_text="Shown to the participant: the first difference, or why the run failed.")
    log = models.TextField(blank=True, help_text="Internal log (platform errors, tracebacks); organizers only.")
    stdout = models.TextField(blank=True)
    stderr = models.TextField(blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    peak_memory_bytes = models.PositiveBigIntegerField(null=True, blank=True)

    concealed_status = models.CharField(max_length=16, choices=ConcealedStatus.choices, blank=True, default="")
    concealed_message = models.TextField(blank=True, help_text="Shown to the participant when concealed scores are visible.")
    concealed_score = models.FloatField(null=True, blank=True, help_text="Mean primary metric over the concealed tasks.")
    concealed_metrics = models.JSONField(default=dict, blank=True, help_text="Mean of each metric over the concealed tasks.")

    attempts = models.PositiveIntegerField(default=0)
    # Identifies the current run; a run that lost its claim (re-verification, take-over) cannot write.
    run_token = models.CharField(max_length=32, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    concealed_finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"code of submission #{self.submission_id} ({self.status})"

    @property
    def is_busy(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING) or self.concealed_status in (
            self.ConcealedStatus.PENDING, self.ConcealedStatus.RUNNING)


class ConcealedRun(models.Model):
    """One run of a submission's code on one concealed task, scored outside the sandbox.

    Organizers only: the program's output on a concealed task could reveal the task (its words,
    its pool), so participants see just the aggregate on ``CodeRun``."""

    class Status(models.TextChoices):
        SCORED = "scored", "Scored"
        PROGRAM_FAILED = "program_failed", "The program failed"
        INVALID_OUTPUT = "invalid_output", "The output is not a valid submission"

    code_run = models.ForeignKey(CodeRun, on_delete=models.CASCADE, related_name="concealed_runs")
    task = models.ForeignKey(ConcealedTask, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices)
    message = models.TextField(blank=True)
    scores = models.JSONField(default=dict, blank=True)
    stdout = models.TextField(blank=True)
    stderr = models.TextField(blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    peak_memory_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code_run", "task__order", "task_id"]
        constraints = [models.UniqueConstraint(fields=["code_run", "task"], name="one_concealed_run_per_task")]

    def __str__(self) -> str:
        return f"{self.task.name}: {self.status}"
