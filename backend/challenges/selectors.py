"""Reads of challenges, scoped by the caller's role. Every view goes through these."""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Benchmark, Challenge, DatasetArtifact, Phase


def visible_challenges(user) -> QuerySet[Challenge]:
    """Published challenges for everyone; drafts and archived ones for their organizers too."""
    qs = Challenge.objects.all()
    if user.is_authenticated and user.is_superuser:
        return qs
    published = Q(status=Challenge.Status.PUBLISHED)
    if user.is_authenticated:
        return qs.filter(published | Q(organizers=user)).distinct()
    return qs.filter(published)


def get_visible_challenge(user, slug: str) -> Challenge:
    try:
        return visible_challenges(user).get(slug=slug)
    except Challenge.DoesNotExist:
        raise Http404("No such challenge.") from None


def organizes(user, challenge: Challenge) -> bool:
    """The challenge's organizers (its ``organizers`` list) and superusers."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or challenge.organizers.filter(pk=user.pk).exists()


def annotates(user, challenge: Challenge) -> bool:
    """Who may verify the challenge's test-set items: its annotators and its organizers."""
    if not user.is_authenticated:
        return False
    return organizes(user, challenge) or challenge.annotators.filter(pk=user.pk).exists()


def annotated_challenge_ids(user) -> set[int]:
    """The challenges whose verification queues the user reaches."""
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(Challenge.objects.values_list("pk", flat=True))
    return set(Challenge.objects.filter(Q(annotators=user) | Q(organizers=user)).values_list("pk", flat=True))


def visible_benchmarks(user) -> QuerySet[Benchmark]:
    return Benchmark.objects.filter(challenge__in=visible_challenges(user)).select_related("challenge")


def get_visible_benchmark(user, challenge_slug: str, benchmark_slug: str) -> Benchmark:
    try:
        return visible_benchmarks(user).get(challenge__slug=challenge_slug, slug=benchmark_slug)
    except Benchmark.DoesNotExist:
        raise Http404("No such benchmark.") from None


def visible_phases(user) -> QuerySet[Phase]:
    return Phase.objects.filter(challenge__in=visible_challenges(user)).select_related("challenge")


def current_phase(challenge: Challenge) -> Phase | None:
    """The open phase, else the next one to open, else the last one."""
    phases = list(challenge.phases.all())
    for phase in phases:
        if phase.is_open():
            return phase
    from django.utils import timezone

    upcoming = [p for p in phases if p.starts_at > timezone.now()]
    if upcoming:
        return upcoming[0]
    return phases[-1] if phases else None


PHASE_STATES = ("open", "upcoming", "closed")


def phase_state(phase: Phase | None) -> str:
    """"open", "upcoming" or "closed" (no phase at all: closed)."""
    from django.utils import timezone

    now = timezone.now()
    if phase is None:
        return "closed"
    return "open" if phase.is_open(now) else ("upcoming" if phase.starts_at > now else "closed")


def public_artifacts(benchmark: Benchmark) -> QuerySet[DatasetArtifact]:
    """The only artifacts any download view may serve."""
    return benchmark.artifacts.filter(visibility=DatasetArtifact.Visibility.PUBLIC)
