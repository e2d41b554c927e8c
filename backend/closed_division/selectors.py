"""Reads of the closed division, scoped by role.

A participant reaches a code run only through a submission they may see (their own or their
team's: ``submissions.selectors``); concealed tasks, their data and per-task runs are for the
challenge's organizers only, and the concealed score for participants once the phase shows it.
"""
from __future__ import annotations

from django.http import Http404

from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Benchmark, Phase
from backend.submissions import selectors as submission_selectors
from backend.submissions.models import Submission
from evaluation.starter_kits import StarterKit, get_kit

from .models import CodeRun, SandboxSettings

CONCEALED_COLUMN = "concealed"


def starter_kit_for(benchmark: Benchmark) -> StarterKit | None:
    try:
        return get_kit(benchmark.type_slug)
    except KeyError:
        return None


def concealed_scores_visible(phase: Phase | None) -> bool:
    return phase is not None and SandboxSettings.objects.filter(phase=phase, concealed_scores_visible=True).exists()


def has_concealed_tasks(benchmark: Benchmark) -> bool:
    return benchmark.concealed_tasks.exists()


def get_visible_code_run(user, submission_pk: int) -> CodeRun:
    """The code run of a submission the user may see; 404 otherwise (or when it has no code)."""
    submission = submission_selectors.get_visible_submission(user, submission_pk)
    run = CodeRun.objects.filter(submission=submission).select_related("submission__phase").first()
    if run is None:
        raise Http404("This submission has no code.")
    return run


def code_run_of(submission: Submission) -> CodeRun | None:
    return CodeRun.objects.filter(submission=submission).first()


def sees_everything(user, run: CodeRun) -> bool:
    """Organizers of the challenge see logs, per-task concealed runs and concealed scores."""
    return challenge_selectors.organizes(user, run.submission.benchmark.challenge)


def sees_concealed_score(user, run: CodeRun) -> bool:
    return sees_everything(user, run) or concealed_scores_visible(run.submission.phase)


def verification_by_submission(submission_ids: list[int]) -> dict[int, tuple[str, float | None]]:
    """{submission id: (code run status, concealed score)} for leaderboard rows."""
    return {
        sid: (status, score) for sid, status, score in
        CodeRun.objects.filter(submission_id__in=submission_ids).values_list(
            "submission_id", "status", "concealed_score")
    }
