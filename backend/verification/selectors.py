"""Reads of the verification app, scoped by the caller's role.

* A challenge's annotators and organizers (``challenges.selectors.annotates``) reach the verification
  queue of its test-set benchmarks; others get 404. Never their own items, never an item twice.
* Only a challenge's organizers see agreement statistics, proposers and overrides.
* Participants see the pool and their own proposals; other participants' proposals and verdicts
  only once the phase has ended.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Max, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Benchmark, Phase
from backend.leaderboards import selectors as leaderboard_selectors
from backend.submissions import services as submission_services
from backend.submissions.models import Score, Submission
from evaluation.benchmarks import test_set

from . import agreement
from .models import CreatedItem, ProposedItem, Round, RoundScore, Target, Verification
from .services import (TEST_SET_KIND, current_round, eligible_for_promotion, is_test_set, linked_training_benchmarks, mine,
                       suite_predictions)

POOL_PAGE_SIZE = 24


def can_verify(user) -> bool:
    """Whether the user verifies for at least one challenge (the queue index and the API's first check)."""
    return bool(challenge_selectors.annotated_challenge_ids(user))


def test_set_benchmarks(user) -> list[Benchmark]:
    return [b for b in challenge_selectors.visible_benchmarks(user) if is_test_set(b)]


def verifiable_benchmarks(user) -> list[Benchmark]:
    """The test-set benchmarks whose queues the user reaches (their challenges' annotator or organizer)."""
    allowed = challenge_selectors.annotated_challenge_ids(user)
    return [b for b in test_set_benchmarks(user) if b.challenge_id in allowed]


def get_verifiable_benchmark(user, challenge_slug: str, benchmark_slug: str) -> Benchmark:
    """A test-set benchmark the user verifies for; 404 for everyone else (also other challenges' annotators)."""
    benchmark = get_test_set_benchmark(user, challenge_slug, benchmark_slug)
    if not challenge_selectors.annotates(user, benchmark.challenge):
        raise Http404("No verification queue here for you.")
    return benchmark


def get_test_set_benchmark(user, challenge_slug: str, benchmark_slug: str) -> Benchmark:
    benchmark = challenge_selectors.get_visible_benchmark(user, challenge_slug, benchmark_slug)
    if not is_test_set(benchmark):
        raise Http404("This benchmark has no test-set verification.")
    return benchmark


def own_targets(user, benchmark: Benchmark) -> QuerySet:
    return ProposedItem.objects.filter(submission__benchmark=benchmark).filter(mine(user, "submission__")).values("target_id")


def queue(user, benchmark: Benchmark) -> QuerySet[Target]:
    """Pending targets this annotator may verify, least-verified first (then oldest)."""
    qs = Target.objects.filter(benchmark=benchmark, status=Target.Status.PENDING)
    if not benchmark.effective_config.get("verify_non_fooling"):
        qs = qs.filter(fooling=True)
    voted = Verification.objects.filter(annotator=user, target__benchmark=benchmark, is_override=False).values("target_id")
    return qs.exclude(pk__in=own_targets(user, benchmark)).exclude(pk__in=voted).order_by("vote_count", "created_at", "pk")


def next_target(user, benchmark: Benchmark) -> Target | None:
    return queue(user, benchmark).first()


def get_target(benchmark: Benchmark, target_id: int) -> Target:
    try:
        return Target.objects.select_related("benchmark__challenge").get(pk=target_id, benchmark=benchmark)
    except Target.DoesNotExist:
        raise Http404("No such item.") from None


def queue_counts(user, benchmark: Benchmark) -> dict[str, int]:
    return {
        "remaining": queue(user, benchmark).count(),
        "verified_by_you": Verification.objects.filter(annotator=user, target__benchmark=benchmark, is_override=False).count(),
        "pending": Target.objects.filter(benchmark=benchmark, status=Target.Status.PENDING, fooling=True).count(),
    }


def problem_of(benchmark: Benchmark) -> test_set.TestSetProblem:
    return submission_services.load_benchmark_problem(benchmark)


def item_view(problem: test_set.TestSetProblem, item_id: str, benchmark: Benchmark | None = None) -> dict:
    """How a page shows an item: pool items inline (text, or a data: URL); a created picture or clip by
    the URL of the role-scoped view that serves its raw file (never a public URL)."""
    number = CreatedItem.number_of(item_id)
    if benchmark is not None and number is not None and item_id in problem.index and problem.is_created(item_id):
        kind = CreatedItem.objects.filter(pk=number).values_list("kind", flat=True).first()
        if kind and kind != CreatedItem.Kind.TEXT:
            return {"item_id": item_id, "display_kind": kind, "created": True,
                    "display": reverse("verify-created-raw", args=[benchmark.challenge.slug, benchmark.slug, number])}
        return {"item_id": item_id, "display_kind": "text", "created": True, "display": test_set.display_data_url(problem, item_id)}
    return {"item_id": item_id, "display": test_set.display_data_url(problem, item_id), "display_kind": problem.display_kind}


def target_for_annotator(problem, target: Target) -> dict:
    """What an annotator sees: the item and the proposed label. No proposer, no model output, no votes."""
    return {"id": target.pk, "label": target.label, **item_view(problem, target.item_id, target.benchmark)}


# --- participants: the pool browser --------------------------------------------------------------

def pool_page(benchmark: Benchmark, *, query: str = "", predicted: str = "", disagree: bool = False,
              page: int = 1) -> dict:
    """A page of the candidate pool with what the current suite predicts for each item."""
    problem = problem_of(benchmark).pool   # created items are their creators' own, never in the pool
    config = benchmark.effective_config
    predictions = suite_predictions(benchmark, problem)
    query = query.strip().lower()
    ids = problem.ids
    if query:
        text = problem.display_kind == "text"
        ids = [i for i in ids if query in i.lower() or (text and query in problem.display[problem.index[i]].lower())]
    if predicted:
        ids = [i for i in ids if predictions.majority(i) == predicted]
    if disagree:
        ids = [i for i in ids if len(set(predictions.matrix[problem.index[i]].tolist())) > 1]
    total = len(ids)
    pages = max(1, -(-total // POOL_PAGE_SIZE))
    page = min(max(1, page), pages)
    chosen = ids[(page - 1) * POOL_PAGE_SIZE: page * POOL_PAGE_SIZE]
    return {
        "class_names": problem.class_names, "display_kind": problem.display_kind, "max_items": int(config["max_items"]),
        "members": predictions.members, "total": total, "page": page, "pages": pages,
        "items": [{**item_view(problem, i), "predictions": predictions.of(i), "majority": predictions.majority(i)}
                  for i in chosen],
    }


# --- proposals and their verification state -------------------------------------------------------

def phase_ended(phase: Phase | None) -> bool:
    return bool(phase and phase.ends_at and phase.ends_at <= timezone.now())


def visible_proposals(user, benchmark: Benchmark, phase: Phase) -> tuple[list[dict], str]:
    """Proposed items with their verification state, and the scope shown ("all", "ended", "own")."""
    qs = ProposedItem.objects.filter(submission__benchmark=benchmark, submission__phase=phase).select_related(
        "target", "submission__user", "submission__team").order_by("submission_id", "position")
    organizer = challenge_selectors.organizes(user, benchmark.challenge)
    if organizer:
        scope = "all"
    elif phase_ended(phase):
        scope = "ended"
    else:
        scope = "own"
        qs = qs.filter(mine(user, "submission__")).distinct() if user.is_authenticated else qs.none()
    rows = []
    for proposal in qs:
        row = {"submission_id": proposal.submission_id if scope != "ended" or _owns(user, proposal.submission) else None,
               "item_id": proposal.target.item_id, "label": proposal.target.label,
               "model_fooled": proposal.model_fooled, "status": proposal.target.status,
               "votes": proposal.target.vote_count, "novelty": proposal.novelty}
        if organizer:
            row["target_id"] = proposal.target_id
            row["entrant"] = proposal.submission.entrant_name
        rows.append(row)
    return rows, scope


def _owns(user, submission: Submission) -> bool:
    if not user.is_authenticated:
        return False
    return submission.user_id == user.pk or (submission.team_id is not None and submission.team.members.filter(pk=user.pk).exists())


# --- organizers: agreement ----------------------------------------------------------------------------

@dataclass
class AnnotatorStats:
    username: str
    votes: int
    agree_with_verdict: float | None
    agree_with_reference: float | None


def agreement_report(benchmark: Benchmark) -> dict:
    targets = list(Target.objects.filter(benchmark=benchmark))
    votes = list(Verification.objects.filter(target__benchmark=benchmark, is_override=False).select_related("annotator"))
    counts = [[t.correct_count, t.incorrect_count, t.flag_count] for t in targets]
    status_of = {t.pk: t.status for t in targets}
    verdict_status = {"correct": Target.Status.CORRECT, "incorrect": Target.Status.INCORRECT, "flag": Target.Status.FLAGGED}
    try:
        problem = problem_of(benchmark)
        truth = test_set.oracle_verdicts(problem, {(t.item_id, t.label) for t in targets})
    except test_set.DataError:
        truth = {}
    pair_of = {t.pk: (t.item_id, t.label) for t in targets}
    per_user: dict[str, list] = {}
    for vote in votes:
        stats = per_user.setdefault(vote.annotator.username, [0, 0, 0, 0, 0])   # votes, agree, resolved, ref-agree, ref
        stats[0] += 1
        status = status_of[vote.target_id]
        if status != Target.Status.PENDING:
            stats[2] += 1
            stats[1] += verdict_status[vote.verdict] == status
        reference = truth.get(pair_of[vote.target_id])
        if reference is not None:
            stats[4] += 1
            stats[3] += (vote.verdict == "correct") == reference
    annotators = [AnnotatorStats(name, s[0], s[1] / s[2] if s[2] else None, s[3] / s[4] if s[4] else None)
                  for name, s in sorted(per_user.items())]
    by_status = {status: sum(1 for t in targets if t.status == status) for status in Target.Status.values}
    disputed = [t for t in targets if t.status == Target.Status.FLAGGED or t.flag_count
                or (sum(1 for c in (t.correct_count, t.incorrect_count, t.flag_count) if c) > 1)]
    return {
        "targets": len(targets), "votes": len(votes), "by_status": by_status,
        "overrides": Verification.objects.filter(target__benchmark=benchmark, is_override=True).count(),
        "pairwise_agreement": agreement.pairwise_agreement(counts), "fleiss_kappa": agreement.fleiss_kappa(counts),
        "items_rated_twice": sum(1 for c in counts if sum(c) >= 2),
        "annotators": annotators, "disputed": disputed[:100],
    }


# --- rounds and the ratchet chart -------------------------------------------------------------------

def can_view_ratchet(user, benchmark: Benchmark) -> bool:
    phase = challenge_selectors.current_phase(benchmark.challenge)
    if challenge_selectors.organizes(user, benchmark.challenge):
        return True
    return (phase is not None and leaderboard_selectors.can_view_leaderboard(user, phase)
            and phase.leaderboard_visibility != Phase.Visibility.HIDDEN)


def rounds_summary(benchmark: Benchmark) -> list[dict]:
    """Per round: its start, suite, promoted items, the best training-set score on the round's test set
    (round 1: the training-set benchmarks' own hidden test set) and the best test-set credit earned
    by submissions made during the round."""
    rounds = list(benchmark.verification_rounds.all())
    if not rounds or rounds[0].number != 1:
        rounds.insert(0, Round(benchmark=benchmark, number=1, started_at=None))
    phase = challenge_selectors.current_phase(benchmark.challenge)
    round1_best = None
    if phase is not None:
        for other in linked_training_benchmarks(benchmark):
            scores = [r["score"] for r in leaderboard_selectors.leaderboard_rows(phase, other) if r["score"] is not None]
            if scores:
                round1_best = max(scores) if round1_best is None else max(round1_best, *scores)
    out = []
    for position, round_ in enumerate(rounds):
        start = round_.started_at if position else None
        end = rounds[position + 1].started_at if position + 1 < len(rounds) else None
        subs = Submission.objects.filter(benchmark=benchmark, status=Submission.Status.SCORED)
        if start:
            subs = subs.filter(created_at__gte=start)
        if end:
            subs = subs.filter(created_at__lt=end)
        best_credit = Score.objects.filter(submission__in=subs, metric="credit").aggregate(best=Max("value"))["best"]
        if round_.pk and round_.number > 1:
            scored = RoundScore.objects.filter(round=round_, status=RoundScore.Status.SCORED)
            best_training = scored.aggregate(best=Max("value"))["best"]
            pending = RoundScore.objects.filter(round=round_, status=RoundScore.Status.QUEUED).count()
            failed = RoundScore.objects.filter(round=round_, status=RoundScore.Status.FAILED).count()
        else:
            best_training, pending, failed = round1_best, 0, 0
        out.append({
            "number": round_.number, "started_at": round_.started_at.isoformat() if round_.started_at else None,
            "suite": round_.suite_members or [], "promoted_items": round_.promoted_targets.count() if round_.pk else 0,
            "best_training_score": best_training, "best_test_set_credit": best_credit,
            "rescoring_pending": pending, "rescoring_failed": failed,
        })
    return out


def round_detail_scores(round_: Round) -> list[RoundScore]:
    return list(round_.scores.select_related("submission__user", "submission__team", "submission__benchmark"))


def organizer_overview(benchmark: Benchmark) -> dict:
    current = current_round(benchmark)
    return {
        "current_round": current.number if current else 1,
        "eligible": eligible_for_promotion(benchmark).count(),
        "rounds": list(benchmark.verification_rounds.prefetch_related("scores")),
        "linked": linked_training_benchmarks(benchmark),
        "kind": TEST_SET_KIND,
    }


def benchmarks_with_test_sets(benchmarks) -> list[Benchmark]:
    return [b for b in benchmarks if is_test_set(b)]



# --- organizers: who verified what ----------------------------------------------------------------------

def verifications_by_annotator(challenge) -> dict:
    """For the challenge's people page: per annotator, their votes by verdict and benchmark, and the most
    recent votes (item, label, verdict, the item's outcome) — organizers only."""
    from django.db.models import Count, Max as MaxOf, Q as Where

    votes = Verification.objects.filter(target__benchmark__challenge=challenge)
    summary = list(votes.values("annotator__username", "is_override").annotate(
        total=Count("id"),
        correct=Count("id", filter=Where(verdict=Verification.Verdict.CORRECT)),
        incorrect=Count("id", filter=Where(verdict=Verification.Verdict.INCORRECT)),
        flagged=Count("id", filter=Where(verdict=Verification.Verdict.FLAG)),
        benchmarks=Count("target__benchmark", distinct=True),
        last=MaxOf("created_at"),
    ).order_by("-total", "annotator__username"))
    recent = list(votes.select_related("annotator", "target__benchmark").order_by("-created_at", "-id")[:200])
    return {"summary": summary, "recent": recent}


# --- participants: creating items (model-in-the-loop) ------------------------------------------------

def created_item_row(item: CreatedItem, benchmark: Benchmark) -> dict:
    """One of the viewer's own created items, as the creation page lists it (with its verification)."""
    target = Target.objects.filter(benchmark=benchmark, item_id=item.item_id, label=item.label).first()
    submission = item.submission
    return {
        "item_id": item.item_id, "kind": item.kind, "label": item.label, "created_at": item.created_at.isoformat(),
        "text": item.text if item.kind == CreatedItem.Kind.TEXT else "",
        "raw_url": reverse("verify-created-raw", args=[benchmark.challenge.slug, benchmark.slug, item.pk]),
        "live": {"majority": item.live_answers.get("majority"), "fooled": item.live_answers.get("fooled")},
        "submission_id": submission.pk if submission else None,
        "submission_status": submission.status if submission else None,
        "submission_url": reverse("submission-detail", args=[submission.pk]) if submission else None,
        "status": target.status if target else None, "votes": target.vote_count if target else 0,
    }


def created_items(user, benchmark: Benchmark) -> list[dict]:
    from .creation import own_items

    return [created_item_row(item, benchmark) for item in own_items(user, benchmark)]


def creation_context(user, benchmark: Benchmark) -> dict:
    """What the creation page needs: the task's raw kind, labels, the APIs, whether the phase is open."""
    from backend.submissions import selectors as submission_selectors

    from . import live

    problem = problem_of(benchmark).pool
    phase = challenge_selectors.current_phase(benchmark.challenge)
    allowance = submission_selectors.allowance(phase, benchmark, user) if phase is not None else None
    return {
        "benchmark": benchmark, "challenge": benchmark.challenge, "phase": phase, "allowance": allowance,
        "phase_open": bool(phase and phase.is_open()), "class_names": problem.class_names,
        "raw_kind": live.raw_kind(benchmark), "config": benchmark.effective_config,
        "predict_url": reverse("api-benchmark-predict", args=[benchmark.challenge.slug, benchmark.slug]),
    }
