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
