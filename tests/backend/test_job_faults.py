"""Faults against real processes: a whole worker killed mid-scoring, the broker restarted without
persistence, the broker down at upload. Each submission must be scored exactly once, within 60 s of the
fault ending. Timings are the tests' short ones (tests/conftest.py: FAST_JOB_TIMINGS)."""
import time

import pytest
from rest_framework.test import APIClient

from backend.submissions import services
from backend.submissions.models import Score, Submission
from tests.conftest import Worker, add_benchmark, make_challenge, wait_for_status
from tests.jobs_helpers import PrivateRedis, broker, free_port

from .helpers import speech_upload

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
RECOVERY_SECONDS = 60


def _scored_once(submission):
    assert submission.status == "scored", (submission.status, submission.failure_reason, submission.log)
    assert Score.objects.filter(submission=submission, metric="macro_f1").count() == 1


def test_a_whole_worker_killed_mid_scoring_is_rerun_by_another_worker(users, tmp_path):
    from fixtures import synthetic

    # Big enough that scoring takes a few seconds, so the worker can be killed mid-run.
    data_dir = tmp_path / "speech-big"
    synthetic.write_speech_data(data_dir, train_nontargets=2000, eval_nontargets=40000, dim=512, seed=5)
    benchmark = add_benchmark(make_challenge(users["organizer"], slug="kws-big"), "speech-selection", data_dir,
                              slug="en-25")
    first = Worker(beat=False)
    second = None
    try:
        submission = services.create_submission(user=users["alice"], benchmark=benchmark,
                                                uploaded_file=speech_upload(data_dir, seed=1))
        deadline = time.time() + 120
        while time.time() < deadline:
            submission.refresh_from_db()
            if submission.status == "running" and submission.progress_message != "starting":
                break
            time.sleep(0.05)
        assert submission.status == "running"
        first.kill()  # main process and pool child: nothing is left to requeue the message
        killed_at = time.time()
        second = Worker()
        submission = wait_for_status(submission, {"scored", "failed"}, timeout=RECOVERY_SECONDS + 30)
        recovered_in = time.time() - killed_at
    finally:
        first.stop()
        if second is not None:
            second.stop()
    _scored_once(submission)
    print(f"whole worker killed -> scored by another worker in {recovered_in:.1f} s")
    assert recovered_in < RECOVERY_SECONDS, recovered_in
    assert submission.attempts == 2
    assert "previous run stopped responding" in submission.log


@pytest.fixture
def private_redis():
    redis = PrivateRedis(free_port())
    yield redis
    redis.kill()


def test_jobs_queued_before_a_broker_restart_are_scored_once_after_it(speech_challenge, users, speech_data_dir,
                                                                      private_redis):
    private_redis.start()
    benchmark = speech_challenge.benchmarks.get()
    with broker(private_redis.url):
        submissions = [services.create_submission(user=users["alice"], benchmark=benchmark,
                                                  uploaded_file=speech_upload(speech_data_dir, seed=seed))
                       for seed in range(3)]
        assert not any(services.waiting_for_queue(s) for s in submissions)  # the broker took them
        # Restart without persistence: every message is lost.
        private_redis.kill()
        private_redis.start()
        back_at = time.time()
        worker = Worker(extra_env={"CELERY_BROKER_URL": private_redis.url})
        try:
            submissions = [wait_for_status(s, {"scored", "failed"}, timeout=RECOVERY_SECONDS + 30) for s in submissions]
            recovered_in = time.time() - back_at
        finally:
            worker.stop()
    for submission in submissions:
        _scored_once(submission)
        assert submission.attempts == 1
    print(f"broker restarted without persistence -> 3 queued jobs scored in {recovered_in:.1f} s")
    assert recovered_in < RECOVERY_SECONDS, recovered_in


def test_an_upload_while_the_broker_is_down_is_answered_202_and_scored_when_it_is_back(
        speech_challenge, users, speech_data_dir, private_redis):
    client = APIClient()
    client.force_authenticate(users["alice"])
    with broker(private_redis.url):  # not started yet: the publish after commit is refused
        response = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25",
                                                     "file": speech_upload(speech_data_dir)}, format="multipart")
        assert response.status_code == 202, response.content
        assert "scoring starts when the queue is back" in response.json()["queue_message"]
        submission = Submission.objects.get(pk=response.json()["id"])
        assert submission.status == "queued" and submission.file.size > 0
        private_redis.start()
        back_at = time.time()
        worker = Worker(extra_env={"CELERY_BROKER_URL": private_redis.url})
        try:
            submission = wait_for_status(submission, {"scored", "failed"}, timeout=RECOVERY_SECONDS + 30)
            recovered_in = time.time() - back_at
        finally:
            worker.stop()
    _scored_once(submission)
    print(f"broker down at upload -> 202, scored {recovered_in:.1f} s after the broker came back")
    assert recovered_in < RECOVERY_SECONDS, recovered_in
