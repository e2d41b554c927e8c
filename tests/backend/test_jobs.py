"""The job machinery (backend/jobs) through the submission services: the outbox, re-publishing, dead runs
queued again and given up, a broker that refuses, Idempotency-Key, and a cache that is down."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.jobs import services as jobs
from backend.jobs.models import Job
from backend.submissions import services
from backend.submissions.models import Submission
from tests.jobs_helpers import REFUSING_BROKER, broker

from .helpers import speech_upload

pytestmark = pytest.mark.django_db


def _submit(challenge, user, data_dir, seed=0):
    return services.create_submission(user=user, benchmark=challenge.benchmarks.get(),
                                      uploaded_file=speech_upload(data_dir, seed=seed))


def _job(submission):
    return Job.objects.get(kind="score", subject_id=submission.pk)


def test_a_job_whose_message_never_left_is_published_by_the_sweep(speech_challenge, users, speech_data_dir, settings):
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    # The test's transaction never commits, so the publish after commit never ran: as if the web
    # process were killed between the commit and the publish.
    assert _job(submission).published_at is None
    assert jobs.sweep()["published"] == 0
    later = timezone.now() + timedelta(seconds=settings.JOBS_PUBLISH_GRACE_SECONDS + 1)
    assert jobs.sweep(now=later)["published"] == 1
    assert _job(submission).published_at is not None
    assert jobs.sweep(now=later)["published"] == 0


def _purge(queue):
    """The broker loses the queue's messages (as a restart without persistence does)."""
    from backend.config.celery import app

    with app.connection_for_write() as connection:
        try:
            connection.default_channel.queue_purge(queue)
        except Exception:  # noqa: BLE001 - no such queue: nothing to lose
            pass


def test_a_published_job_nobody_claimed_is_published_again_when_the_broker_lost_it(
        speech_challenge, users, speech_data_dir, settings):
    _purge("evaluation")
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    assert jobs.publish(_job(submission).pk)
    published_at = _job(submission).published_at
    later = published_at + timedelta(seconds=settings.JOBS_REPUBLISH_AFTER_SECONDS + 1)
    # The message is still in the broker: the job is only waiting for a free worker.
    assert jobs.broker_queue_depth("evaluation") >= 1
    assert jobs.sweep(now=later)["published"] == 0
    _purge("evaluation")
    assert jobs.sweep(now=later)["published"] == 1
    assert _job(submission).published_at > published_at
    # Once claimed, nothing is published again.
    _purge("evaluation")
    services.claim_for_evaluation(submission.pk)
    assert jobs.sweep(now=later + timedelta(seconds=settings.JOBS_REPUBLISH_AFTER_SECONDS + 1))["published"] == 0


def _die(submission, settings):
    """The worker running it dies: its heartbeat stops and goes stale."""
    Job.objects.filter(kind="score", subject_id=submission.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS + 1))


def test_a_dead_run_is_queued_again_and_given_up_after_max_attempts(speech_challenge, users, speech_data_dir,
                                                                     settings):
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    tokens = []
    for attempt in range(1, settings.JOBS_MAX_ATTEMPTS + 1):
        _, token = services.claim_for_evaluation(submission.pk)
        tokens.append(token)
        assert _job(submission).attempts == attempt
        _die(submission, settings)
        counts = jobs.sweep()
        if attempt < settings.JOBS_MAX_ATTEMPTS:
            assert counts["requeued"] == 1
            assert _job(submission).status == "queued"
            submission.refresh_from_db()
            assert submission.status == Submission.Status.RUNNING  # still in progress for the participant
        else:
            assert counts["gave_up"] == 1
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert f"the worker running it stopped {settings.JOBS_MAX_ATTEMPTS} times" in submission.failure_reason
    assert "does not count against your submission limit" in submission.failure_reason
    assert "given up" in submission.log
    # No dead run can write any more, and a late duplicate message has nothing to do.
    assert not any(services.record_progress(submission.pk, token, 0.5, "zombie") for token in tokens)
    assert services.claim_for_evaluation(submission.pk) is None


def test_a_refusing_broker_leaves_the_job_for_the_sweep(speech_challenge, users, speech_data_dir):
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    with broker(REFUSING_BROKER):
        assert jobs.publish(_job(submission).pk) is False
    assert _job(submission).published_at is None and _job(submission).status == "queued"
    assert jobs.publish(_job(submission).pk) is True


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _post(client, data_dir, key=None, seed=0, benchmark="en-25"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/submissions/", {"challenge": "kws", "benchmark": benchmark,
                                             "file": speech_upload(data_dir, seed=seed)}, format="multipart", **headers)


@pytest.mark.django_db(transaction=True)
def test_upload_with_the_broker_down_is_stored_and_answered_202(speech_challenge, users, speech_data_dir):
    with broker(REFUSING_BROKER):  # commits for real: the publish after commit is refused
        response = _post(_api(users["alice"]), speech_data_dir)
    assert response.status_code == 202, response.content
    body = response.json()
    assert "scoring starts when the queue is back" in body["queue_message"]
    submission = Submission.objects.get(pk=body["id"])
    assert submission.status == "queued" and _job(submission).published_at is None


def test_a_retry_with_the_same_idempotency_key_returns_the_same_submission(speech_challenge, users, speech_data_dir):
    phase = speech_challenge.phases.get()
    phase.max_submissions_total = 1
    phase.save()
    client = _api(users["alice"])
    first = _post(client, speech_data_dir, key="upload-1")
    assert first.status_code == 201, first.content
    retry = _post(client, speech_data_dir, key="upload-1")
    assert retry.status_code == 200, retry.content  # not 429: the retry does not use the quota again
    assert retry.json()["id"] == first.json()["id"]
    assert Submission.objects.filter(user=users["alice"]).count() == 1
    # Another user's key is their own.
    assert _post(_api(users["bob"]), speech_data_dir, key="upload-1").status_code == 201
    # A new upload without a key is a new submission (here refused by the limit).
    assert _post(client, speech_data_dir, seed=1).status_code == 429


def test_an_idempotency_key_reused_for_another_benchmark_is_refused(speech_challenge, users, speech_data_dir,
                                                                     tmp_path):
    from tests.conftest import add_benchmark

    add_benchmark(speech_challenge, "speech-selection", speech_data_dir, slug="other", config={"train_size": 25})
    client = _api(users["alice"])
    assert _post(client, speech_data_dir, key="k").status_code == 201
    response = _post(client, speech_data_dir, key="k", benchmark="other")
    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()["errors"]


def test_the_idempotency_key_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/").content.decode()
    assert "Idempotency-Key" in schema


def test_pages_and_leaderboards_serve_when_the_cache_is_down(speech_challenge, users, speech_data_dir, settings):
    settings.CACHES = {"default": {"BACKEND": "backend.core.cache.ForgivingRedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
    import evaluation

    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    _, token = services.claim_for_evaluation(submission.pk)
    services.complete_evaluation(submission.pk, token, evaluation.Result(scores={"macro_f1": 0.5}), "macro_f1")
    client = APIClient()
    assert client.get("/").status_code == 200
    assert client.get("/challenges/kws/").status_code == 200
    assert client.get("/challenges/kws/en-25/").status_code == 200
    board = client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/")
    assert board.status_code == 200 and board.json()["rows"][0]["score"] == 0.5
    assert client.get("/api/challenges/kws/leaderboard/").status_code == 200


def _leftover_upload_files(settings):
    from pathlib import Path

    return list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir())  # spooled uploads and validation copies


@pytest.mark.django_db(transaction=True)
def test_upload_temp_files_are_removed_whatever_the_outcome(speech_challenge, users, speech_data_dir, settings):
    from .helpers import raw_upload

    client = _api(users["alice"])
    before = set(_leftover_upload_files(settings))
    # Bigger than FILE_UPLOAD_MAX_MEMORY_SIZE, so Django spools it to a temporary file; invalid JSON.
    big = raw_upload(b"[" + b"0," * (3 * 2**20) + b"0]")
    response = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25", "file": big},
                           format="multipart")
    assert response.status_code == 400, response.content
    with broker(REFUSING_BROKER):
        assert _post(client, speech_data_dir).status_code == 202
    assert _post(client, speech_data_dir, seed=1).status_code == 201
    assert set(_leftover_upload_files(settings)) - before == set()


def test_a_run_killed_at_its_hard_time_limit_is_failed_not_rerun(speech_challenge, users, speech_data_dir, settings):
    submission = _submit(speech_challenge, users["alice"], speech_data_dir)
    services.claim_for_evaluation(submission.pk)
    job = _job(submission)
    limit = job.options["time_limit"]
    # It beat until Celery's hard limit killed its pool process, then went silent.
    started = timezone.now() - timedelta(seconds=limit + settings.JOBS_STALE_AFTER_SECONDS + 1)
    Job.objects.filter(pk=job.pk).update(started_at=started, heartbeat_at=started + timedelta(seconds=limit))
    assert jobs.sweep()["gave_up"] == 1
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert f"it ran longer than its time limit of {limit} s" in submission.failure_reason


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_idempotency_key_create_one_submission(speech_challenge, users, speech_data_dir):
    import threading

    from django.db import connection

    benchmark = speech_challenge.benchmarks.get()
    ids, created = [], []
    barrier = threading.Barrier(3)

    def submit():
        try:
            barrier.wait()
            submission = services.create_submission(user=users["alice"], benchmark=benchmark,
                                                    uploaded_file=speech_upload(speech_data_dir),
                                                    idempotency_key="same-upload")
            ids.append(submission.pk)
            created.append(submission.was_created)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1 and len(ids) == 3
    assert sorted(created) == [False, False, True]
    assert Submission.objects.filter(user=users["alice"]).count() == 1
    assert Job.objects.filter(kind="score", subject_id=ids[0]).count() == 1
