"""Ranked leaderboard rows, computed in the database.

One row per entrant (team, else user; each baseline is its own entrant), chosen by the phase's
rule (best or latest scored submission); rows with no primary score sort last; ties go to the
earlier submission. Results are cached under the phase's ``leaderboard_version``, which every
score change bumps, so a cached board is never stale.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Case, CharField, F, OuterRef, Subquery, Value, When, Window
from django.db.models.functions import Cast, Concat, RowNumber

from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Benchmark, Phase
from backend.submissions.models import Score, Submission


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    higher_is_better: bool
    spread_key: str | None = None


def columns_for(benchmark: Benchmark) -> list[Column]:
    benchmark_type = benchmark.benchmark_type
    primary = benchmark_type.primary_metric
    ordered = sorted(benchmark_type.metrics_for(benchmark.effective_config), key=lambda m: m.key != primary)
    spread_keys = {m.spread_key for m in ordered if m.spread_key}
    return [Column(m.key, m.label, m.higher_is_better, m.spread_key) for m in ordered if m.key not in spread_keys]


def can_view_leaderboard(user, phase: Phase) -> bool:
    if challenge_selectors.organizes(user, phase.challenge):
        return True
    if not phase.challenge.is_published:
        return False
    if phase.leaderboard_visibility == Phase.Visibility.PUBLIC:
        return True
    if phase.leaderboard_visibility == Phase.Visibility.PARTICIPANTS:
        return user.is_authenticated
    return user.is_authenticated  # hidden: signed-in users see their own rows only


def _metric_value(metric: str):
    return Subquery(Score.objects.filter(submission=OuterRef("pk"), metric=metric).values("value")[:1])


def _ranked_queryset(phase: Phase, benchmark: Benchmark):
    primary = benchmark.benchmark_type.primary_metric
    higher = benchmark.benchmark_type.metric(primary).higher_is_better
    primary_value = F("primary_value")
    score_order = primary_value.desc(nulls_last=True) if higher else primary_value.asc(nulls_last=True)
    entrant = Case(
        # Baselines are entrants of their own, whoever posted them.
        When(is_baseline=True, then=Concat(Value("baseline:"), F("baseline_name"))),
        When(team__isnull=False, then=Concat(Value("team:"), Cast("team_id", CharField()))),
        default=Concat(Value("user:"), Cast("user_id", CharField())),
        output_field=CharField(),
    )
    qs = (
        Submission.objects.filter(phase=phase, benchmark=benchmark, status=Submission.Status.SCORED)
        .annotate(primary_value=_metric_value(primary), entrant=entrant)
    )
    if phase.ranking_rule == Phase.RankingRule.LATEST:
        pick_order = [F("created_at").desc(), F("id").desc()]
    else:
        pick_order = [score_order, F("created_at").asc(), F("id").asc()]
    qs = qs.annotate(pick=Window(RowNumber(), partition_by=[F("entrant")], order_by=pick_order)).filter(pick=1)
    return qs.order_by(score_order, "created_at", "id").select_related("user", "team")


def leaderboard_rows(phase: Phase, benchmark: Benchmark) -> list[dict]:
    """All ranked rows (cached). Callers filter them for the viewer with ``rows_for_viewer``."""
    key = f"leaderboard:{phase.pk}:{benchmark.pk}:{phase.leaderboard_version}:{phase.ranking_rule}"
    rows = cache.get(key)
    if rows is not None:
        return rows
    columns = columns_for(benchmark)
    submissions = list(_ranked_queryset(phase, benchmark))
    scores: dict[int, dict[str, float | None]] = {}
    for score in Score.objects.filter(submission__in=[s.pk for s in submissions]):
        scores.setdefault(score.submission_id, {})[score.metric] = score.value
    rows = []
    rank = 0
    for position, sub in enumerate(submissions, start=1):
        if sub.primary_value is not None:
            rank = position
        values = scores.get(sub.pk, {})
        rows.append({
            "rank": rank if sub.primary_value is not None else None,
            "entrant": sub.entrant_name,
            "entrant_key": sub.entrant,
            "user_id": sub.user_id,
            "team_id": sub.team_id,
            "is_baseline": sub.is_baseline,
            "division": sub.division,
            "submission_id": sub.pk,
            "submitted_at": sub.created_at.isoformat(),
            "score": sub.primary_value,
            "metrics": {c.key: values.get(c.key) for c in columns},
            "spreads": {c.key: values.get(c.spread_key) for c in columns if c.spread_key},
        })
    cache.set(key, rows, timeout=3600)
    return rows


def rows_for_viewer(rows: list[dict], phase: Phase, user) -> list[dict]:
    if challenge_selectors.organizes(user, phase.challenge) or phase.leaderboard_visibility != Phase.Visibility.HIDDEN:
        return rows
    team_ids = set(user.teams.values_list("pk", flat=True)) if user.is_authenticated else set()
    return [r for r in rows if (r["team_id"] is None and r["user_id"] == user.pk) or r["team_id"] in team_ids]


def leaderboard_version(phase: Phase) -> int:
    return Phase.objects.filter(pk=phase.pk).values_list("leaderboard_version", flat=True).first() or 0
