"""The submission service: validation at upload, limits, the state machine, idempotent scoring, the reaper."""
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

import evaluation
from backend.submissions import services
from backend.submissions.models import Score, Submission

from .helpers import raw_upload, speech_upload

pytestmark = pytest.mark.django_db


def benchmark_of(challenge):
    return challenge.benchmarks.get()


def test_valid_upload_is_queued_and_enqueued_only_after_commit(speech_challenge, users, speech_data_dir,
                                                                django_capture_on_commit_callbacks):
    benchmark = benchmark_of(speech_challenge)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submission = services.create_submission(
            user=users["alice"], benchmark=benchmark, uploaded_file=speech_upload(speech_data_dir))
    assert submission.status == Submission.Status.QUEUED
    assert submission.file.read().startswith(b"{")
    assert len(callbacks) == 1  # the Celery message goes out only when the transaction commits


@pytest.mark.parametrize("content,name,expected", [
    (b"", "s.json", "is empty"),
    (b"{not json", "s.json", "JSON"),
    (b"[1, 2]", "s.json", "object"),
    (b"{}", "s.csv", "wrong type"),
])
def test_bad_files_are_rejected_with_a_reason(speech_challenge, users, content, name, expected):
    with pytest.raises(services.SubmissionRejected) as error:
        services.create_submission(user=users["alice"], benchmark=benchmark_of(speech_challenge),
                                   uploaded_file=raw_upload(content, name))
    assert error.value.field == "file"
    assert expected.lower() in error.value.message.lower()
    assert not Submission.objects.exists()


def test_unknown_clip_id_is_named(speech_challenge, users, speech_data_dir):
    def add_unknown(submission):
        submission["nontargets"][0] = "nowhere/never.wav"

    with pytest.raises(services.SubmissionRejected) as error:
        services.create_submission(user=users["alice"], benchmark=benchmark_of(speech_challenge),
                                   uploaded_file=speech_upload(speech_data_dir, mutate=add_unknown))
    assert "nowhere/never.wav" in error.value.message


def test_over_the_size_cap_is_rejected(speech_challenge, users, speech_data_dir):
    with pytest.raises(services.SubmissionRejected) as error:
        services.create_submission(user=users["alice"], benchmark=benchmark_of(speech_challenge),
                                   uploaded_file=speech_upload(speech_data_dir, train_size=60))
    assert "25" in error.value.message


def test_huge_upload_is_rejected_before_parsing(speech_challenge, users):
    phase = speech_challenge.phases.get()
    phase.max_upload_mb = 1
    phase.save()
    with pytest.raises(services.SubmissionRejected) as error:
        services.create_submission(user=users["alice"], benchmark=benchmark_of(speech_challenge),
                                   uploaded_file=raw_upload(b" " * (2 * 2**20)))
    assert error.value.status_code == 413
    assert "limit is 1 MiB" in error.value.message


def test_closed_phase_and_disabled_division_are_refused(speech_challenge, users, speech_data_dir):
    phase = speech_challenge.phases.get()
    with pytest.raises(services.SubmissionRejected) as error:
        services.create_submission(user=users["alice"], benchmark=benchmark_of(speech_challenge),
                                   uploaded_file=speech_upload(speech_data_dir), division="closed")
    assert error.value.field == "division"
    phase.ends_at = timezone.now() - timedelta(minutes=1)
    phase.starts_at = timezone.now() - timedelta(days=2)
    phase.save()
    with pytest.raises(services.SubmissionRejected) as error:
        services.create_submission(user=users["alice"], benchmark=benchmark_of(speech_challenge),
                                   uploaded_file=speech_upload(speech_data_dir))
    assert "not open" in error.value.message


def _submit(challenge, user, data_dir, seed=0):
    return services.create_submission(user=user, benchmark=benchmark_of(challenge),
                                      uploaded_file=speech_upload(data_dir, seed=seed))


def test_total_limit_counts_only_queued_running_and_scored(speech_challenge, users, speech_data_dir):
    phase = speech_challenge.phases.get()
    phase.max_submissions_total = 2
    phase.save()
    first = _submit(speech_challenge, users["alice"], speech_data_dir)
    _submit(speech_challenge, users["alice"], speech_data_dir, seed=1)
    with pytest.raises(services.SubmissionRejected) as error:
        _submit(speech_challenge, users["alice"], speech_data_dir, seed=2)
    assert error.value.status_code == 429 and "total limit" in error.value.message
    # A failed run gives the slot back.
    claimed, token = services.claim_for_evaluation(first.pk)
    services.fail_evaluation(first.pk, token, "broken")
    _submit(speech_challenge, users["alice"], speech_data_dir, seed=3)
    # Limits are per entrant: bob is unaffected.
    _submit(speech_challenge, users["bob"], speech_data_dir)


def test_daily_limit_names_the_next_slot(speech_challenge, users, speech_data_dir):
    phase = speech_challenge.phases.get()
    phase.max_submissions_per_day = 1
    phase.save()
    old = _submit(speech_challenge, users["alice"], speech_data_dir)
    with pytest.raises(services.SubmissionRejected) as error:
        _submit(speech_challenge, users["alice"], speech_data_dir, seed=1)
    assert "daily limit" in error.value.message and "UTC" in error.value.message
    Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    _submit(speech_challenge, users["alice"], speech_data_dir, seed=1)


def _fake_result(value=0.5):
    return evaluation.Result(scores={"macro_f1": value, "macro_f1_std": 0.01}, details={"seeds": []})


def test_state_machine_refuses_illegal_transitions(speech_challenge, users, speech_data_dir):
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    with pytest.raises(services.InvalidTransition):
        services._transition(submission, Submission.Status.SCORED)  # queued -> scored skips running
    services.cancel_submission(submission, by=users["organizer"])
    submission.refresh_from_db()
    with pytest.raises(services.InvalidTransition):
        services.cancel_submission(submission, by=users["organizer"])


def test_scores_are_stored_once_even_if_completion_is_repeated(speech_challenge, users, speech_data_dir):
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    _, token = services.claim_for_evaluation(submission.pk)
    assert services.complete_evaluation(submission.pk, token, _fake_result(), "macro_f1")
    assert not services.complete_evaluation(submission.pk, token, _fake_result(0.9), "macro_f1")
    assert Score.objects.filter(submission=submission).count() == 2
    assert Score.objects.get(submission=submission, metric="macro_f1").value == 0.5
    # Nothing to do for a finished submission when a duplicate message arrives.
    assert services.claim_for_evaluation(submission.pk) is None


def test_a_live_claim_drops_duplicates_and_a_stale_one_is_taken_over(speech_challenge, users, speech_data_dir,
                                                                     settings):
    from backend.jobs.models import Job

    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    _, first_token = services.claim_for_evaluation(submission.pk)
    # A duplicate message while the run is alive has nothing to do.
    assert services.claim_for_evaluation(submission.pk) is None
    Job.objects.filter(kind="score", subject_id=submission.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS + 1))
    _, second_token = services.claim_for_evaluation(submission.pk)
    assert second_token != first_token
    # The dead run can no longer write.
    assert not services.record_progress(submission.pk, first_token, 0.5, "zombie")
    assert not services.complete_evaluation(submission.pk, first_token, _fake_result(), "macro_f1")
    assert services.complete_evaluation(submission.pk, second_token, _fake_result(), "macro_f1")
    submission.refresh_from_db()
    assert submission.attempts == 2 and submission.status == Submission.Status.SCORED
    assert "previous run stopped responding" in submission.log


def test_missing_primary_metric_fails_instead_of_scoring(speech_challenge, users, speech_data_dir):
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    _, token = services.claim_for_evaluation(submission.pk)
    services.complete_evaluation(submission.pk, token, evaluation.Result(scores={"other": 1.0}), "macro_f1")
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert "macro_f1" in submission.failure_reason


def test_rerun_clears_old_scores_and_bumps_the_leaderboard(speech_challenge, users, speech_data_dir):
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    _, token = services.claim_for_evaluation(submission.pk)
    services.complete_evaluation(submission.pk, token, _fake_result(), "macro_f1")
    phase = speech_challenge.phases.get()
    version = phase.leaderboard_version
    services.rerun_submission(submission, by=users["organizer"])
    submission.refresh_from_db()
    phase.refresh_from_db()
    assert submission.status == Submission.Status.QUEUED
    assert not submission.scores.exists()
    assert phase.leaderboard_version == version + 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_cannot_exceed_the_limit(speech_challenge, users, speech_data_dir):
    phase = speech_challenge.phases.get()
    phase.max_submissions_total = 1
    phase.save()
    benchmark = benchmark_of(speech_challenge)
    results = []
    barrier = threading.Barrier(4)

    def submit(seed):
        try:
            barrier.wait()
            services.create_submission(user=users["alice"], benchmark=benchmark,
                                       uploaded_file=speech_upload(speech_data_dir, seed=seed))
            results.append("ok")
        except services.SubmissionRejected as rejected:
            results.append(rejected.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == [429, 429, 429, "ok"]
    assert Submission.objects.filter(user=users["alice"]).count() == 1


def test_attach_command_splits_public_and_hidden_and_rejects_bad_dirs(speech_challenge, speech_data_dir, tmp_path):
    from django.core.management import CommandError, call_command

    call_command("attach_benchmark_data", "kws", "en-25", str(speech_data_dir))
    artifacts = {a.visibility: a for a in speech_challenge.benchmarks.get().artifacts.all()}
    assert set(artifacts) == {"public", "hidden"}
    import zipfile

    hidden_names = zipfile.ZipFile(artifacts["hidden"].file.path).namelist()
    assert "eval.yaml" in hidden_names and all(n == "eval.yaml" or n.startswith("eval_embeddings/") for n in hidden_names)
    with pytest.raises(CommandError, match="not a directory"):
        call_command("attach_benchmark_data", "kws", "en-25", str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError):
        call_command("attach_benchmark_data", "kws", "en-25", str(tmp_path / "empty"))
    # The failed attach left the previous data in place.
    assert speech_challenge.benchmarks.get().artifacts.count() == 2
