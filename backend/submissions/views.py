"""Server-rendered submission pages: upload form, my submissions, one submission."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from backend.accounts.models import Team
from backend.challenges import selectors as challenge_selectors
from backend.core.throttling import UploadRateThrottle, throttled_page
from backend.leaderboards import selectors as leaderboard_selectors

from . import selectors, services


@login_required
@require_POST
@throttled_page(UploadRateThrottle)
def upload(request, slug: str, benchmark: str):
    benchmark = challenge_selectors.get_visible_benchmark(request.user, slug, benchmark)
    team = None
    if team_name := request.POST.get("team"):
        team = Team.objects.filter(name=team_name, members=request.user).first()
    try:
        submission = services.create_submission(
            user=request.user, benchmark=benchmark, uploaded_file=request.FILES.get("file"),
            division=request.POST.get("division", "open"), description=request.POST.get("description", ""), team=team,
            code_file=request.FILES.get("code"),
        )
    except services.SubmissionRejected as rejected:
        messages.error(request, f"Submission rejected — {rejected.sentence}")
        return redirect("benchmark-detail", slug=slug, benchmark=benchmark.slug)
    if services.waiting_for_queue(submission):
        messages.info(request, services.QUEUE_DOWN_MESSAGE)
    return redirect("submission-detail", pk=submission.pk)


@login_required
def my_submissions(request):
    submissions = list(selectors.visible_submissions(request.user).filter(user=request.user)
                       .select_related("phase__challenge", "benchmark__challenge")[:200])
    standings = leaderboard_selectors.standings(submissions, request.user)
    return render(request, "submissions/list.html", {
        "rows": [(submission, standings.get(submission.pk)) for submission in submissions]})


@login_required
def submission_detail(request, pk: int):
    submission = selectors.get_visible_submission(request.user, pk)
    return render(request, "submissions/detail.html", {
        "submission": submission,
        # Which key of ``details`` the worker fills in after scoring (the page waits for it).
        "extras_key": submission.benchmark.benchmark_type.background_key or "",
        "scores": selectors.scores_of(submission),
        "standing": leaderboard_selectors.standings([submission], request.user).get(submission.pk),
        "is_organizer": challenge_selectors.organizes(request.user, submission.benchmark.challenge),
    })
