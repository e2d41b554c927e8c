from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

import evaluation
from evaluation import environments as evaluation_environments


def environment_choices() -> list[tuple[str, str]]:
    """A callable, so declaring another environment needs no migration."""
    return [(env.name, f"{env.name}: {env.title}") for env in evaluation_environments.ENVIRONMENTS.values()]


class Challenge(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=500, blank=True)
    rules = models.TextField(blank=True, help_text="Shown to participants; plain text, blank lines separate paragraphs.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    organizers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="organized_challenges", blank=True)
    # Who verifies this challenge's test-set items (besides its organizers). Per challenge: an annotator
    # of one challenge sees nothing of another's queue.
    annotators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="annotated_challenges", blank=True,
                                        help_text="Users who verify this challenge's test-set items.")
    # Baselines' details are public wherever their board is visible and not hidden; participants' only
    # when the organizer allows it here.
    public_submission_details = models.BooleanField(
        default=False, help_text="Anyone who may see a (non-hidden) leaderboard may open participants' scored "
                                 "submissions from it: scores, environment and curves, never the file, log or code.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Phase(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public (anyone, also signed-out visitors)"
        PARTICIPANTS = "participants", "Signed-in users"
        HIDDEN = "hidden", "Hidden (organizers; participants see only their own rows)"

    class RankingRule(models.TextChoices):
        BEST = "best", "Best submission per entrant"
        LATEST = "latest", "Latest scored submission per entrant"

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    max_submissions_per_day = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: no daily limit.")
    max_submissions_total = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: no total limit.")
    max_upload_mb = models.PositiveIntegerField(default=20)
    leaderboard_visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC)
    ranking_rule = models.CharField(max_length=8, choices=RankingRule.choices, default=RankingRule.BEST)
    open_division = models.BooleanField(default=True)
    closed_division = models.BooleanField(default=False)
    # Bumped whenever a score in this phase lands or disappears; keys the leaderboard cache and
    # tells open pages that they should refresh.
    leaderboard_version = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["challenge", "order", "starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=models.F("starts_at")),
                name="phase_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.challenge.slug}: {self.name}"

    def is_open(self, at=None) -> bool:
        at = at or timezone.now()
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)


class Benchmark(models.Model):
    """One cell of the benchmark matrix inside a challenge: a benchmark type with its data."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="benchmarks")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    task = models.CharField(max_length=100, blank=True, help_text="ML task, e.g. keyword spotting.")
    type_slug = models.CharField(
        max_length=64, help_text="Benchmark type from the evaluation library, e.g. speech-selection."
    )
    config = models.JSONField(default=dict, blank=True, help_text="Overrides of the type's default config.")
    order = models.PositiveIntegerField(default=0)
    weight = models.FloatField(default=1.0, help_text="Default weight in the challenge's combined leaderboard.")
    time_limit_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Which pinned library set scores this benchmark (evaluation/environments.py); other than
    # "current", workers score in that environment's virtual environment, in a subprocess.
    environment = models.CharField(
        max_length=64, default=evaluation_environments.CURRENT,
        choices=environment_choices,
        help_text="Evaluation environment (library versions) scores are computed in. After changing it, use the "
                  "action 'Re-score scored submissions' so the leaderboard is not mixed.")
    # Public-safe facts about the data (sizes, noisy vs clean accuracy), computed when data is attached.
    data_summary = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["challenge", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["challenge", "slug"], name="benchmark_slug_per_challenge")]

    def __str__(self) -> str:
        return f"{self.challenge.slug}/{self.slug}"

    @property
    def benchmark_type(self) -> evaluation.BenchmarkType:
        return evaluation.get(self.type_slug)

    def environment_problem(self) -> str | None:
        """Why this benchmark's config cannot be scored in its environment (a library it needs is not
        there, e.g. torch in dataperf-2023), or None."""
        return evaluation_environments.incompatibility(self.environment, self.benchmark_type, self.effective_config)

    def clean(self):
        # The admin form: refuse a pin every submission would fail in, with the reason, at once.
        # Errors are the form's own (not a field's): the challenge page's inline has neither field.
        super().clean()
        if self.type_slug not in {t.slug for t in evaluation.all_types()}:
            return  # the type field reports it
        if not isinstance(self.config, dict):
            raise ValidationError('Config: a JSON object of overrides of the type\'s defaults, e.g. {"model": "knn"}.')
        try:
            self.effective_config
        except evaluation.EvaluationError as error:
            raise ValidationError(f"Config: {error}.") from None
        problem = self.environment_problem()
        if problem:
            raise ValidationError(f"Environment: {problem}.")

    @property
    def effective_config(self) -> dict:
        return self.benchmark_type.config(self.config)

    @property
    def effective_time_limit(self) -> int:
        return self.time_limit_seconds or settings.EVALUATION_TIME_LIMIT_SECONDS


def artifact_upload_to(instance: "DatasetArtifact", filename: str) -> str:
    return f"datasets/{instance.benchmark_id}/{instance.visibility}/{filename}"


class DatasetArtifact(models.Model):
    """A zip of a benchmark's data files. Public ones can be downloaded; hidden ones never leave the server."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        HIDDEN = "hidden", "Hidden"

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="artifacts")
    visibility = models.CharField(max_length=8, choices=Visibility.choices)
    file = models.FileField(upload_to=artifact_upload_to)
    sha256 = models.CharField(max_length=64, editable=False)
    size_bytes = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["benchmark", "visibility", "id"]

    def __str__(self) -> str:
        return f"{self.benchmark} ({self.visibility})"
