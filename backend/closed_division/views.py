"""Pages of the closed division: the starter-kit download and the organizer's re-verify button."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from backend.challenges import selectors as challenge_selectors
from backend.submissions import selectors as submission_selectors

from . import services
from .api import starter_kit_response


def starter_kit(request, slug: str, benchmark: str):
    return starter_kit_response(challenge_selectors.get_visible_benchmark(request.user, slug, benchmark))


@login_required
@require_POST
def reverify(request, pk: int):
    submission = submission_selectors.get_visible_submission(request.user, pk)
    if not challenge_selectors.organizes(request.user, submission.benchmark.challenge):
        raise PermissionDenied("Only this challenge's organizers may re-run the verification.")
    try:
        services.reverify(submission, by=request.user)
    except services.NoCode as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The code will be run again.")
    return redirect("submission-detail", pk=submission.pk)
