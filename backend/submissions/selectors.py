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


def scores_of(submission: Submission) -> dict[str, float | None]:
    return {score.metric: score.value for score in submission.scores.all()}


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
