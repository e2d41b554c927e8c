"""Every write to a submission goes through here: creation (with limits and validation), the status
state machine, progress, scores, cancellation and re-runs. The background work (scoring, split parts,
background details) runs as jobs of ``backend.jobs``, which owns claims, heartbeats and recovery."""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db import IntegrityError
from django.utils import timezone

import evaluation
from backend.accounts.models import Team, User
from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Benchmark, Phase
from backend.challenges.services import bump_leaderboard
from backend.core import live, uploads
from backend.core.errors import NON_FIELD, Rejected
from backend.core.files import sha256_of
from backend.jobs import services as jobs
from backend.jobs.models import Job
from evaluation import cache as problem_cache
from evaluation import submission_io
from evaluation import environments as evaluation_environments

from . import notifications, selectors, signals
from .models import FinalSelection, Score, Submission, SubmissionPart

log = logging.getLogger(__name__)
S = Submission.Status

# The only status changes allowed; anything else is a bug and raises InvalidTransition.
TRANSITIONS: dict[str, set[str]] = {
    S.QUEUED: {S.RUNNING, S.CANCELLED, S.FAILED},  # failed: the job machinery gave up before it started
    S.RUNNING: {S.SCORED, S.FAILED, S.CANCELLED, S.QUEUED},
    S.SCORED: {S.QUEUED},
    S.FAILED: {S.QUEUED},
    S.CANCELLED: {S.QUEUED},
}
# Statuses that use up a participant's quota: failed and cancelled runs never do.
COUNTED_STATUSES = selectors.COUNTED_STATUSES
# Job kinds (backend/jobs): a submission's scoring, one task of a split submission, the slower extras.
SCORE, SCORE_PART, DETAILS = "score", "score-part", "details"


class InvalidTransition(Exception):
    pass


class SubmissionRejected(Rejected):
    """A submission (or submission action) the platform refuses."""


def _transition(submission: Submission, new_status: str) -> None:
    if new_status not in TRANSITIONS[submission.status]:
        raise InvalidTransition(f"submission {submission.pk}: {submission.status} -> {new_status} is not allowed")
    submission.status = new_status


def _changed(submission_id: int) -> None:
    """Tell the submission's open pages, after commit, that its status, progress or details changed
    (they re-read it through the API). Every write below that a page shows calls this."""
    live.publish_on_commit(f"submission:{submission_id}", {"submission": submission_id})


# --- creation -------------------------------------------------------------------------------------

# Functions (benchmark, problem) -> problem that add platform-held data to a loaded problem (e.g. the test-set
# items participants created, backend.verification); registered by backend.orchestration, so this app
# imports none of its extensions. Each must be cheap when nothing changed (it runs on every load).
_problem_extensions: list = []


def register_problem_extension(extend) -> None:
    if extend not in _problem_extensions:
        _problem_extensions.append(extend)


def load_benchmark_problem(benchmark: Benchmark):
    """The benchmark's loaded problem, cached per process (workers and validating web processes), with
    what the registered extensions add (the one place every scorer, validator and page loads it)."""
    from backend.challenges.services import materialize_benchmark_data

    data_dir = materialize_benchmark_data(benchmark)
    problem = problem_cache.load_problem(benchmark.benchmark_type, data_dir, benchmark.effective_config)
    for extend in _problem_extensions:
        problem = extend(benchmark, problem)
    return problem


class BenchmarkDataUnavailable(SubmissionRejected):
    """The benchmark's own (hidden) data cannot be loaded: not the participant's fault, nothing is stored."""

    def __init__(self):
        super().__init__("benchmark", "this benchmark's data is unavailable right now; the organizers have been told", 503)


def problem_for_upload(benchmark: Benchmark):
    """The benchmark's problem for validating an upload; broken data is a 503 for the participant and
    an error with the reason in the log for the organizers."""
    try:
        return load_benchmark_problem(benchmark)
    except Exception as error:  # a corrupt or incomplete data artifact: tell the organizers, not the participant
        log.error("benchmark %s (challenge %s): its data cannot be loaded, uploads are refused with 503: %s",
                  benchmark.slug, benchmark.challenge.slug, error, exc_info=True)
        raise BenchmarkDataUnavailable() from None


def validate_submission_file(benchmark: Benchmark, path: Path, display_name: str | None = None):
    """Parse the file with the benchmark type's validator within the web process's budget
    (``SUBMISSION_VALIDATION_BUDGET_MB``); SubmissionError names the problem. ``path`` is named as
    the participant named the file, so messages quote their name (``display_name`` is kept for callers
    whose path is named otherwise)."""
    problem = problem_for_upload(benchmark)
    budget = settings.SUBMISSION_VALIDATION_BUDGET_MB * 2**20
    with submission_io.limits(max_unpacked_bytes=budget, max_file_bytes=min(budget, submission_io.current_limits().max_file_bytes)):
        try:
            return benchmark.benchmark_type.load_submission(problem, path, benchmark.effective_config)
        except evaluation.SubmissionError:
            raise
        except (RecursionError, MemoryError, ValueError, TypeError, KeyError, IndexError, OSError) as error:
            # A validator bug must not become a 500: the participant gets a sentence, the log the traceback.
            log.error("benchmark %s: validating %r crashed", benchmark.slug, display_name or path.name, exc_info=True)
            raise evaluation.SubmissionError(
                f"{display_name or path.name}: could not be read ({type(error).__name__}); "
                "check the format described on the benchmark page") from None


def _display_name(uploaded_name: str) -> str:
    """The participant's file name, safe as a file name in our temp directory (base name, no NULs,
    at most 200 characters) — the name every validation message quotes."""
    name = Path((uploaded_name or "").replace("\\", "/")).name.replace("\x00", "")
    if name in ("", ".", ".."):
        name = "submission"
    if len(name.encode()) > 200:
        suffix = Path(name).suffix[:20]
        name = name.encode()[:200 - len(suffix.encode())].decode(errors="ignore") + suffix
    return name


def local_copy(submission: Submission, directory: Path) -> Path:
    """Copy a stored submission's file into ``directory`` under the participant's own file name, so
    every message a validator or scorer writes about it quotes the name they uploaded (a copy named
    ``submission.json`` made every worker-side error name that file instead)."""
    name = _display_name(submission.original_name)
    suffix = Path(submission.file.name).suffix
    if suffix and not name.lower().endswith(suffix.lower()):
        name += suffix  # the validators choose the reader by suffix; the stored name's is the checked one
    folder = Path(directory) / "upload"  # its own folder: no participant's name can meet a file of ours
    folder.mkdir(exist_ok=True)
    path = folder / name
    with submission.file.open("rb") as src, path.open("wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            dst.write(chunk)
    return path


def _short(message: str, limit: int = 600) -> str:
    """Every validator cuts the values it echoes; this keeps any message one screen long regardless."""
    return message if len(message) <= limit else message[:limit] + "…"


def _check_file(phase: Phase, benchmark: Benchmark, uploaded_file) -> None:
    if uploaded_file is None:
        raise SubmissionRejected("file", "no file was uploaded")
    suffixes = benchmark.benchmark_type.submission_suffixes
    name = uploaded_file.name or ""
    if suffixes and not any(name.lower().endswith(s) for s in suffixes):
        raise SubmissionRejected("file", f"{name!r} has the wrong type; expected one of: {', '.join(suffixes)}")
    if uploaded_file.size == 0:
        raise SubmissionRejected("file", f"{name!r} is empty")
    limit = min(phase.max_upload_mb * 2**20, settings.SUBMISSION_MAX_UPLOAD_BYTES)
    if uploaded_file.size > limit:
        raise SubmissionRejected(
            "file", f"{name!r} is {uploaded_file.size / 2**20:.1f} MiB; the limit is {limit / 2**20:.0f} MiB", 413
        )


def _check_quota(phase: Phase, benchmark: Benchmark, user: User, team: Team | None) -> None:
    """Called with the entrant's row locked, so concurrent uploads are counted one after another."""
    counted = selectors.counted_submissions(phase, benchmark, user, team)
    who = f"team {team.name}" if team else "you"
    if phase.max_submissions_total is not None and counted.count() >= phase.max_submissions_total:
        raise SubmissionRejected(  # about the entrant, not the file: a sentence of its own
            NON_FIELD, f"{who} already made {phase.max_submissions_total} submissions to this benchmark in this phase "
            f"(the total limit); failed and cancelled ones do not count", 429,
        )
    if phase.max_submissions_per_day is not None:
        since = timezone.now() - timedelta(days=1)
        recent = list(counted.filter(created_at__gte=since).order_by("created_at").values_list("created_at", flat=True))
        if len(recent) >= phase.max_submissions_per_day:
            next_slot = recent[0] + timedelta(days=1)
            raise SubmissionRejected(
                NON_FIELD, f"daily limit reached: {len(recent)} submissions in the last 24 hours (limit "
                f"{phase.max_submissions_per_day}); the next one is possible at {next_slot:%Y-%m-%d %H:%M} UTC", 429,
            )


def _validate_upload(benchmark: Benchmark, uploaded_file) -> None:
    """Parse the upload with the type's validator in a temporary copy (always removed) named as the
    participant named it; SubmissionRejected names the file and the problem."""
    display_name = _display_name(uploaded_file.name)
    with uploads.copy_directory() as tmp:  # in the spool: swept if this process is killed
        path = Path(tmp) / display_name  # the validators name the file as the participant did
        with path.open("wb") as out:
            for chunk in uploaded_file.chunks():
                out.write(chunk)
        try:
            validate_submission_file(benchmark, path, display_name)
        except evaluation.SubmissionError as error:
            message = str(error)
            if display_name not in message:  # a member of an archive: say which upload it came from
                message = f"{display_name}: {message}"
            raise SubmissionRejected("file", _short(message)) from None


def _retried(user: User, idempotency_key: str, benchmark: Benchmark) -> Submission | None:
    """The submission an earlier request with this key created, if any."""
    if not idempotency_key:
        return None
    previous = Submission.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if previous is not None and previous.benchmark_id != benchmark.pk:
        raise SubmissionRejected("Idempotency-Key", f"this key was used for submission {previous.pk} to another "
                                                    "benchmark; use a new key for each upload", 409)
    return previous


def create_submission(
    *, user: User, benchmark: Benchmark, uploaded_file, phase: Phase | None = None, division: str = "open",
    description: str = "", team: Team | None = None, is_baseline: bool = False, baseline_name: str = "",
    code_file=None, idempotency_key: str = "",
) -> Submission:
    """``code_file``: in the closed division, the code that produced ``uploaded_file`` (taken by the
    receivers of ``signals.checking_upload`` / ``submission_created``). ``idempotency_key``: a client's
    retry with the same key returns the submission the first request created (``was_created`` False)."""
    if len(idempotency_key) > 100:
        raise SubmissionRejected("Idempotency-Key", "is longer than 100 characters")
    if (previous := _retried(user, idempotency_key, benchmark)) is not None:
        previous.was_created = False
        return previous
    challenge = benchmark.challenge
    is_organizer = challenge_selectors.organizes(user, challenge)
    if not challenge.is_published and not is_organizer:
        raise SubmissionRejected("benchmark", "this challenge is not open for submissions", 404)
    if phase is None:
        phase = challenge_selectors.current_phase(challenge)
    if phase is None or phase.challenge_id != challenge.pk:
        raise SubmissionRejected("phase", "this challenge has no phase for submissions")
    if not phase.is_open() and not is_baseline:
        raise SubmissionRejected("phase", f"phase {phase.name!r} is not open for submissions now")
    if division not in Submission.Division.values:
        raise SubmissionRejected("division", f"unknown division {division!r}; use 'open' or 'closed'")
    if division == Submission.Division.OPEN and not phase.open_division:
        raise SubmissionRejected("division", "the open division is not accepting submissions in this phase")
    if division == Submission.Division.CLOSED and not phase.closed_division:
        raise SubmissionRejected("division", "the closed division is not accepting submissions in this phase")
    if team is not None and not team.members.filter(pk=user.pk).exists():
        raise SubmissionRejected("team", f"you are not a member of team {team.name!r}")
    if team is not None and team.challenge_id not in (None, challenge.pk):
        raise SubmissionRejected("team", f"team {team.name!r} belongs to another challenge")
    _check_file(phase, benchmark, uploaded_file)
    signals.checking_upload.send(sender=Submission, phase=phase, benchmark=benchmark, division=division,
                                 code_file=code_file, user=user, team=team, uploaded_file=uploaded_file)
    _validate_upload(benchmark, uploaded_file)

    suffix = Path(uploaded_file.name).suffix
    try:
        with transaction.atomic():
            # Lock the entrant's row so two concurrent uploads cannot both pass the quota check (nor two
            # retries with one idempotency key both create a submission).
            # The user's row first: joining and leaving teams take it too, so the team an upload counts
            # against cannot change under it. A member of a team in this challenge always submits as the
            # team (its limits, its leaderboard row).
            User.objects.select_for_update().get(pk=user.pk)
            if not is_baseline:
                team = _challenge_team(user, challenge, team)
            if team is not None:
                Team.objects.select_for_update().get(pk=team.pk)
            if (previous := _retried(user, idempotency_key, benchmark)) is not None:
                previous.was_created = False
                return previous
            if not is_baseline:
                _check_quota(phase, benchmark, user, team)
            submission = Submission(
                phase=phase, benchmark=benchmark, user=user, team=team, division=division, description=description,
                original_name=Path(uploaded_file.name).name[:255], size_bytes=uploaded_file.size,
                sha256=sha256_of(uploaded_file), is_baseline=is_baseline, baseline_name=baseline_name,
                queued_at=timezone.now(), idempotency_key=idempotency_key or None,
            )
            submission.file.save(f"{uuid.uuid4().hex}{suffix}", uploaded_file, save=False)
            submission.save()
            _enqueue(submission)
            signals.submission_created.send(sender=Submission, submission=submission, code_file=code_file)
    except IntegrityError:
        # The same key committed by a concurrent request on another entrant row (e.g. a team upload).
        if (previous := _retried(user, idempotency_key, benchmark)) is not None:
            previous.was_created = False
            return previous
        raise
    submission.was_created = True
    return submission


def _challenge_team(user: User, challenge, chosen: Team | None) -> Team | None:
    """The team an upload belongs to: the user's team in this challenge when they have one (called with
    the user's row locked), else the team they chose (an admin-made team without a challenge), else none."""
    current = Team.objects.filter(challenge=challenge, members=user).first()
    if current is None:
        return chosen
    if chosen is not None and chosen.pk != current.pk:
        raise SubmissionRejected("team", f"you submit to this challenge as team {current.name!r}, not {chosen.name!r}")
    return current


def _enqueue(submission: Submission) -> None:
    """Queue the scoring job in the caller's transaction (published after commit, or by the sweep)."""
    limit = submission.benchmark.effective_time_limit
    jobs.enqueue(SCORE, submission.pk, options={"soft_time_limit": limit, "time_limit": limit + 30})


QUEUE_DOWN_MESSAGE = "queued; scoring starts when the queue is back (the upload is stored)"


def waiting_for_queue(submission: Submission) -> bool:
    """True when the broker refused the scoring job (it is down): the sweep publishes it when it is back."""
    return jobs.publish_failed(SCORE, submission.pk)


# --- the evaluation lifecycle (worker side; the job machinery holds the lease) ---------------------

def start_evaluation(submission_id: int, job: Job) -> Submission | None:
    """Move the submission of a claimed scoring job to running under the job's run token. None when
    there is nothing to do (scored, failed, cancelled, deleted). A submission still running from a
    run whose worker died is started again."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().filter(pk=submission_id).first()
        if submission is None or submission.status not in (S.QUEUED, S.RUNNING):
            return None
        now = timezone.now()
        if submission.status == S.RUNNING:
            submission.log += f"[{now:%Y-%m-%d %H:%M:%S}] previous run stopped responding; running again\n"
        else:
            _transition(submission, S.RUNNING)
        submission.run_token = job.run_token
        submission.attempts = job.attempts
        submission.started_at = now
        submission.heartbeat_at = now
        submission.progress = 0.0
        submission.progress_message = "starting"
        submission.save()
        _changed(submission.pk)
        return submission


def claim_for_evaluation(submission_id: int) -> tuple[Submission, str] | None:
    """Claim the submission's scoring job and start it (what a worker does first). None when the job
    has nothing to do, including a duplicate message for a run that is alive."""
    job_id = Job.objects.filter(kind=SCORE, subject_id=submission_id).values_list("pk", flat=True).first()
    job = jobs.claim(job_id) if job_id else None
    if job is None:
        return None
    submission = start_evaluation(submission_id, job)
    if submission is None:
        jobs.finish(job.pk, job.run_token)
        return None
    return submission, job.run_token


def gave_up_scoring(submission_id: int, job: Job, reason: str) -> None:
    """The job machinery stopped trying (its kind's ``on_gave_up``): fail the submission, saying why."""
    _give_up(submission_id, reason, job.message)


def gave_up_part(part_id: int, job: Job, reason: str) -> None:
    submission_id = SubmissionPart.objects.filter(pk=part_id).values_list("submission_id", flat=True).first()
    if submission_id is not None:
        _give_up(submission_id, reason, job.message, token=job.args.get("token"))


def _give_up(submission_id: int, reason: str, log_text: str, token: str | None = None) -> None:
    with transaction.atomic():
        qs = Submission.objects.select_for_update().filter(pk=submission_id, status__in=(S.QUEUED, S.RUNNING))
        if token is not None:
            qs = qs.filter(run_token=token)
        submission = qs.first()
        if submission is None:
            return
        _transition(submission, S.FAILED)
        submission.failure_reason = (f"the evaluation could not be completed: {reason}; this does not count "
                                     "against your submission limit, and the organizers can re-run it")
        submission.log += log_text
        submission.finished_at = timezone.now()
        submission.save()
        _changed(submission.pk)
        notifications.submission_finished(submission)


def record_progress(submission_id: int, token: str, fraction: float, message: str) -> bool:
    recorded = bool(
        Submission.objects.filter(pk=submission_id, run_token=token, status=S.RUNNING).update(
            progress=max(0.0, min(1.0, fraction)), progress_message=message[:200], heartbeat_at=timezone.now()
        )
    )
    if recorded:
        _changed(submission_id)
    return recorded


def complete_evaluation(submission_id: int, token: str, result: evaluation.Result, primary_metric: str,
                        environment: dict | None = None) -> bool:
    """Store the scores and mark the submission scored, once. Ignored if the run lost its claim.
    ``environment`` is the provenance of the process that scored it (default: this one)."""
    if primary_metric not in result.scores or result.scores[primary_metric] is None:
        return fail_evaluation(submission_id, token, f"the scorer did not produce the primary metric {primary_metric!r}")
    with transaction.atomic():
        submission = Submission.objects.select_for_update().filter(pk=submission_id, run_token=token).first()
        if submission is None or submission.status != S.RUNNING:
            return False
        for metric, value in result.scores.items():
            Score.objects.update_or_create(submission=submission, metric=metric, defaults={"value": value})
        _transition(submission, S.SCORED)
        submission.details = result.details
        submission.environment = environment if environment is not None else evaluation_environments.provenance()
        submission.progress = 1.0
        submission.progress_message = "scored"
        submission.failure_reason = ""
        submission.finished_at = timezone.now()
        submission.save()
        bump_leaderboard(submission.phase_id)
        _changed(submission.pk)
        signals.standing_changed.send(sender=Submission, submission=submission)
        signals.submission_scored.send(sender=Submission, submission=submission)
        notifications.submission_finished(submission)
    return True


def start_parts(submission_id: int, token: str, task_ids: list[str]) -> bool:
    """Fan a submission's independent tasks out as separate jobs (published after commit)."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().filter(pk=submission_id, run_token=token, status=S.RUNNING).first()
        if submission is None:
            return False
        _drop_parts(submission)
        parts = SubmissionPart.objects.bulk_create([SubmissionPart(submission=submission, task_id=t) for t in task_ids])
        submission.progress_message = f"scoring {len(task_ids)} tasks on the workers"
        submission.heartbeat_at = timezone.now()
        submission.save(update_fields=["progress_message", "heartbeat_at"])
        _changed(submission.pk)
        limit = submission.benchmark.effective_time_limit
        for part in parts:
            jobs.enqueue(SCORE_PART, part.pk, args={"token": token},
                         options={"soft_time_limit": limit, "time_limit": limit + 30})
    return True


def _drop_parts(submission: Submission) -> None:
    part_ids = list(submission.parts.values_list("pk", flat=True))
    jobs.cancel(SCORE_PART, part_ids)
    submission.parts.all().delete()


def record_part(submission_id: int, token: str, task_id: str, result: dict) -> list[dict] | None:
    """Store one task's result. Returns every task's result when this was the last one missing
    (exactly one caller gets them: the rows are locked), else None."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().filter(pk=submission_id, run_token=token, status=S.RUNNING).first()
        if submission is None:
            return None
        stored = SubmissionPart.objects.filter(submission=submission, task_id=task_id, result__isnull=True).update(
            result=result, finished_at=timezone.now())
        parts = list(submission.parts.all())
        done = sum(part.result is not None for part in parts)
        Submission.objects.filter(pk=submission_id).update(
            progress=done / len(parts), progress_message=f"{done} of {len(parts)} tasks scored", heartbeat_at=timezone.now())
        _changed(submission_id)
        if stored and done == len(parts):  # a duplicate delivery of a finished task stores nothing
            return [part.result for part in parts]
    return None


def request_background_details(submission: Submission, token: str) -> None:
    """Queue the slower extras (e.g. plot curves) of a scored submission, in the caller's transaction."""
    jobs.enqueue(DETAILS, submission.pk, args={"token": token})


def attach_background_details(submission_id: int, token: str, extra: dict) -> bool:
    with transaction.atomic():
        submission = Submission.objects.select_for_update().filter(pk=submission_id, run_token=token, status=S.SCORED).first()
        if submission is None:
            return False
        submission.details = {**submission.details, **extra}
        submission.save(update_fields=["details"])
        _changed(submission.pk)
    return True


def fail_evaluation(submission_id: int, token: str | None, reason: str, log_text: str = "") -> bool:
    with transaction.atomic():
        qs = Submission.objects.select_for_update().filter(pk=submission_id)
        if token is not None:
            qs = qs.filter(run_token=token)
        submission = qs.first()
        if submission is None or submission.status != S.RUNNING:
            return False
        _transition(submission, S.FAILED)
        submission.failure_reason = reason
        if log_text:
            submission.log += log_text if log_text.endswith("\n") else log_text + "\n"
        submission.finished_at = timezone.now()
        submission.save()
        _changed(submission.pk)
        notifications.submission_finished(submission)
    return True


# --- participant actions -------------------------------------------------------------------------

def cancel_own_submission(submission: Submission, *, by: User) -> Submission:
    """A participant withdraws their own (or their team's) submission while it is still queued. Under
    the row lock the worker's ``start_evaluation`` also takes, so exactly one of the two wins: a
    cancelled submission is never started, and a started one is not cancelled here (only organizers stop
    a running evaluation). A cancelled submission does not count against the limits (``COUNTED_STATUSES``),
    as on EvalAI and Codabench, where only completed or pending runs use the quota."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission.pk)
        if submission.status == S.RUNNING:
            raise SubmissionRejected(NON_FIELD, f"submission {submission.pk} is already being scored; only a queued "
                                                "submission can be cancelled")
        if submission.status != S.QUEUED:
            raise SubmissionRejected(NON_FIELD, f"submission {submission.pk} is {submission.status}; only a queued "
                                                "submission can be cancelled")
        _transition(submission, S.CANCELLED)
        jobs.cancel(SCORE, [submission.pk])
        submission.failure_reason = f"cancelled by {by.username}; it does not count against your submission limits"
        submission.selected = False
        submission.finished_at = timezone.now()
        submission.save()
    return submission


def selection_rule(phase: Phase) -> FinalSelection | None:
    return FinalSelection.objects.filter(phase=phase).first()


SELECTABLE_STATUSES = (S.QUEUED, S.RUNNING, S.SCORED)


def can_select(submission: Submission, rule: FinalSelection | None) -> bool:
    """Whether pages offer (un)selecting it: the phase has a rule and is not over, and it is the
    entrant's own, live submission (``select_submission`` checks the same, and the limit)."""
    phase = submission.phase
    phase_over = phase.ends_at is not None and timezone.now() >= phase.ends_at
    return (rule is not None and not submission.is_baseline and not phase_over
            and (submission.selected or submission.status in SELECTABLE_STATUSES))


def select_submission(submission: Submission, *, by: User, selected: bool = True) -> Submission:
    """Mark (or unmark) a submission as one that counts for the phase's final ranking, within the phase's
    ``FinalSelection`` rule: at most ``max_selected`` per entrant and benchmark, until the phase ends.
    Counted with the entrant's row locked, so two concurrent selections cannot exceed the limit."""
    phase = submission.phase
    rule = selection_rule(phase)
    if rule is None:
        raise SubmissionRejected(NON_FIELD, f"phase {phase.name!r} does not let participants choose which "
                                            "submissions count; the leaderboard uses the phase's ranking rule")
    if submission.is_baseline:
        raise SubmissionRejected(NON_FIELD, "baselines cannot be selected")
    if phase.ends_at is not None and timezone.now() >= phase.ends_at:
        raise SubmissionRejected(NON_FIELD, f"phase {phase.name!r} has ended; its selections are final")
    with transaction.atomic():
        if submission.team_id is not None:
            Team.objects.select_for_update().get(pk=submission.team_id)
        User.objects.select_for_update().get(pk=submission.user_id)
        submission = Submission.objects.select_for_update().get(pk=submission.pk)
        if submission.selected == selected:
            return submission
        if selected:
            if submission.status not in SELECTABLE_STATUSES:
                raise SubmissionRejected(NON_FIELD, f"submission {submission.pk} is {submission.status}; only queued, "
                                                    "running or scored submissions can be selected")
            entrant = {"team_id": submission.team_id} if submission.team_id else {"user_id": submission.user_id,
                                                                                  "team__isnull": True}
            already = Submission.objects.filter(phase=phase, benchmark_id=submission.benchmark_id, selected=True,
                                                **entrant).exclude(pk=submission.pk).count()
            if already >= rule.max_selected:
                raise SubmissionRejected(NON_FIELD, f"{already} submissions to this benchmark are already selected "
                                                    f"(the phase allows {rule.max_selected}); unselect one first")
        submission.selected = selected
        submission.save(update_fields=["selected"])
        if submission.status == S.SCORED:
            bump_leaderboard(phase.pk)
            signals.standing_changed.send(sender=Submission, submission=submission)
    return submission


# --- organizer actions ---------------------------------------------------------------------------

def cancel_submission(submission: Submission, *, by: User) -> Submission:
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission.pk)
        was_scored = submission.status == S.SCORED
        if submission.status not in (S.QUEUED, S.RUNNING):
            raise InvalidTransition(f"a {submission.status} submission cannot be cancelled")
        _transition(submission, S.CANCELLED)
        jobs.cancel(SCORE, [submission.pk])
        jobs.cancel(SCORE_PART, submission.parts.values_list("pk", flat=True))
        submission.failure_reason = f"cancelled by {by.username}"
        submission.finished_at = timezone.now()
        submission.save()
        _changed(submission.pk)
        if was_scored:
            bump_leaderboard(submission.phase_id)
            signals.standing_changed.send(sender=Submission, submission=submission)
    return submission


def rerun_submission(submission: Submission, *, by: User) -> Submission:
    """Queue a submission again (after a fix to the data or the scorer). Its old scores are removed
    so the leaderboard never mixes runs."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission.pk)
        if submission.status in (S.QUEUED,):
            return submission
        was_scored = submission.status == S.SCORED
        _transition(submission, S.QUEUED)
        submission.scores.all().delete()
        _drop_parts(submission)
        submission.run_token = ""
        submission.progress = 0.0
        submission.progress_message = ""
        submission.failure_reason = ""
        submission.details = {}
        submission.environment = {}
        submission.queued_at = timezone.now()
        submission.finished_at = None
        submission.log += f"[{timezone.now():%Y-%m-%d %H:%M:%S}] re-run requested by {by.username}\n"
        submission.save()
        _changed(submission.pk)
        if was_scored:
            bump_leaderboard(submission.phase_id)
            signals.standing_changed.send(sender=Submission, submission=submission)
        _enqueue(submission)
    return submission


def rescore_benchmark(benchmark: Benchmark, *, by: User) -> int:
    """Re-queue every scored submission of a benchmark (after its evaluation environment or data
    changed), so its leaderboard is recomputed in one environment. Returns how many. Refused, before
    anything is queued, when the benchmark's environment lacks a library its config needs."""
    problem = benchmark.environment_problem()
    if problem:
        raise SubmissionRejected("environment", f"{benchmark}: {problem}; nothing was re-queued")
    with transaction.atomic():
        rescored = 0
        for scored in Submission.objects.filter(benchmark=benchmark, status=S.SCORED).order_by("pk"):
            rerun_submission(scored, by=by)
            rescored += 1
    return rescored


def accept_discovered_slice(submission: Submission, *, label: str, name: str, by: User) -> int:
    """Add a slice a participant discovered to the benchmark's ground truth (paper §2.2) and re-score
    every scored submission of the benchmark against the enlarged ground truth. Returns how many."""
    from evaluation.benchmarks import slicing

    from backend.challenges.services import add_hidden_file

    benchmark = submission.benchmark
    if benchmark.type_slug != slicing.Slicing.slug:
        raise SubmissionRejected("submission", "only slicing submissions have slices to accept")
    problem = load_benchmark_problem(benchmark)
    with uploads.copy_directory() as tmp:
        path = local_copy(submission, Path(tmp))
        try:
            solution = benchmark.benchmark_type.load_submission(problem, path, benchmark.effective_config)
            members = slicing.submitted_slice_members(problem, solution, label)
        except evaluation.SubmissionError as error:
            raise SubmissionRejected("slice", str(error)) from None
    try:
        relative_path, content = slicing.extra_slice_file(name, members)
    except ValueError as error:
        raise SubmissionRejected("name", str(error)) from None
    with transaction.atomic():
        try:
            add_hidden_file(benchmark, relative_path, content)
        except ValueError as error:
            raise SubmissionRejected("name", f"a slice named {name!r} exists already ({error})", 409) from None
        rescored = 0
        for scored in Submission.objects.filter(benchmark=benchmark, status=S.SCORED):
            rerun_submission(scored, by=by)
            rescored += 1
    return rescored
