"""Cross-app workflow: what happens in one app when something happens in another.

- an upload: the closed division checks and stores its code, and queues the code run;
- a test-set submission about to be scored: the model suite's shared predictions are trained first;
- a test-set benchmark's problem is loaded: the items participants created join its index
  (``verification.creation.extend_problem``), and an upload may only propose its own entrant's created items;
- a scored test-set submission: its items are ingested into verification (a job);
- a test-set benchmark's data changed: the suite is trained in the background (a job);
- a benchmark's board: the closed division's ranking rule and concealed-tasks column;
- a submission's scores stored or removed (or the submission deleted): its entrant's ranked row is
  refreshed in the same transaction (``leaderboards.services.refresh_for_submission``); a renamed team
  or user is renamed on the boards.
"""
from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from backend.accounts.models import Team, User
from backend.challenges.models import DatasetArtifact
from backend.closed_division import services as closed_division
from backend.closed_division.leaderboard import ClosedDivisionBoard
from backend.jobs import services as jobs
from backend.leaderboards import selectors as leaderboards
from backend.leaderboards import services as leaderboard_services
from backend.submissions import services as submission_services
from backend.submissions import signals as submission_signals
from backend.submissions.models import FinalSelection, Submission
from backend.verification import creation
from backend.verification import services as verification


def check_code(sender, *, phase, division, code_file, **kwargs) -> None:
    closed_division.check_code_upload(phase=phase, division=division, code_file=code_file)


def check_created_items(sender, *, benchmark, user, uploaded_file, **kwargs) -> None:
    creation.check_ownership(benchmark=benchmark, user=user, uploaded_file=uploaded_file)


def attach_code(sender, *, submission: Submission, code_file, **kwargs) -> None:
    if code_file is not None:
        closed_division.attach_code(submission, code_file)  # queues the sandbox run in the same transaction


def share_suite_predictions(sender, *, benchmark, problem, progress, **kwargs) -> None:
    if verification.is_test_set(benchmark):
        progress(0.05, "training the model suite")
        verification.suite_predictions(benchmark, problem)


def ingest_test_set(sender, *, submission: Submission, **kwargs) -> None:
    if verification.is_test_set(submission.benchmark):
        jobs.enqueue(verification.INGEST, submission.pk)


def train_suite_after_data_change(sender, instance: DatasetArtifact, **kwargs) -> None:
    if verification.is_test_set(instance.benchmark):
        jobs.enqueue(verification.SUITE, instance.benchmark_id)


def refresh_standing(sender, *, submission: Submission, **kwargs) -> None:
    leaderboard_services.refresh_for_submission(submission)


def refresh_after_delete(sender, instance: Submission, **kwargs) -> None:
    """A deleted scored submission (admin) may have been its entrant's row: re-pick it."""
    if instance.status == Submission.Status.SCORED:
        leaderboard_services.refresh_for_submission(instance)


def rename_on_board(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    """A renamed team or user: their leaderboard rows show the new name."""
    name_field = "name" if isinstance(instance, Team) else "username"
    if created or (update_fields is not None and name_field not in update_fields):  # e.g. last_login at sign-in
        return
    if isinstance(instance, Team):
        leaderboard_services.rename_entrant(f"team:{instance.pk}", instance.name)
    else:
        leaderboard_services.rename_entrant(f"user:{instance.pk}", instance.username)


def rerank_after_selection_rule(sender, instance, **kwargs) -> None:
    """A phase's final-selection rule appeared, changed or went: every entrant's row may be picked anew."""
    transaction.on_commit(lambda: leaderboard_services.rebuild(instance.phase_id))


def connect() -> None:
    post_save.connect(rename_on_board, sender=Team, dispatch_uid="orchestration-rename-team")
    post_save.connect(rename_on_board, sender=User, dispatch_uid="orchestration-rename-user")
    submission_signals.standing_changed.connect(refresh_standing, dispatch_uid="orchestration-standing")
    post_delete.connect(refresh_after_delete, sender=Submission, dispatch_uid="orchestration-standing-delete")
    post_save.connect(rerank_after_selection_rule, sender=FinalSelection, dispatch_uid="orchestration-selection-rule")
    post_delete.connect(rerank_after_selection_rule, sender=FinalSelection,
                        dispatch_uid="orchestration-selection-rule-delete")
    submission_signals.checking_upload.connect(check_code, dispatch_uid="orchestration-check-code")
    submission_signals.checking_upload.connect(check_created_items, dispatch_uid="orchestration-created-items")
    submission_services.register_problem_extension(creation.extend_problem)
    submission_signals.submission_created.connect(attach_code, dispatch_uid="orchestration-attach-code")
    submission_signals.preparing_scoring.connect(share_suite_predictions, dispatch_uid="orchestration-suite")
    submission_signals.submission_scored.connect(ingest_test_set, dispatch_uid="orchestration-ingest")
    post_save.connect(train_suite_after_data_change, sender=DatasetArtifact, dispatch_uid="orchestration-train-suite")
    leaderboards.register_extension(ClosedDivisionBoard())
