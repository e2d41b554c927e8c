"""Ranked leaderboard rows, computed in the database.

One row per entrant (team, else user; each baseline is its own entrant), chosen by the phase's
rule (best or latest scored submission); rows with no primary score sort last; ties go to the
earlier submission. Results are cached under the phase's ``leaderboard_version``, which every
score change bumps, so a cached board is never stale.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import (BooleanField, Case, CharField, ExpressionWrapper, F, OuterRef, Q, Subquery, Value, When,
                              Window)
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
    integer: bool = False  # a count: pages show it as a whole number


def columns_for(benchmark: Benchmark, phase: Phase | None = None) -> list[Column]:
    benchmark_type = benchmark.benchmark_type
    primary = benchmark_type.primary_metric
    ordered = sorted(benchmark_type.metrics_for(benchmark.effective_config), key=lambda m: m.key != primary)
    spread_keys = {m.spread_key for m in ordered if m.spread_key}
    return [Column(m.key, m.label, m.higher_is_better, m.spread_key, m.integer) for m in ordered if m.key not in spread_keys] \
        + _extension_columns(benchmark, phase)


class BoardExtension:
    """What an app built on submissions adds to a benchmark's board: columns, which submissions may be
    ranked, and a last pass over the rows. ``backend.orchestration`` registers them, so this app never
    imports the apps that extend it."""

    def columns(self, benchmark: Benchmark, phase: Phase | None) -> list[Column]:
        return []

    def rankable(self) -> Q | None:
        """A condition on Submission: an entrant's row is picked among these first."""
        return None

    def apply(self, rows: list[dict]) -> list[dict]:
        return rows


_extensions: list[BoardExtension] = []


def register_extension(extension: BoardExtension) -> None:
    if not any(type(e) is type(extension) for e in _extensions):
        _extensions.append(extension)


class FinalSelectionBoard(BoardExtension):
    """Where a phase lets participants choose which submissions count (``submissions.FinalSelection``),
    an entrant's row is picked among their selected submissions first; one who selected none is ranked
    by their best (or latest) submission, as Kaggle does when nothing is selected."""

    def rankable(self) -> Q:
        return Q(selected=True) | Q(phase__final_selection__isnull=True)


register_extension(FinalSelectionBoard())


def _extension_columns(benchmark: Benchmark, phase: Phase | None) -> list[Column]:
    return [column for extension in _extensions for column in extension.columns(benchmark, phase)]


def _rankable():
    conditions = [c for c in (e.rankable() for e in _extensions) if c is not None]
    if not conditions:
        return Value(True, output_field=BooleanField())
    combined = conditions[0]
    for condition in conditions[1:]:
        combined &= condition
    return ExpressionWrapper(combined, output_field=BooleanField())


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
    score_order = [primary_value.desc(nulls_last=True) if higher else primary_value.asc(nulls_last=True)]
    # Equal primary scores: the type's tie-break metrics decide (each in its direction), then the earlier submission.
    tie_breaks = {}
    for position, key in enumerate(benchmark.benchmark_type.tie_break_metrics):
        alias = f"tie_break_{position}"
        tie_breaks[alias] = _metric_value(key)
        value = F(alias)
        score_order.append(value.desc(nulls_last=True) if benchmark.benchmark_type.metric(key).higher_is_better
                           else value.asc(nulls_last=True))
    entrant = Case(
        # Baselines are entrants of their own, whoever posted them.
        When(is_baseline=True, then=Concat(Value("baseline:"), F("baseline_name"))),
        When(team__isnull=False, then=Concat(Value("team:"), Cast("team_id", CharField()))),
        default=Concat(Value("user:"), Cast("user_id", CharField())),
        output_field=CharField(),
    )
    qs = (
        Submission.objects.filter(phase=phase, benchmark=benchmark, status=Submission.Status.SCORED)
        .annotate(primary_value=_metric_value(primary), entrant=entrant, **tie_breaks)
    )
    if phase.ranking_rule == Phase.RankingRule.LATEST:
        pick_order = [F("created_at").desc(), F("id").desc()]
    else:
        pick_order = [*score_order, F("created_at").asc(), F("id").asc()]
    qs = qs.annotate(rankable=_rankable())
    pick_order = [F("rankable").desc(), *pick_order]
    qs = qs.annotate(pick=Window(RowNumber(), partition_by=[F("entrant")], order_by=pick_order)).filter(pick=1)
    return qs.order_by(*score_order, "created_at", "id").select_related("user", "team")


def leaderboard_rows(phase: Phase, benchmark: Benchmark) -> list[dict]:
    """All ranked rows (cached). Callers filter them for the viewer with ``rows_for_viewer``."""
    key = f"leaderboard:{phase.pk}:{benchmark.pk}:{phase.leaderboard_version}:{phase.ranking_rule}"
    rows = cache.get(key)
    if rows is not None:
        return rows
    columns = columns_for(benchmark, phase)
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
            # Which environment (library versions) produced the scores; boards may mix them until re-scored.
            "environment": sub.environment_label,
            "environment_versions": sub.environment,
        })
    for extension in _extensions:
        rows = extension.apply(rows)
    cache.set(key, rows, timeout=3600)
    return rows


def is_hidden_for(user, phase: Phase) -> bool:
    """True when the viewer may see only their own rows, and neither ranks nor how many entrants there are."""
    return (phase.leaderboard_visibility == Phase.Visibility.HIDDEN
            and not challenge_selectors.organizes(user, phase.challenge))


def rows_for_viewer(rows: list[dict], phase: Phase, user) -> list[dict]:
    """The rows the viewer may see. On a hidden board: their own (and their teams') rows, without a
    rank: a rank would tell how many entrants are ahead."""
    if not is_hidden_for(user, phase):
        return rows
    team_ids = set(user.teams.values_list("pk", flat=True)) if user.is_authenticated else set()
    return [{**r, "rank": None} for r in rows
            if (r["team_id"] is None and r["user_id"] == user.pk) or r["team_id"] in team_ids]


def version_for_viewer(rows: list[dict], phase: Phase, user, version: int) -> int | str:
    """The version live pages poll with. The phase's counter grows with every score in the phase, so
    on a hidden board the viewer gets a digest of their own rows instead: it changes with them only."""
    if not is_hidden_for(user, phase):
        return version
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()[:16]


def standings(submissions, user) -> dict[int, dict]:
    """Where each scored submission stands, as its owner may see it, by submission id:
    ``{"hidden": True, "rank": None}`` when the board is hidden from the viewer (or not visible),
    else ``{"hidden": False, "rank": n or None}`` (None: not the row that ranks its entrant)."""
    result: dict[int, dict] = {}
    boards: dict[tuple[int, int], dict[int, int | None]] = {}
    ranks_shown: dict[int, bool] = {}  # per phase: one permission check, not one per submission
    for submission in submissions:
        if submission.status != Submission.Status.SCORED:
            continue
        phase = submission.phase
        if phase.pk not in ranks_shown:
            ranks_shown[phase.pk] = can_view_leaderboard(user, phase) and not is_hidden_for(user, phase)
        if not ranks_shown[phase.pk]:
            result[submission.pk] = {"hidden": True, "rank": None}
            continue
        key = (phase.pk, submission.benchmark_id)
        if key not in boards:
            boards[key] = {row["submission_id"]: row["rank"] for row in leaderboard_rows(phase, submission.benchmark)}
        result[submission.pk] = {"hidden": False, "rank": boards[key].get(submission.pk)}
    return result


def leaderboard_version(phase: Phase) -> int:
    return Phase.objects.filter(pk=phase.pk).values_list("leaderboard_version", flat=True).first() or 0


# --- the challenge leaderboard: benchmarks combined ------------------------------------------------

def normalized_scores(values: dict[str, float | None], higher_is_better: bool) -> dict[str, float]:
    """Min-max normalise one benchmark's scores to [0, 1], 1 = best; entrants without a score get 0.
    Metrics differ in scale and direction, so only normalised scores can be weighted together."""
    present = {k: (v if higher_is_better else -v) for k, v in values.items() if v is not None}
    if not present:
        return {k: 0.0 for k in values}
    low, high = min(present.values()), max(present.values())
    return {k: (1.0 if high == low else (present[k] - low) / (high - low)) if k in present else 0.0 for k in values}


def weighted_aggregate(normalized: dict[str, dict[str, float]], weights: dict[str, float]) -> dict[str, float]:
    """Weighted mean over benchmarks of each entrant's normalised score (the page recomputes this
    in JavaScript when the sliders move; keep the two in step)."""
    total = sum(max(w, 0.0) for w in weights.values())
    entrants = {e for per_benchmark in normalized.values() for e in per_benchmark}
    if total == 0:
        return {e: 0.0 for e in entrants}
    return {e: sum(max(weights[b], 0.0) * normalized[b].get(e, 0.0) for b in normalized) / total for e in entrants}


def challenge_leaderboard(phase: Phase, user, weights: dict[str, float] | None = None) -> dict:
    """Per-entrant primary scores on every benchmark of the phase's challenge, normalised, and the
    aggregate ranking with the organizer's default weights — or with ``weights`` (benchmark slug ->
    weight, e.g. the page's sliders for an export; benchmarks not named keep the organizer's weight).
    Each column's ``weight`` is the one used, ``default_weight`` the organizer's."""
    weights = weights or {}
    benchmarks = list(phase.challenge.benchmarks.all())
    hidden = is_hidden_for(user, phase)
    entrants: dict[str, dict] = {}
    raw: dict[str, dict[str, float | None]] = {}
    columns = []
    for benchmark in benchmarks:
        benchmark_type = benchmark.benchmark_type
        metric = benchmark_type.metric(benchmark_type.primary_metric)
        columns.append({"slug": benchmark.slug, "title": benchmark.title, "metric": metric.label,
                        "higher_is_better": metric.higher_is_better,
                        "weight": weights.get(benchmark.slug, benchmark.weight), "default_weight": benchmark.weight})
        rows = rows_for_viewer(leaderboard_rows(phase, benchmark), phase, user)
        raw[benchmark.slug] = {}
        for row in rows:
            entrants.setdefault(row["entrant_key"], {"entrant": row["entrant"], "is_baseline": row["is_baseline"]})
            raw[benchmark.slug][row["entrant_key"]] = row["score"]
    for slug in raw:
        for key in entrants:
            raw[slug].setdefault(key, None)
    if hidden:
        # Normalised scores and ranks are relative to the other entrants: a hidden board shows the
        # viewer's own raw scores only.
        return {"benchmarks": columns, "hidden": True, "rows": [{
            "rank": None, "entrant": entrants[key]["entrant"], "is_baseline": entrants[key]["is_baseline"],
            "scores": {slug: raw[slug][key] for slug in raw}, "normalized": None, "aggregate": None,
        } for key in sorted(entrants, key=lambda key: entrants[key]["entrant"])]}
    normalized = {c["slug"]: normalized_scores(raw[c["slug"]], c["higher_is_better"]) for c in columns}
    aggregate = weighted_aggregate(normalized, {c["slug"]: c["weight"] for c in columns})
    ordered = sorted(entrants, key=lambda key: (-aggregate.get(key, 0.0), entrants[key]["entrant"]))
    return {
        "benchmarks": columns,
        "hidden": False,
        "rows": [{
            "rank": position,
            "entrant": entrants[key]["entrant"],
            "is_baseline": entrants[key]["is_baseline"],
            "scores": {slug: raw[slug][key] for slug in raw},
            "normalized": {slug: normalized[slug][key] for slug in normalized},
            "aggregate": aggregate.get(key, 0.0),
        } for position, key in enumerate(ordered, start=1)],
    }
