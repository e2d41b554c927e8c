"""Writes of the derived ranking state (``models.EntrantRow``).

``refresh_entrant`` re-picks one entrant's row on one benchmark, inside the caller's transaction: every
place that records a score or changes whether a submission counts calls it (through
``refresh_for_submission``) right after ``challenges.services.bump_leaderboard``, so the row carries the
new version and a reader never sees the version without the row. It locks the phase row first (the bump
already holds it): concurrent refreshes of a phase are serialised, and each one reads the others'
committed submissions. Cost: that entrant's submissions, never the whole board.

``rebuild`` recomputes every row of a phase (or all) from the Score rows: restores, bulk loads.
"""
from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import Q

from backend.challenges.models import Benchmark, Phase
from backend.challenges.services import bump_leaderboard
from backend.submissions.models import FinalSelection, Score, Submission

from . import selectors
from .models import EntrantRow

RULES = (Phase.RankingRule.BEST, Phase.RankingRule.LATEST)
T = EntrantRow.Tier


def entrant_key_of(submission: Submission) -> str:
    """Baselines are entrants of their own, whoever posted them; else the team, else the user."""
    if submission.is_baseline:
        return f"baseline:{submission.baseline_name}"
    if submission.team_id:
        return f"team:{submission.team_id}"
    return f"user:{submission.user_id}"


def _entrant_filter(entrant_key: str) -> Q:
    kind, _, value = entrant_key.partition(":")
    if kind == "baseline":
        return Q(is_baseline=True, baseline_name=value)
    if kind == "team":
        return Q(is_baseline=False, team_id=int(value))
    if kind == "user":
        return Q(is_baseline=False, team__isnull=True, user_id=int(value))
    raise ValueError(f"not an entrant key: {entrant_key!r}")


def _candidates(phase_id: int, benchmark: Benchmark, extra: Q) -> list[Submission]:
    """Scored submissions with their ``rankable`` flag (the extensions' condition) and ``preferred`` flag:
    where the phase lets participants choose which submissions count (``FinalSelection``), the selected
    ones are picked first; an entrant who selected none is ranked by their best (or latest), as on Kaggle."""
    candidates = list(
        Submission.objects.filter(extra, phase_id=phase_id, benchmark=benchmark, status=Submission.Status.SCORED)
        .annotate(rankable=selectors.rankable_expression())
        .select_related("user", "team")
        .only("id", "phase_id", "benchmark_id", "user_id", "team_id", "is_baseline", "baseline_name", "division",
              "created_at", "environment", "selected", "user__username", "team__name")
    )
    selection = FinalSelection.objects.filter(phase_id=phase_id).exists()
    for submission in candidates:
        submission.preferred = submission.selected or not selection
    return candidates


MISSING = 1e300  # a missing tie-break value sorts after every real one


def _tie_metrics(benchmark_type) -> list[tuple[str, bool]]:
    """(metric, higher is better) of the type's tie-break metrics, at most the two the table stores."""
    return [(key, benchmark_type.metric(key).higher_is_better) for key in benchmark_type.tie_break_metrics[:2]]


def _tie_keys(scores: dict[str, float | None], tie_metrics: list[tuple[str, bool]]) -> list[float]:
    keys = [MISSING if scores.get(key) is None else (-scores[key] if higher else scores[key])
            for key, higher in tie_metrics]
    return keys + [0.0] * (2 - len(keys))


def _pick(candidates: list[Submission], scores: dict[int, dict[str, float | None]], primary_metric: str,
          higher: bool, tie_metrics: list[tuple[str, bool]], rule: str):
    """The entrant's row by the rule: rankable submissions first; best: best primary (missing last), then
    the tie-break metrics, then the earlier submission; latest: the newest."""
    if not candidates:
        return None
    if rule == Phase.RankingRule.LATEST:
        return min(candidates, key=lambda s: (not s.rankable, not s.preferred, -s.created_at.timestamp(), -s.pk))

    def best_key(s):
        values = scores.get(s.pk, {})
        value = values.get(primary_metric)
        return (not s.rankable, not s.preferred, value is None, 0.0 if value is None else (-value if higher else value),
                *_tie_keys(values, tie_metrics), s.created_at, s.pk)
    return min(candidates, key=best_key)


def _row_fields(submission: Submission | None, scores: dict[str, float | None], primary_metric: str,
                higher: bool, tie_metrics: list[tuple[str, bool]]) -> dict:
    if submission is None:
        return {"submission": None, "tier": T.ABSENT, "primary_value": None, "order_key": None, "scores": {},
                "created_at": None, "environment": {}, "environment_label": "", "tie_key_1": 0.0, "tie_key_2": 0.0}
    tie_key_1, tie_key_2 = _tie_keys(scores, tie_metrics)
    value = scores.get(primary_metric)
    tier = T.NO_SCORE if value is None else (T.RANKED if submission.rankable else T.UNRANKED)
    return {
        "submission": submission, "entrant_name": submission.entrant_name, "user_id_value": submission.user_id,
        "team_id_value": submission.team_id, "is_baseline": submission.is_baseline,
        "division": submission.division, "created_at": submission.created_at, "primary_value": value,
        "order_key": None if value is None else (-value if higher else value), "scores": scores,
        "tie_key_1": tie_key_1, "tie_key_2": tie_key_2,
        "environment": submission.environment or {}, "environment_label": submission.environment_label,
        "rankable": bool(submission.rankable), "tier": tier,
    }


def _scores_of(submission_ids) -> dict[int, dict[str, float | None]]:
    scores: dict[int, dict[str, float | None]] = defaultdict(dict)
    for submission_id, metric, value in Score.objects.filter(submission_id__in=list(submission_ids)).values_list(
            "submission_id", "metric", "value"):
        scores[submission_id][metric] = value
    return scores


def refresh_entrant(phase_id: int, benchmark_id: int, entrant_key: str) -> None:
    """Re-pick the entrant's best and latest rows on the benchmark (call after ``bump_leaderboard``, in
    the same transaction)."""
    with transaction.atomic():
        version = Phase.objects.select_for_update().filter(pk=phase_id).values_list(
            "leaderboard_version", flat=True).first()
        benchmark = Benchmark.objects.filter(pk=benchmark_id).first()
        if version is None or benchmark is None:
            return  # being deleted
        benchmark_type = benchmark.benchmark_type
        primary_metric = benchmark_type.primary_metric
        higher = benchmark_type.metric(primary_metric).higher_is_better
        tie_metrics = _tie_metrics(benchmark_type)
        candidates = _candidates(phase_id, benchmark, _entrant_filter(entrant_key))
        all_scores = _scores_of(s.pk for s in candidates)
        for rule in RULES:
            chosen = _pick(candidates, all_scores, primary_metric, higher, tie_metrics, rule)
            fields = _row_fields(chosen, dict(all_scores.get(chosen.pk, {})) if chosen else {}, primary_metric, higher,
                                 tie_metrics)
            existing = EntrantRow.objects.filter(phase_id=phase_id, benchmark_id=benchmark_id, rule=rule,
                                                 entrant_key=entrant_key).first()
            if existing is None:
                if chosen is None:
                    continue  # nothing to show, nothing to remove
                EntrantRow.objects.create(phase_id=phase_id, benchmark_id=benchmark_id, rule=rule,
                                          entrant_key=entrant_key, changed_version=version, **fields)
                continue
            new_submission_id = chosen.pk if chosen else None
            changed = existing.submission_id != new_submission_id or any(
                getattr(existing, name) != value for name, value in fields.items() if name != "submission")
            if changed:
                for name, value in fields.items():
                    setattr(existing, name, value)
                existing.changed_version = version
                existing.save()


def refresh_for_submission(submission: Submission) -> None:
    """The submission's scores or its rankability changed: refresh its entrant's rows."""
    refresh_entrant(submission.phase_id, submission.benchmark_id, entrant_key_of(submission))


def rebuild(phase_id: int | None = None) -> int:
    """Recompute every entrant row (of one phase, or all) from the Score rows; bumps each rebuilt phase's
    version. Returns the number of rows written."""
    phases = Phase.objects.all() if phase_id is None else Phase.objects.filter(pk=phase_id)
    written = 0
    for phase in phases.order_by("pk"):
        with transaction.atomic():
            bump_leaderboard(phase.pk)
            version = Phase.objects.select_for_update().values_list("leaderboard_version", flat=True).get(pk=phase.pk)
            EntrantRow.objects.filter(phase=phase).delete()
            benchmark_ids = set(Submission.objects.filter(phase=phase, status=Submission.Status.SCORED)
                                .values_list("benchmark_id", flat=True).distinct())
            for benchmark in Benchmark.objects.filter(pk__in=benchmark_ids):
                written += _rebuild_board(phase.pk, benchmark, version)
    return written


def _rebuild_board(phase_id: int, benchmark: Benchmark, version: int) -> int:
    benchmark_type = benchmark.benchmark_type
    primary_metric = benchmark_type.primary_metric
    higher = benchmark_type.metric(primary_metric).higher_is_better
    tie_metrics = _tie_metrics(benchmark_type)
    candidates = _candidates(phase_id, benchmark, Q())
    # Only the metrics picking needs, for every candidate; every metric for the chosen ones below.
    scores: dict[int, dict[str, float | None]] = defaultdict(dict)
    for submission_id, metric, value in Score.objects.filter(
            submission__phase_id=phase_id, submission__benchmark=benchmark, submission__status=Submission.Status.SCORED,
            metric__in=[primary_metric, *(key for key, _ in tie_metrics)]).values_list("submission_id", "metric", "value"):
        scores[submission_id][metric] = value
    by_entrant: dict[str, list[Submission]] = defaultdict(list)
    for submission in candidates:
        by_entrant[entrant_key_of(submission)].append(submission)
    chosen = {(key, rule): _pick(subs, scores, primary_metric, higher, tie_metrics, rule)
              for key, subs in by_entrant.items() for rule in RULES}
    chosen_scores = _scores_of({s.pk for s in chosen.values()})
    rows = [EntrantRow(phase_id=phase_id, benchmark_id=benchmark.pk, rule=rule, entrant_key=key,
                       changed_version=version,
                       **_row_fields(s, chosen_scores.get(s.pk, {}), primary_metric, higher, tie_metrics))
            for (key, rule), s in chosen.items()]
    EntrantRow.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def rename_entrant(entrant_key: str, name: str) -> None:
    """A team or user was renamed: their rows show the new name (bumping the phases they are on)."""
    with transaction.atomic():
        stale = EntrantRow.objects.filter(entrant_key=entrant_key).exclude(entrant_name=name)
        phase_ids = sorted(set(stale.values_list("phase_id", flat=True)))
        if not phase_ids:
            return
        bump_leaderboard(*phase_ids)
        for phase_id in phase_ids:
            version = Phase.objects.select_for_update().values_list("leaderboard_version", flat=True).get(pk=phase_id)
            stale.filter(phase_id=phase_id).update(entrant_name=name, changed_version=version)
