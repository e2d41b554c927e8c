"""Server-rendered verification pages: the annotators' index and queue, the organizers' console."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from backend.challenges import selectors as challenge_selectors
from backend.challenges import services as challenge_services

from . import creation, selectors, services


def _require_annotator(user) -> None:
    if not (selectors.can_verify(user) or user.is_annotator):
        raise PermissionDenied("Only a challenge's annotators and organizers verify items.")


@login_required
def verify_home(request):
    _require_annotator(request.user)
    rows = [{"benchmark": b, "counts": selectors.queue_counts(request.user, b),
             "organizer": challenge_selectors.organizes(request.user, b.challenge)}
            for b in selectors.verifiable_benchmarks(request.user)]
    return render(request, "verification/home.html", {"rows": rows})


@login_required
def verify_queue(request, slug: str, benchmark: str):
    _require_annotator(request.user)
    # Another challenge's annotator: 404, as if there were no queue (they learn nothing about it).
    benchmark = selectors.get_verifiable_benchmark(request.user, slug, benchmark)
    return render(request, "verification/queue.html", {
        "benchmark": benchmark, "challenge": benchmark.challenge,
        "threshold": benchmark.effective_config["consensus_threshold"],
        "is_organizer": challenge_selectors.organizes(request.user, benchmark.challenge),
    })


def _organizer_benchmark(request, slug: str, benchmark: str):
    benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
    if not challenge_selectors.organizes(request.user, benchmark.challenge):
        raise PermissionDenied("Only this challenge's organizers manage verification.")
    return benchmark


@login_required
def manage(request, slug: str, benchmark: str):
    benchmark = _organizer_benchmark(request, slug, benchmark)
    overview = selectors.organizer_overview(benchmark)
    return render(request, "verification/manage.html", {
        "benchmark": benchmark, "challenge": benchmark.challenge, "report": selectors.agreement_report(benchmark),
        "rounds": selectors.rounds_summary(benchmark), "overview": overview,
        "round_scores": {r.number: selectors.round_detail_scores(r) for r in overview["rounds"]},
        "class_names": selectors.problem_of(benchmark).class_names,
    })


@login_required
@require_POST
def manage_action(request, slug: str, benchmark: str):
    benchmark = _organizer_benchmark(request, slug, benchmark)
    action = request.POST.get("action", "")
    try:
        if action == "override":
            target = selectors.get_target(benchmark, int(request.POST.get("target", 0) or 0))
            target = services.override(user=request.user, target=target, verdict=request.POST.get("verdict", ""),
                                       corrected_label=request.POST.get("corrected_label", ""),
                                       reason=request.POST.get("reason", ""))
            messages.success(request, f"{target.item_id} as {target.label!r}: {target.get_status_display()} (organizer verdict).")
        elif action == "start_round":
            round_ = services.start_next_round(user=request.user, benchmark=benchmark)
            messages.success(request, f"Round {round_.number} started with {round_.promoted_targets.count()} promoted "
                                      "item(s); ranked training sets are being re-scored in the background.")
        elif action == "refresh_suite":
            round_ = services.refresh_suite(user=request.user, benchmark=benchmark)
            messages.success(request, f"Round {round_.number} suite: {', '.join(round_.suite_members)}.")
        elif action == "recompute":
            caught_up = services.ingest_missing(benchmark)
            services.recompute_credits(benchmark)
            messages.success(request, f"Credits recomputed ({caught_up} submission(s) caught up).")
        elif action == "retry_round":
            round_ = benchmark.verification_rounds.get(number=int(request.POST.get("round", 0) or 0))
            count = services.retry_round_scores(user=request.user, round_=round_)
            messages.success(request, f"Re-scoring {count} failed row(s) of round {round_.number}.")
        else:
            messages.error(request, f"Unknown action {action!r}.")
    except services.VerificationRejected as error:
        messages.error(request, f"Refused — {error.sentence}")
    except (ValueError, benchmark.verification_rounds.model.DoesNotExist):
        messages.error(request, "Refused — the form was incomplete.")
    return redirect("verify-manage", slug=benchmark.challenge.slug, benchmark=benchmark.slug)


# --- a challenge's people: organizers add and remove annotators and co-organizers ---------------------

def _organized_challenge(request, slug: str):
    challenge = challenge_selectors.get_visible_challenge(request.user, slug)
    if not challenge_selectors.organizes(request.user, challenge):
        raise PermissionDenied("Only this challenge's organizers manage its people.")
    return challenge


@login_required
@require_http_methods(["GET", "POST"])
def people(request, slug: str):
    """Who organizes and who verifies the challenge, and who verified what. POST: add or remove."""
    challenge = _organized_challenge(request, slug)
    if request.method == "POST":
        action, role = request.POST.get("action", ""), request.POST.get("role", "")
        try:
            if action == "add":
                user = challenge_services.add_person(challenge, username=request.POST.get("username", ""), role=role)
                messages.success(request, f"{user.username} is now {'an annotator' if role == 'annotator' else 'an organizer'} "
                                          f"of {challenge.title}.")
            elif action == "remove":
                try:
                    user_id = int(request.POST.get("user", ""))
                except ValueError:
                    raise challenge_services.PeopleRejected("user", "no user was chosen") from None
                challenge_services.remove_person(challenge, user_id=user_id, role=role, by=request.user)
                messages.success(request, "Removed.")
            else:
                raise challenge_services.PeopleRejected("action", f"unknown action {action!r}")
        except challenge_services.PeopleRejected as error:
            # Shown in the page, answered with the refusal's 4xx (nothing changed).
            messages.error(request, f"Refused — {error.field}: {error.message}")
            return _people_page(request, challenge, status=error.status_code)
        return redirect("challenge-people", slug=challenge.slug)
    return _people_page(request, challenge)


def _people_page(request, challenge, status: int = 200):
    return render(request, "verification/people.html", {
        "challenge": challenge,
        "organizers": challenge.organizers.order_by("username"),
        "annotators": challenge.annotators.order_by("username"),
        "verifications": selectors.verifications_by_annotator(challenge),
        "benchmarks": [b for b in challenge.benchmarks.all() if services.is_test_set(b)],
    }, status=status)


# --- created items (model-in-the-loop) ----------------------------------------------------------------

@login_required
def create_page(request, slug: str, benchmark: str):
    """The page where a participant creates an item, asks the models and submits it."""
    benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
    return render(request, "verification/create.html", selectors.creation_context(request.user, benchmark))


@login_required
def created_raw(request, slug: str, benchmark: str, number: int):
    """A created item's raw form, for its creator, the challenge's annotators and organizers only (404
    for everyone else). Never cached by a shared cache, never rendered as anything but its own type."""
    benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
    item = creation.raw_item_for(request.user, benchmark, number)
    if item.kind == item.Kind.TEXT:
        response = HttpResponse(item.text, content_type="text/plain; charset=utf-8")
    else:
        if not item.raw_file:
            raise Http404("No such item.")
        response = FileResponse(item.raw_file.open("rb"), content_type=item.content_type)
    response["Content-Disposition"] = f'inline; filename="{item.item_id}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
