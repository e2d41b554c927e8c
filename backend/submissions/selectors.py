"""Reads of submissions, scoped by role: your own and your teams', or all of the challenges you organize."""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Submission


def visible_submissions(user) -> QuerySet[Submission]:
    if not user.is_authenticated:
        return Submission.objects.none()
    qs = Submission.objects.select_related("benchmark__challenge", "phase", "user", "team").prefetch_related("scores")
    if user.is_superuser:
        return qs
    mine = Q(user=user) | Q(team__members=user)
    if user.is_organizer:
        mine |= Q(benchmark__challenge__organizers=user)
    return qs.filter(mine).distinct()


def get_visible_submission(user, pk: int) -> Submission:
    try:
        return visible_submissions(user).get(pk=pk)
    except Submission.DoesNotExist:
        raise Http404("No such submission.") from None


def public_details(submission: Submission) -> dict:
    """The submission's details without the keys its type marks as echoing the submission itself."""
    private = set(submission.benchmark.benchmark_type.private_detail_keys)
    return {key: value for key, value in (submission.details or {}).items() if key not in private}


def scores_of(submission: Submission) -> dict[str, float | None]:
    return {score.metric: score.value for score in submission.scores.all()}


def format_score(value, integer: bool = False, decimals: int = 4) -> str:
    """A score as people read it: the metric's decimals (four by default), counts as whole numbers,
    "—" when missing."""
    if value is None:
        return "—"
    return str(int(round(value))) if integer else f"{value:.{decimals}f}"


def score_rows(submission: Submission) -> list[dict]:
    """The submission's scores for people: ``{"key", "label", "value", "text"}`` in the type's metric
    order (primary first), each formatted by its metric's declaration; scores of metrics the type no
    longer declares follow with four decimals."""
    values = scores_of(submission)
    benchmark = submission.benchmark
    benchmark_type = benchmark.benchmark_type
    metrics = sorted(benchmark_type.metrics_for(benchmark.effective_config),
                     key=lambda m: m.key != benchmark_type.primary_metric)
    rows = [{"key": m.key, "label": m.label, "value": values[m.key],
             "text": format_score(values[m.key], m.integer, m.decimals)} for m in metrics if m.key in values]
    known = {m.key for m in metrics}
    rows += [{"key": key, "label": key, "value": value, "text": format_score(value)}
             for key, value in values.items() if key not in known]
    return rows


# Statuses that count against a phase's limits (failed and cancelled ones never do).
COUNTED_STATUSES = (Submission.Status.QUEUED, Submission.Status.RUNNING, Submission.Status.SCORED)


def counted_submissions(phase, benchmark, user, team=None) -> QuerySet[Submission]:
    """The entrant's submissions that count against the phase's limits on this benchmark: the one
    definition the upload check (services._check_quota) and the "N of M left" figures share."""
    entrant = {"team": team} if team else {"user": user, "team__isnull": True}
    return Submission.objects.filter(phase=phase, benchmark=benchmark, status__in=COUNTED_STATUSES,
                                     is_baseline=False, **entrant)


def allowance(phase, benchmark, user, team=None, now=None) -> dict:
    """How many submissions the entrant has left: ``{"today": {"limit", "used", "left", "next_at"},
    "total": {"limit", "used", "left"}, "can_submit"}``. "Today" is the rolling 24 hours the upload
    check uses; ``limit``/``left`` are None when the phase sets no limit; ``next_at`` (UTC) is when
    the oldest of today's submissions stops counting (only when the daily limit is used up)."""
    from datetime import timedelta

    from django.utils import timezone

    now = now or timezone.now()
    counted = counted_submissions(phase, benchmark, user, team)
    total_used = counted.count()
    recent = list(counted.filter(created_at__gte=now - timedelta(days=1)).order_by("created_at")
                  .values_list("created_at", flat=True))
    day_limit, total_limit = phase.max_submissions_per_day, phase.max_submissions_total
    day_left = None if day_limit is None else max(0, day_limit - len(recent))
    total_left = None if total_limit is None else max(0, total_limit - total_used)
    if day_left is not None and total_left is not None:
        day_left = min(day_left, total_left)
    next_at = recent[0] + timedelta(days=1) if day_left == 0 and recent and total_left != 0 else None
    return {
        "today": {"limit": day_limit, "used": len(recent), "left": day_left, "next_at": next_at},
        "total": {"limit": total_limit, "used": total_used, "left": total_left},
        "can_submit": phase.is_open(now) and day_left != 0 and total_left != 0,
    }


def own_submissions(user) -> QuerySet[Submission]:
    """The submissions the user entered: their own and their teams' (not, for an organizer, everyone's)."""
    if not user.is_authenticated:
        return Submission.objects.none()
    return (Submission.objects.select_related("benchmark__challenge", "phase__challenge", "user", "team")
            .prefetch_related("scores").filter(Q(user=user) | Q(team__members=user)).distinct())


def get_own_submission(user, pk: int) -> Submission:
    """One of the user's (or their teams') submissions; anyone else's is a 404, as if it did not exist."""
    try:
        return own_submissions(user).get(pk=pk)
    except Submission.DoesNotExist:
        raise Http404("No such submission.") from None
