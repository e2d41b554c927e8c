"""Derived ranking state: each entrant's ranked row per (phase, benchmark, ranking rule).

Written only by ``leaderboards.services`` (``refresh_entrant`` in the transaction that records a score or
changes a submission's rankability, ``rebuild`` for restores and bulk loads); the Score rows stay the
truth. Both rules (best, latest) are kept, so changing a phase's rule needs no rebuild.
"""
from django.db import models


class EntrantRow(models.Model):
    class Tier(models.IntegerChoices):
        RANKED = 0, "ranked"  # rankable, with a primary score
        UNRANKED = 1, "scored, not rankable"  # e.g. closed division, not reproduced (yet)
        NO_SCORE = 2, "no primary score"
        ABSENT = 3, "no scored submission"  # kept so ?since= deltas can report the removal

    phase = models.ForeignKey("challenges.Phase", on_delete=models.CASCADE, related_name="+")
    benchmark = models.ForeignKey("challenges.Benchmark", on_delete=models.CASCADE, related_name="+")
    rule = models.CharField(max_length=8)  # Phase.RankingRule
    entrant_key = models.CharField(max_length=140)  # "user:<id>", "team:<id>", "baseline:<name>"
    entrant_name = models.CharField(max_length=255)
    submission = models.ForeignKey("submissions.Submission", null=True, on_delete=models.SET_NULL, related_name="+")
    user_id_value = models.BigIntegerField(null=True)
    team_id_value = models.BigIntegerField(null=True)
    is_baseline = models.BooleanField(default=False)
    division = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(null=True)  # the chosen submission's
    primary_value = models.FloatField(null=True)
    # The sort key: the primary value, negated when higher is better, so every board sorts ascending.
    order_key = models.FloatField(null=True)
    # Equal primary values: the type's tie-break metrics (``BenchmarkType.tie_break_metrics``, at most two),
    # stored the same way (negated when higher is better; a missing value sorts last).
    tie_key_1 = models.FloatField(default=0.0)
    tie_key_2 = models.FloatField(default=0.0)
    scores = models.JSONField(default=dict)  # every metric value of the chosen submission
    environment_label = models.CharField(max_length=200, blank=True)
    environment = models.JSONField(default=dict)
    rankable = models.BooleanField(default=True)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.ABSENT)
    # The phase's leaderboard_version when this row last changed (for ?since= deltas).
    changed_version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["phase", "benchmark", "rule", "entrant_key"],
                                               name="one_row_per_entrant_and_rule")]
        indexes = [
            # The board's order: a page is an index range scan.
            models.Index(fields=["phase", "benchmark", "rule", "tier", "order_key", "tie_key_1", "tie_key_2",
                                 "created_at", "submission"],
                         name="entrant_row_board_order"),
            models.Index(fields=["phase", "benchmark", "rule", "changed_version"], name="entrant_row_changed"),
            models.Index(fields=["entrant_key"], name="entrant_row_entrant"),  # renames
        ]

    def __str__(self) -> str:
        return f"{self.entrant_name} on {self.benchmark_id} ({self.rule})"
