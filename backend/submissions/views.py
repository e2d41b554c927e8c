"""Server-rendered submission pages: upload form, my submissions, one submission."""
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from backend.accounts.models import Team
from backend.challenges import selectors as challenge_selectors
from backend.core.errors import Rejected
from backend.core.params import choice_param, int_param, text_param
from backend.core.throttling import UploadRateThrottle, throttled_page
from backend.leaderboards import selectors as leaderboard_selectors

from . import selectors, services
from .models import Submission
from .selectors import format_score  # noqa: F401  (kept importable from here)


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


PAGE_SIZE = 20


def _my_filters(request, submissions):
    """The list's filters from the query string (a 400 naming the parameter when malformed) and the
    choices to offer: only challenges and benchmarks the user has submitted to."""
    params = request.GET
    challenge = text_param(params, "challenge", max_chars=50)
    benchmark = text_param(params, "benchmark", max_chars=50)
    status = choice_param(params, "status", Submission.Status.values)
    page = int_param(params, "page", default=1, minimum=1, maximum=10**6)
    entered = (submissions.order_by().values_list("benchmark__challenge__slug", "benchmark__challenge__title",
                                                  "benchmark__slug", "benchmark__title").distinct())
    challenges, benchmarks = {}, {}
    for c_slug, c_title, b_slug, b_title in entered:
        challenges[c_slug] = c_title
        if not challenge or challenge == c_slug:
            benchmarks[b_slug] = b_title
    return ({"challenge": challenge, "benchmark": benchmark, "status": status or "", "page": page},
            {"challenges": sorted(challenges.items(), key=lambda kv: kv[1]),
             "benchmarks": sorted(benchmarks.items(), key=lambda kv: kv[1]),
             "statuses": Submission.Status.choices})


@login_required
def my_submissions(request):
    """Your (and your teams') submissions: score, rank (none on hidden boards), status, and the actions
    you may take — cancel while queued, choose which count where the phase allows it. Filters and pages."""
    submissions = selectors.own_submissions(request.user)
    try:
        chosen, options = _my_filters(request, submissions)
    except Rejected as rejected:
        return render(request, "submissions/list.html", {"error": rejected.sentence, "rows": [], "options": None,
                                                         "chosen": {}}, status=400)
    if chosen["challenge"]:
        submissions = submissions.filter(benchmark__challenge__slug=chosen["challenge"])
    if chosen["benchmark"]:
        submissions = submissions.filter(benchmark__slug=chosen["benchmark"])
    if chosen["status"]:
        submissions = submissions.filter(status=chosen["status"])
    page = Paginator(submissions.order_by("-created_at", "-id"), PAGE_SIZE).get_page(chosen["page"])
    items = list(page.object_list)
    standings = leaderboard_selectors.standings(items, request.user)
    rules = {}  # one query per phase, not per row
    rows = []
    for submission in items:
        benchmark_type = submission.benchmark.benchmark_type
        primary = benchmark_type.metric(benchmark_type.primary_metric)
        if submission.phase_id not in rules:
            rules[submission.phase_id] = services.selection_rule(submission.phase)
        rows.append({
            "submission": submission,
            "standing": standings.get(submission.pk),
            "score": format_score(selectors.scores_of(submission).get(primary.key), primary.integer, primary.decimals),
            "metric": primary.label,
            **_actions(submission, rules[submission.phase_id]),
        })
    query = {k: v for k, v in chosen.items() if v and k != "page"}
    return render(request, "submissions/list.html", {
        "rows": rows, "page": page, "options": options, "chosen": chosen, "query": urlencode(query),
        "next_url": request.get_full_path()})


def _back(request):
    target = request.POST.get("next", "")
    if target.startswith("/submissions/") and not target.startswith("//") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("my-submissions")


@login_required
@require_POST
def cancel(request, pk: int):
    submission = selectors.get_own_submission(request.user, pk)
    try:
        services.cancel_own_submission(submission, by=request.user)
    except services.SubmissionRejected as rejected:
        messages.error(request, f"Not cancelled — {rejected.sentence}")
    else:
        messages.success(request, f"Submission #{pk} cancelled; it does not count against your limits.")
    return _back(request)


@login_required
@require_POST
def select(request, pk: int):
    submission = selectors.get_own_submission(request.user, pk)
    selected = request.POST.get("selected", "1") == "1"
    try:
        services.select_submission(submission, by=request.user, selected=selected)
    except services.SubmissionRejected as rejected:
        messages.error(request, f"Not changed — {rejected.sentence}")
    else:
        messages.success(request, f"Submission #{pk} {'counts' if selected else 'no longer counts'} for the final ranking.")
    return _back(request)


def submission_detail(request, pk: int):
    """The owner's (team's) and organizers' full page; for everyone else who may see the board, the
    public view of a baseline (or, where the organizer allows it, a participant's scored submission);
    a 404 otherwise — and a signed-out visitor is asked to sign in before being told so."""
    try:
        submission = selectors.get_visible_submission(request.user, pk)
    except Http404:
        try:
            submission = leaderboard_selectors.get_public_submission(request.user, pk)
        except Http404:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            raise
        return render(request, "submissions/public_detail.html", {
            "submission": submission,
            "score_rows": selectors.score_rows(submission),
            "public_details": selectors.public_details(submission),
            "extras_key": submission.benchmark.benchmark_type.background_key or "",
        })
    return render(request, "submissions/detail.html", {
        "submission": submission,
        "score_rows": selectors.score_rows(submission),
        # Which key of ``details`` the worker fills in after scoring (the page waits for it).
        "extras_key": submission.benchmark.benchmark_type.background_key or "",
        "scores": selectors.scores_of(submission),
        "standing": leaderboard_selectors.standings([submission], request.user).get(submission.pk),
        "is_organizer": challenge_selectors.organizes(request.user, submission.benchmark.challenge),
        **_own_actions(request.user, submission),
    })


def _actions(submission, rule) -> dict:
    """The buttons its owner (or team) gets: cancel while queued, select where the phase lets them."""
    return {"can_cancel": submission.status == Submission.Status.QUEUED,
            "can_select": services.can_select(submission, rule), "selection_rule": rule}


def _own_actions(user, submission) -> dict:
    if not selectors.own_submissions(user).filter(pk=submission.pk).exists():
        return {"can_cancel": False, "can_select": False}
    return _actions(submission, services.selection_rule(submission.phase))
