"""Every write of the verification app: ingesting scored test-set submissions, votes and organizer
overrides (consensus), the credit split on the leaderboard, the ratchet suite and rounds.

Locking: writes that touch a benchmark's targets or credits lock the benchmark row first
(``select_for_update``), then a target row; always in that order, so no two writers deadlock, and
a credit recomputation always sees a consistent set of verdicts. On SQLite the IMMEDIATE
transaction mode serialises writers the same way.
"""
from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from backend.core import uploads
from backend.core.errors import Rejected
from backend.accounts.models import Team, User
from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Benchmark, DatasetArtifact
from backend.challenges.services import bump_leaderboard, create_artifact, data_version
from backend.leaderboards import services as leaderboard_services
from backend.leaderboards import selectors as leaderboard_selectors
from backend.submissions import services as submission_services
from backend.submissions.models import Score, Submission
from evaluation import DataError, SubmissionError
from evaluation.benchmarks import test_set
from evaluation.models import resolve_suite

from .models import ProposedItem, Round, RoundScore, Target, Verification

log = logging.getLogger(__name__)
TEST_SET_KIND = "test-set"
TRAINING_SET_KIND = "training-set"
VERDICT_STATUS = {
    Verification.Verdict.CORRECT: Target.Status.CORRECT,
    Verification.Verdict.INCORRECT: Target.Status.INCORRECT,
    Verification.Verdict.FLAG: Target.Status.FLAGGED,
}
VERDICT_COUNTER = {
    Verification.Verdict.CORRECT: "correct_count",
    Verification.Verdict.INCORRECT: "incorrect_count",
    Verification.Verdict.FLAG: "flag_count",
}


class VerificationRejected(Rejected):
    """A proposal, vote or round action the platform refuses."""


def is_test_set(benchmark: Benchmark) -> bool:
    try:
        return benchmark.benchmark_type.kind == TEST_SET_KIND
    except KeyError:   # a type this installation does not know
        return False


class _SharedPredictions:
    """The platform cache as the suite predictions' store, namespaced by the benchmark's data version
    (the ratchet is hidden data, so a new round is a new version)."""

    TIMEOUT = 7 * 24 * 3600

    def __init__(self, benchmark: Benchmark):
        self.prefix = f"suite-predictions:{data_version(benchmark)}:"

    def get(self, key: str):
        return cache.get(self.prefix + key)

    def set(self, key: str, value) -> None:
        cache.set(self.prefix + key, value, timeout=self.TIMEOUT)


def suite_predictions(benchmark: Benchmark, problem: test_set.TestSetProblem | None = None) -> test_set.SuitePredictions:
    """What the benchmark's current suite predicts for every pool item. Trained once per data version
    across web processes and workers (seconds per benchmark), then read from the cache."""
    if problem is None:
        problem = submission_services.load_benchmark_problem(benchmark)
    return test_set.problem_predictions(problem, benchmark.effective_config, store=_SharedPredictions(benchmark))


def warm_suite_predictions(benchmark_id: int) -> bool:
    """Train the suite in the background after the data changed, so the pool's first visitor does not wait."""
    benchmark = Benchmark.objects.filter(pk=benchmark_id).first()
    if benchmark is None or not is_test_set(benchmark) or not benchmark.artifacts.exists():
        return False
    try:
        suite_predictions(benchmark, submission_services.load_benchmark_problem(benchmark).pool)
    except DataError as error:   # data half-attached (admin uploads one archive at a time): the next save warms
        log.info("benchmark %s: suite predictions not warmed yet: %s", benchmark_id, error)
        return False
    from . import live  # noqa: PLC0415 - live imports this module

    try:   # the fitted suite for created items (benchmarks whose data declares a raw kind)
        live.warm_live_suite(benchmark)
    except live.LiveRejected as error:
        log.info("benchmark %s: live suite not warmed: %s", benchmark_id, error)
    return True


# Job kinds (backend/jobs). One ``suite`` job per benchmark: attaching saves two archives and several
# workers may get a message, but the job is claimed once, so the suite is trained once per change.
SUITE, INGEST = "suite", "ingest-test-set"


def run_suite_job(job, lease) -> None:
    warm_suite_predictions(job.subject_id)


def run_ingest_job(job, lease) -> None:
    ingest_submission(job.subject_id)


def _lock(benchmark_id: int) -> None:
    Benchmark.objects.select_for_update().filter(pk=benchmark_id).first()


def _entrant(submission) -> str:
    """The leaderboard's notion of an entrant (see leaderboards.selectors)."""
    if submission["is_baseline"]:
        return f"baseline:{submission['baseline_name']}"
    if submission["team_id"]:
        return f"team:{submission['team_id']}"
    return f"user:{submission['user_id']}"


# --- participants: submitting a set from the pool browser -----------------------------------------

def submit_test_set(*, user: User, benchmark: Benchmark, items: list, division: str = "open", description: str = "",
                    team: Team | None = None) -> Submission:
    """Turn the pool browser's "my set" into a normal CSV submission (same limits, same validation)."""
    if not is_test_set(benchmark):
        raise VerificationRejected("benchmark", "this benchmark does not take test-set submissions", 404)
    if not isinstance(items, list):
        raise VerificationRejected("items", "expected a list of {item_id, label} objects")
    entries = []
    for position, entry in enumerate(items, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("item_id"), str) or not isinstance(entry.get("label"), str):
            raise VerificationRejected("items", f"item {position}: expected an object with the strings item_id and label")
        entries.append((f"item {position}", entry["item_id"].strip(), entry["label"].strip()))
    problem = submission_services.problem_for_upload(benchmark)  # broken data: 503, not 500
    try:
        test_set.check_proposals(problem, entries, benchmark.effective_config, "your set")
    except SubmissionError as error:
        raise VerificationRejected("items", str(error)) from None
    lines = ["item_id,label"] + [f"{item_id},{label}" for _, item_id, label in entries]
    if any("," in item_id or "," in label or '"' in item_id + label for _, item_id, label in entries):
        raise VerificationRejected("items", "item ids and labels may not contain commas or quotes")
    upload = SimpleUploadedFile("test-set.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")
    try:
        return submission_services.create_submission(user=user, benchmark=benchmark, uploaded_file=upload,
                                                     division=division, description=description, team=team)
    except submission_services.SubmissionRejected as rejected:
        field = "items" if rejected.field == "file" else rejected.field
        raise VerificationRejected(field, rejected.message, rejected.status_code) from None


# --- ingesting a scored submission (the machine part) -----------------------------------------------

def ingest_submission(submission_id: int) -> bool:
    """Record a scored test-set submission's items and machine results (``details["items"]`` from the
    worker), create the targets annotators verify, and recompute the benchmark's credits. Idempotent;
    a no-op for other benchmark types and unscored submissions."""
    submission = Submission.objects.select_related("benchmark").filter(pk=submission_id).first()
    if submission is None or not is_test_set(submission.benchmark):
        return False
    with transaction.atomic():
        _lock(submission.benchmark_id)
        submission = Submission.objects.get(pk=submission_id)
        if submission.status != Submission.Status.SCORED:
            return False
        _record_items(submission)
        recompute_credits(submission.benchmark)
    return True


def _record_items(submission: Submission) -> None:
    items = submission.details.get("items") or []
    suite_size = len(submission.details.get("suite") or [])
    kept = []
    for position, item in enumerate(items):
        target, _ = Target.objects.get_or_create(benchmark_id=submission.benchmark_id, item_id=str(item["item_id"]),
                                                 label=str(item["label"]))
        ProposedItem.objects.update_or_create(submission=submission, target=target, defaults={
            "position": position, "model_fooled": bool(item.get("fooled")), "wrong_votes": int(item.get("wrong_votes", 0)),
            "suite_size": suite_size, "novelty": item.get("novelty"),
        })
        kept.append(target.pk)
    submission.proposed_items.exclude(target_id__in=kept).delete()


def ingest_missing(benchmark: Benchmark) -> int:
    """Catch up on scored submissions whose ingestion was missed (e.g. a worker died in between)."""
    done = set(ProposedItem.objects.filter(submission__benchmark=benchmark).values_list("submission_id", flat=True))
    missing = (Submission.objects.filter(benchmark=benchmark, status=Submission.Status.SCORED)
               .exclude(pk__in=done).values_list("pk", flat=True))
    return sum(ingest_submission(pk) for pk in list(missing))


# --- credit ----------------------------------------------------------------------------------------

def recompute_credits(benchmark: Benchmark) -> dict[int, float]:
    """Store every scored submission's ``credit`` and ``verified`` scores and bump the leaderboard of
    each phase whose values changed. A target scores for a submission when the suite was fooled in
    that submission's run and humans verified the claimed label; its credit is split between the
    entrants whose submissions contain it (see evaluation.benchmarks.test_set.credit)."""
    with transaction.atomic():
        _lock(benchmark.pk)
        submissions = list(Submission.objects.filter(benchmark=benchmark, status=Submission.Status.SCORED)
                           .values("id", "phase_id", "user_id", "team_id", "is_baseline", "baseline_name", "created_at"))
        ids = [s["id"] for s in submissions]
        created = {s["id"]: s["created_at"] for s in submissions}
        # Once promoted into a round's test set an item is existing test data: later submissions
        # proposing it earn nothing for it (and do not dilute the credit of those who found it).
        promoted_at = dict(Target.objects.filter(benchmark=benchmark, promoted_round__isnull=False)
                           .values_list("pk", "promoted_round__started_at"))
        fooled: dict[int, list[int]] = {pk: [] for pk in ids}
        fooling_targets = set()
        for sub_id, target_id in ProposedItem.objects.filter(submission_id__in=ids, model_fooled=True).values_list(
                "submission_id", "target_id"):
            fooling_targets.add(target_id)
            if target_id not in promoted_at or created[sub_id] < promoted_at[target_id]:
                fooled[sub_id].append(target_id)
        Target.objects.filter(benchmark=benchmark, fooling=False, pk__in=fooling_targets).update(fooling=True)
        Target.objects.filter(benchmark=benchmark, fooling=True).exclude(pk__in=fooling_targets).update(fooling=False)
        scoring = set(Target.objects.filter(benchmark=benchmark, status=Target.Status.CORRECT).values_list("pk", flat=True))

        credits: dict[int, float] = {}
        verified: dict[int, int] = {}
        by_phase: dict[int, list[dict]] = {}
        for s in submissions:
            by_phase.setdefault(s["phase_id"], []).append(s)
        for phase_subs in by_phase.values():
            credits.update(test_set.credit({s["id"]: fooled[s["id"]] for s in phase_subs}, scoring,
                                           entrant_of={s["id"]: _entrant(s) for s in phase_subs}))
        for pk in ids:
            verified[pk] = len(set(fooled[pk]) & scoring)

        current = {(score.submission_id, score.metric): score.value
                   for score in Score.objects.filter(submission_id__in=ids, metric__in=("credit", "verified"))}
        changed_phases = set()
        changed_entrants = set()
        for s in submissions:
            for metric, value in (("credit", credits[s["id"]]), ("verified", float(verified[s["id"]]))):
                if current.get((s["id"], metric)) != value:
                    Score.objects.update_or_create(submission_id=s["id"], metric=metric, defaults={"value": value})
                    changed_phases.add(s["phase_id"])
                    changed_entrants.add((s["phase_id"], _entrant(s)))
        if changed_phases:
            bump_leaderboard(*changed_phases)
            for phase_id, entrant_key in sorted(changed_entrants):
                leaderboard_services.refresh_entrant(phase_id, benchmark.pk, entrant_key)
    return credits


# --- votes, consensus and organizer overrides ------------------------------------------------------

@dataclass
class VoteOutcome:
    vote: Verification
    target: Target
    resolved_now: bool


def _clean_verdict(target: Target, verdict: str, corrected_label: str, reason: str, class_names: list[str]) -> tuple[str, str, str]:
    verdict = (verdict or "").strip().lower()
    if verdict not in Verification.Verdict.values:
        raise VerificationRejected("verdict", f"unknown verdict {verdict!r}; use correct, incorrect or flag")
    corrected_label = (corrected_label or "").strip()
    reason = (reason or "").strip()
    if len(reason) > 1000:
        raise VerificationRejected("reason", f"the reason is {len(reason)} characters; at most 1000")
    if corrected_label:
        if verdict == Verification.Verdict.CORRECT:
            raise VerificationRejected("corrected_label", "a corrected label only goes with incorrect or flag")
        if corrected_label not in class_names:
            raise VerificationRejected("corrected_label", f"unknown label {corrected_label!r}; labels: {', '.join(class_names)}")
        if corrected_label == target.label:
            raise VerificationRejected("corrected_label", f"{corrected_label!r} is the proposed label itself")
    if verdict == Verification.Verdict.FLAG and not (reason or corrected_label):
        raise VerificationRejected("reason", "a flag needs a reason or a corrected label")
    return verdict, corrected_label, reason


def mine(user: User, prefix: str = "") -> Q:
    """Rows of submissions by the user or one of their teams."""
    return Q(**{f"{prefix}user": user}) | Q(**{f"{prefix}team__members": user})


def proposed_by(user: User, target: Target) -> bool:
    """Whether the user (or a team of theirs) proposed the target in any submission."""
    return ProposedItem.objects.filter(target=target).filter(mine(user, "submission__")).exists()


def record_vote(*, user: User, target: Target, verdict: str, corrected_label: str = "", reason: str = "") -> VoteOutcome:
    """One annotator's vote. Resolves the target once ``consensus_threshold`` votes match (exactly once,
    even when the last votes arrive together); late votes on a resolved target are kept for the
    agreement statistics but change nothing."""
    benchmark = target.benchmark
    if not challenge_selectors.annotates(user, benchmark.challenge):
        raise VerificationRejected("user", "only this challenge's annotators and organizers verify its items", 403)
    config = benchmark.effective_config
    class_names = submission_services.load_benchmark_problem(benchmark).class_names
    verdict, corrected_label, reason = _clean_verdict(target, verdict, corrected_label, reason, class_names)
    with transaction.atomic():
        _lock(benchmark.pk)
        target = Target.objects.select_for_update().get(pk=target.pk)
        if proposed_by(user, target):
            raise VerificationRejected("item", "you proposed this item yourself; someone else verifies it", 403)
        if Verification.objects.filter(target=target, annotator=user, is_override=False).exists():
            raise VerificationRejected("item", "you already verified this item", 409)
        try:
            with transaction.atomic():
                vote = Verification.objects.create(target=target, annotator=user, verdict=verdict,
                                                   corrected_label=corrected_label, reason=reason)
        except IntegrityError:
            raise VerificationRejected("item", "you already verified this item", 409) from None
        Target.objects.filter(pk=target.pk).update(vote_count=F("vote_count") + 1,
                                                   **{VERDICT_COUNTER[verdict]: F(VERDICT_COUNTER[verdict]) + 1})
        target.refresh_from_db()
        resolved_now = False
        if target.status == Target.Status.PENDING:
            threshold = int(config["consensus_threshold"])
            reached = [v for v in (verdict, *VERDICT_COUNTER) if getattr(target, VERDICT_COUNTER[v]) >= threshold]
            if reached:
                resolved_now = bool(Target.objects.filter(pk=target.pk, status=Target.Status.PENDING).update(
                    status=VERDICT_STATUS[reached[0]], resolved_by=Target.ResolvedBy.CONSENSUS, resolved_at=timezone.now()))
                target.refresh_from_db()
        if resolved_now:
            recompute_credits(benchmark)
    return VoteOutcome(vote, target, resolved_now)


def override(*, user: User, target: Target, verdict: str, corrected_label: str = "", reason: str = "") -> Target:
    """An organizer's verdict: resolves the target whatever the votes say (and replaces an earlier one)."""
    benchmark = target.benchmark
    if not challenge_selectors.organizes(user, benchmark.challenge):
        raise VerificationRejected("user", "only this challenge's organizers can override verdicts", 403)
    class_names = submission_services.load_benchmark_problem(benchmark).class_names
    verdict, corrected_label, reason = _clean_verdict(target, verdict, corrected_label, reason, class_names)
    with transaction.atomic():
        _lock(benchmark.pk)
        target = Target.objects.select_for_update().get(pk=target.pk)
        Verification.objects.create(target=target, annotator=user, verdict=verdict, corrected_label=corrected_label,
                                    reason=reason, is_override=True)
        target.status = VERDICT_STATUS[verdict]
        target.resolved_by = Target.ResolvedBy.ORGANIZER
        target.resolved_at = timezone.now()
        target.save(update_fields=["status", "resolved_by", "resolved_at"])
        recompute_credits(benchmark)
    return target


# --- the ratchet: suite members from the best training sets, rounds, re-scoring ---------------------

def linked_training_benchmarks(benchmark: Benchmark) -> list[Benchmark]:
    """The challenge's training-set benchmarks this test-set benchmark ratchets against."""
    wanted = set(benchmark.effective_config.get("ratchet_benchmarks") or [])
    linked = []
    for other in benchmark.challenge.benchmarks.exclude(pk=benchmark.pk):
        try:
            kind = other.benchmark_type.kind
        except KeyError:
            continue
        if kind == TRAINING_SET_KIND and (not wanted or other.slug in wanted):
            linked.append(other)
    return linked


def ranked_training_submissions(benchmark: Benchmark) -> list[tuple[Benchmark, Submission, float]]:
    """(training benchmark, submission, primary score) of every ranked row of the linked benchmarks in
    the current phase, best first (ties: earlier submission)."""
    phase = challenge_selectors.current_phase(benchmark.challenge)
    if phase is None:
        return []
    rows = []
    for other in linked_training_benchmarks(benchmark):
        for row in leaderboard_selectors.leaderboard_rows(phase, other):
            if row["score"] is not None:
                rows.append((other, row["submission_id"], row["score"], row["submitted_at"]))
    rows.sort(key=lambda r: (-r[2], r[3], r[1]))
    subs = Submission.objects.in_bulk([r[1] for r in rows])
    return [(other, subs[pk], score) for other, pk, score, _ in rows if pk in subs]


def training_data(submission: Submission) -> tuple[np.ndarray, np.ndarray]:
    """The (embeddings, labels) a training-set submission trains on. A benchmark type may provide
    ``training_data(problem, solution)``; the training-set type is read from its solution."""
    benchmark = submission.benchmark
    benchmark_type = benchmark.benchmark_type
    problem = submission_services.load_benchmark_problem(benchmark)
    with uploads.copy_directory() as tmp:
        path = submission_services.local_copy(submission, Path(tmp))
        solution = benchmark_type.load_submission(problem, path, benchmark.effective_config)
    if hasattr(benchmark_type, "training_data"):
        return benchmark_type.training_data(problem, solution)
    if benchmark_type.kind == TRAINING_SET_KIND and hasattr(solution, "rows"):
        X = np.vstack([problem.X[solution.rows], solution.X_extra]).astype(np.float32)
        return X, np.concatenate([solution.labels, solution.y_extra]).astype(np.int64)
    raise ValueError(f"{benchmark_type.slug} submissions do not provide a training set")


def current_round(benchmark: Benchmark) -> Round | None:
    return benchmark.verification_rounds.order_by("-number").first()


def _ensure_first_round(benchmark: Benchmark, by: User | None) -> Round:
    round_, _ = Round.objects.get_or_create(benchmark=benchmark, number=1,
                                            defaults={"started_at": timezone.now(), "started_by": by})
    return round_


def _freeze_suite(benchmark: Benchmark, round_: Round) -> Round:
    """Write the round's hidden/ratchet.npz (best K training sets + promoted ids) as a hidden artifact,
    replacing the previous one, so workers score new submissions against the ratcheted suite."""
    config = benchmark.effective_config
    problem = submission_services.load_benchmark_problem(benchmark)
    sets, notes = [], []
    for other, submission, score in ranked_training_submissions(benchmark):
        if len(sets) >= int(config["ratchet_top_k"]):
            break
        name = f"{other.slug}#{submission.pk}"
        try:
            X, y = training_data(submission)
        except Exception as error:  # noqa: BLE001 - one bad training set must not stop the round
            notes.append(f"{name}: left out ({error})")
            continue
        if X.shape[1] != problem.dim or (len(y) and (y.min() < 0 or y.max() >= len(problem.class_names))):
            notes.append(f"{name}: left out (its embeddings or labels do not match this benchmark's pool)")
            continue
        sets.append(test_set.TrainingSetData(name, X, y))
    promoted = sorted(set(Target.objects.filter(benchmark=benchmark, promoted_round__isnull=False)
                          .values_list("item_id", flat=True)))
    # Promoted created items are not in the pool: their features travel with the ratchet (novelty).
    promoted = [i for i in promoted if i in problem.index]   # a created item whose features no longer fit: left out
    created = {i: problem.X[problem.index[i]] for i in promoted if problem.is_created(i)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(test_set.RATCHET_PATH, date_time=(2020, 1, 1, 0, 0, 0)),
                         test_set.ratchet_bytes(sets, promoted, created))
    old = [r.ratchet_artifact_id for r in benchmark.verification_rounds.exclude(ratchet_artifact=None)]
    artifact = create_artifact(benchmark, DatasetArtifact.Visibility.HIDDEN,
                               f"{benchmark.slug}-ratchet-round-{round_.number}.zip", buffer.getvalue())
    DatasetArtifact.objects.filter(pk__in=old).delete()
    round_.ratchet_artifact = artifact
    round_.suite_members = list(resolve_suite(config["suite"])) + [
        f"{model}@{t.name}" for t in sets for model in resolve_suite(config["ratchet_suite"])]
    round_.notes = notes
    round_.save(update_fields=["ratchet_artifact", "suite_members", "notes"])
    return round_


def _require_organizer(user: User, benchmark: Benchmark) -> None:
    if not challenge_selectors.organizes(user, benchmark.challenge):
        raise VerificationRejected("user", "only this challenge's organizers can manage rounds", 403)


def refresh_suite(*, user: User, benchmark: Benchmark) -> Round:
    """Freeze the current best K training sets into the current round's suite (affects submissions
    scored from now on)."""
    _require_organizer(user, benchmark)
    with transaction.atomic():
        _lock(benchmark.pk)
        round_ = current_round(benchmark) or _ensure_first_round(benchmark, user)
        return _freeze_suite(benchmark, round_)


def eligible_for_promotion(benchmark: Benchmark):
    return Target.objects.filter(benchmark=benchmark, status=Target.Status.CORRECT, fooling=True,
                                 promoted_round__isnull=True)


def start_next_round(*, user: User, benchmark: Benchmark, item_ids: list[int] | None = None) -> Round:
    """Promote verified fooling items into the next round's hidden test set, freeze the ratcheted suite
    for the new round, and re-score every ranked training-set submission on the new items in the
    background."""
    _require_organizer(user, benchmark)
    with transaction.atomic():
        _lock(benchmark.pk)
        eligible = eligible_for_promotion(benchmark)
        if item_ids is not None:
            wanted = set(item_ids)
            found = set(eligible.filter(pk__in=wanted).values_list("pk", flat=True))
            if wanted - found:
                raise VerificationRejected("items", f"not verified fooling items awaiting promotion: "
                                           f"{', '.join(str(i) for i in sorted(wanted - found))}")
            eligible = eligible.filter(pk__in=wanted)
        previous = current_round(benchmark) or _ensure_first_round(benchmark, user)
        round_ = Round.objects.create(benchmark=benchmark, number=previous.number + 1, started_at=timezone.now(),
                                      started_by=user)
        promoted = eligible.update(promoted_round=round_)
        _freeze_suite(benchmark, round_)
        if promoted:
            for _, submission, _ in ranked_training_submissions(benchmark):
                RoundScore.objects.get_or_create(round=round_, submission=submission)
            from . import tasks

            round_id = round_.pk
            transaction.on_commit(lambda: tasks.score_round.delay(round_id))
    return round_


def round_test_set(round_: Round) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The round's hidden test set: its promoted items' embeddings and verified labels."""
    problem = submission_services.load_benchmark_problem(round_.benchmark)
    pairs = list(round_.promoted_targets.order_by("item_id", "label").values_list("item_id", "label"))
    ids = [item for item, _ in pairs]
    X = problem.X[[problem.index[item] for item in ids]] if ids else np.zeros((0, problem.dim), np.float32)
    y = np.array([problem.label_index(label) for _, label in pairs], dtype=np.int64)
    return ids, X, y


def score_round(round_id: int) -> dict[str, int]:
    """Score the round's queued training-set submissions on its test set (the Celery task's body)."""
    round_ = Round.objects.select_related("benchmark__challenge").filter(pk=round_id).first()
    if round_ is None:
        return {"scored": 0, "failed": 0}
    _, X_test, y_test = round_test_set(round_)
    counts = {"scored": 0, "failed": 0}
    for row in round_.scores.filter(status=RoundScore.Status.QUEUED).select_related("submission__benchmark"):
        training = row.submission.benchmark
        config = training.effective_config
        try:
            X, y = training_data(row.submission)
            result = test_set.score_training_set_on_items(X, y, X_test, y_test, suite=config.get("suite", "default"),
                                                          seed=int(config.get("seed", 0)))
        except Exception as error:  # noqa: BLE001 - recorded on the row for organizers
            log.exception("round %s: re-scoring submission %s failed", round_id, row.submission_id)
            RoundScore.objects.filter(pk=row.pk).update(status=RoundScore.Status.FAILED, error=str(error)[:2000],
                                                        updated_at=timezone.now())
            counts["failed"] += 1
            continue
        RoundScore.objects.filter(pk=row.pk).update(status=RoundScore.Status.SCORED, value=result["accuracy"],
                                                    details=result, error="", updated_at=timezone.now())
        counts["scored"] += 1
    return counts


def retry_round_scores(*, user: User, round_: Round) -> int:
    _require_organizer(user, round_.benchmark)
    with transaction.atomic():
        count = round_.scores.filter(status=RoundScore.Status.FAILED).update(status=RoundScore.Status.QUEUED, error="")
        from . import tasks

        round_id = round_.pk
        transaction.on_commit(lambda: tasks.score_round.delay(round_id))
    return count
