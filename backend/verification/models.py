"""Human verification of proposed test items, credit bookkeeping and ratchet rounds.

A *target* is one (pool item, claimed label) pair of a test-set benchmark: the question annotators
answer is "is this label correct for this item?", which does not depend on who proposed it, so every
submission proposing the same pair shares one target and one verdict. Counters change only through
``services`` (row lock + F() expressions).
"""
from django.conf import settings
from django.db import models
from django.db.models import Q


class Round(models.Model):
    """A round of a test-set benchmark (Dynabench style). Round n+1 starts when an organizer promotes
    the verified items into its hidden test set; the model suite is frozen per round."""

    benchmark = models.ForeignKey("challenges.Benchmark", on_delete=models.CASCADE, related_name="verification_rounds")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # The hidden archive holding hidden/ratchet.npz (the frozen extra training sets of the suite).
    ratchet_artifact = models.ForeignKey("challenges.DatasetArtifact", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    suite_members = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True, help_text="Why linked training sets were left out, if any.")

    class Meta:
        ordering = ["benchmark", "number"]
        constraints = [models.UniqueConstraint(fields=["benchmark", "number"], name="one_round_number_per_benchmark")]

    def __str__(self) -> str:
        return f"{self.benchmark} round {self.number}"


class Target(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CORRECT = "correct", "Verified correct"
        INCORRECT = "incorrect", "Judged incorrect"
        FLAGGED = "flagged", "Flagged"

    class ResolvedBy(models.TextChoices):
        NONE = "", "Not resolved"
        CONSENSUS = "consensus", "Consensus"
        ORGANIZER = "organizer", "Organizer"

    benchmark = models.ForeignKey("challenges.Benchmark", on_delete=models.CASCADE, related_name="verification_targets")
    item_id = models.CharField(max_length=200)
    label = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    resolved_by = models.CharField(max_length=10, choices=ResolvedBy.choices, default="", blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    vote_count = models.PositiveIntegerField(default=0)
    correct_count = models.PositiveIntegerField(default=0)
    incorrect_count = models.PositiveIntegerField(default=0)
    flag_count = models.PositiveIntegerField(default=0)
    # A strict majority of the suite mislabels it in at least one scored submission (queue filter).
    fooling = models.BooleanField(default=False)
    promoted_round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="promoted_targets")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["benchmark", "id"]
        constraints = [models.UniqueConstraint(fields=["benchmark", "item_id", "label"], name="one_target_per_pair")]
        indexes = [models.Index(fields=["benchmark", "status", "fooling", "vote_count"])]

    def __str__(self) -> str:
        return f"{self.item_id} as {self.label!r} ({self.status})"


class ProposedItem(models.Model):
    """One line of a test-set submission, with the machine part of its score (from the worker)."""

    submission = models.ForeignKey("submissions.Submission", on_delete=models.CASCADE, related_name="proposed_items")
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="proposals")
    position = models.PositiveIntegerField(default=0)
    model_fooled = models.BooleanField(default=False)
    wrong_votes = models.PositiveIntegerField(default=0)
    suite_size = models.PositiveIntegerField(default=0)
    novelty = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["submission", "position"]
        constraints = [models.UniqueConstraint(fields=["submission", "target"], name="one_proposal_per_target")]


class Verification(models.Model):
    """One annotator's vote on a target, or an organizer's overriding verdict."""

    class Verdict(models.TextChoices):
        CORRECT = "correct", "Correct"
        INCORRECT = "incorrect", "Incorrect"
        FLAG = "flag", "Flag"

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="votes")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verifications")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    corrected_label = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    is_override = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["target", "created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["target", "annotator"], condition=Q(is_override=False),
                                               name="one_vote_per_annotator_and_target")]

    def __str__(self) -> str:
        return f"{self.annotator} says {self.verdict} on {self.target_id}"


class RoundScore(models.Model):
    """A ranked training-set submission re-scored on a round's hidden test set (in the background)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SCORED = "scored", "Scored"
        FAILED = "failed", "Failed"

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="scores")
    submission = models.ForeignKey("submissions.Submission", on_delete=models.CASCADE, related_name="round_scores")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    value = models.FloatField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["round", "-value", "id"]
        constraints = [models.UniqueConstraint(fields=["round", "submission"], name="one_round_score_per_submission")]


def _created_upload_to(item: "CreatedItem", filename: str) -> str:
    # No participant-chosen name reaches the storage; media files have no URL (served by a role-scoped view).
    return f"created-items/{item.benchmark_id}/{filename}"


class CreatedItem(models.Model):
    """An item a participant created on a test-set benchmark's page (model-in-the-loop, Dynabench style):
    its raw form (text, or a PNG/WAV file in the media storage), the features the server computed from
    it, the label the creator claims and what the suite answered when it was created. Its item id
    ``created-<pk>`` is used wherever pool ids are (submissions, targets, rounds)."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        IMAGE = "image", "Picture"
        AUDIO = "audio", "Audio"

    PREFIX = "created-"

    benchmark = models.ForeignKey("challenges.Benchmark", on_delete=models.CASCADE, related_name="created_items")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="created_items")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="created_items")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    text = models.TextField(blank=True)
    raw_file = models.FileField(upload_to=_created_upload_to, blank=True)
    content_type = models.CharField(max_length=40, blank=True)
    features = models.BinaryField()      # float32, little-endian, ``dim`` values
    dim = models.PositiveIntegerField()
    label = models.CharField(max_length=200)
    live_answers = models.JSONField(default=dict, blank=True, help_text="The suite's answers when it was created (shown "
                                    "to the creator; scoring recomputes them on the worker).")
    data_version = models.CharField(max_length=80, blank=True)
    submission = models.ForeignKey("submissions.Submission", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="created_items")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["benchmark", "id"]

    def __str__(self) -> str:
        return f"{self.item_id} ({self.kind}) as {self.label!r}"

    @property
    def item_id(self) -> str:
        return f"{self.PREFIX}{self.pk}"

    @classmethod
    def number_of(cls, item_id: str) -> int | None:
        """The pk an item id names, or None if it is not a created item's id."""
        if not item_id.startswith(cls.PREFIX) or not item_id[len(cls.PREFIX):].isdigit():
            return None
        return int(item_id[len(cls.PREFIX):])
