"""Through a real Celery worker process on the configured broker (Redis in CI) and database."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from rest_framework.test import APIClient

from backend.submissions.models import Score, Submission
from tests.conftest import ROOT, Worker, add_benchmark, make_challenge, wait_for_status

from .helpers import speech_upload

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def offline_score(type_slug, data_dir, submission_path, *extra):
    """The score participants get from the offline CLI for the same file."""
    out = subprocess.run(
        [sys.executable, "-m", "evaluation", "score", type_slug, "--data", str(data_dir), "--submission",
         str(submission_path), "--json", *extra], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout)["score"]


def test_upload_is_scored_by_the_worker_like_the_offline_cli(speech_challenge, users, speech_data_dir,
                                                              celery_worker_process, tmp_path):
    upload = speech_upload(speech_data_dir, seed=4)
    path = tmp_path / "submission.json"
    path.write_bytes(upload.read())
    upload.seek(0)
    client = APIClient()
    client.force_authenticate(users["alice"])
    created = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25", "file": upload},
                          format="multipart").json()
    submission = wait_for_status(Submission.objects.get(pk=created["id"]), {"scored", "failed"})
    assert submission.status == "scored", submission.failure_reason
    body = client.get(f"/api/submissions/{submission.pk}/").json()
    expected = offline_score("speech-selection", speech_data_dir, path, "--train-size", "25")
    assert body["scores"]["macro_f1"] == pytest.approx(expected, abs=1e-12)
    rows = client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").json()["rows"]
    assert rows[0]["entrant"] == "alice" and rows[0]["score"] == pytest.approx(expected, abs=1e-12)


def test_rerun_of_a_damaged_file_fails_with_a_readable_reason(speech_challenge, users, speech_data_dir,
                                                               celery_worker_process):
    from backend.submissions import services

    submission = services.create_submission(user=users["alice"], benchmark=speech_challenge.benchmarks.get(),
                                            uploaded_file=speech_upload(speech_data_dir))
    assert wait_for_status(submission, {"scored", "failed"}).status == "scored"
    # The stored file is damaged later (e.g. storage corruption); an organizer re-runs it; the worker re-validates.
    with open(submission.file.path, "wb") as fh:
        fh.write(b"{broken")
    services.rerun_submission(submission, by=users["organizer"])
    submission = wait_for_status(submission, {"failed"})
    assert submission.failure_reason.startswith("invalid submission:")
    assert "Traceback" not in submission.failure_reason
    assert not submission.scores.exists()


def test_a_killed_worker_process_leads_to_one_rerun_and_one_score(users, tmp_path, transactional_db):
    from fixtures import synthetic

    # Big enough that scoring takes a few seconds, so the pool process can be killed mid-run.
    data_dir = tmp_path / "speech-big"
    synthetic.write_speech_data(data_dir, train_nontargets=2000, eval_nontargets=40000, dim=512, seed=5)
    challenge = make_challenge(users["organizer"], slug="kws-big")
    benchmark = add_benchmark(challenge, "speech-selection", data_dir, slug="en-25")
    worker = Worker()
    try:
        from backend.submissions import services

        submission = services.create_submission(user=users["alice"], benchmark=benchmark,
                                                uploaded_file=speech_upload(data_dir, seed=1))
        deadline = time.time() + 120
        while time.time() < deadline:
            submission.refresh_from_db()
            if submission.status == "running" and submission.progress_message != "starting":
                break
            time.sleep(0.05)
        assert submission.status == "running"
        for pid in worker.pool_pids():
            os.kill(pid, signal.SIGKILL)
        submission = wait_for_status(submission, {"scored", "failed"}, timeout=240)
    finally:
        worker.stop()
    assert submission.status == "scored", (submission.failure_reason, worker.log_path.read_text()[-2000:])
    assert submission.attempts >= 2
    assert Score.objects.filter(submission=submission, metric="macro_f1").count() == 1
    assert "stopped responding" in submission.log


@pytest.fixture
def big_speech_dir(tmp_path_factory):
    from fixtures import synthetic

    # Its evaluation set alone (~490 MB as float64, plus the file being read) cannot fit under the
    # test's 1,200 MB address-space cap on top of a worker process, however lean the scorer gets.
    data_dir = tmp_path_factory.mktemp("speech-limits") / "data"
    synthetic.write_speech_data(data_dir, train_nontargets=2000, eval_nontargets=120000, dim=512, seed=5)
    return data_dir


@pytest.fixture
def slow_speech_dir(tmp_path_factory):
    """Big enough that scoring takes several seconds even with the fast path (about 6 s on one core)."""
    from fixtures import synthetic

    data_dir = tmp_path_factory.mktemp("speech-slow") / "data"
    synthetic.write_speech_data(data_dir, train_nontargets=2000, eval_nontargets=120000, dim=512, seed=5)
    return data_dir


def test_time_limit_fails_the_run_with_the_limit_named(users, slow_speech_dir, transactional_db):
    challenge = make_challenge(users["organizer"], slug="kws-slow")
    benchmark = add_benchmark(challenge, "speech-selection", slow_speech_dir, slug="en-25")
    benchmark.time_limit_seconds = 1
    benchmark.save()
    worker = Worker()
    try:
        from backend.submissions import services

        submission = services.create_submission(user=users["alice"], benchmark=benchmark,
                                                uploaded_file=speech_upload(slow_speech_dir, seed=2))
        submission = wait_for_status(submission, {"scored", "failed"}, timeout=120)
    finally:
        worker.stop()
    assert submission.status == "failed", (submission.status, submission.failure_reason)
    assert "time limit of 1 s" in submission.failure_reason


def test_memory_limit_fails_the_run_and_the_worker_takes_the_next_job(users, big_speech_dir, speech_data_dir,
                                                                       transactional_db):
    challenge = make_challenge(users["organizer"], slug="kws-mem")
    big = add_benchmark(challenge, "speech-selection", big_speech_dir, slug="big")
    small = add_benchmark(challenge, "speech-selection", speech_data_dir, slug="small")
    worker = Worker(extra_env={"EVALUATION_MEMORY_LIMIT_MB": "1200"})
    try:
        from backend.submissions import services

        first = services.create_submission(user=users["alice"], benchmark=big,
                                           uploaded_file=speech_upload(big_speech_dir, seed=2))
        first = wait_for_status(first, {"scored", "failed"}, timeout=120)
        second = services.create_submission(user=users["alice"], benchmark=small,
                                            uploaded_file=speech_upload(speech_data_dir, seed=2))
        second = wait_for_status(second, {"scored", "failed"}, timeout=120)
    finally:
        worker.stop()
    assert first.status == "failed" and "out of memory" in first.failure_reason, first.failure_reason
    assert second.status == "scored"


def test_vision_zip_upload_is_scored_per_concept_like_the_offline_cli(vision_challenge, users, vision_data_dir,
                                                                        celery_worker_process, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from fixtures import synthetic

    submission = synthetic.random_vision_submission(vision_data_dir, concepts=("Cupcake", "Hawk", "Sushi"), seed=3)
    path = synthetic.write_vision_submission(tmp_path / "train_sets.zip", submission, fmt="zip")
    client = APIClient()
    client.force_authenticate(users["bob"])
    created = client.post("/api/submissions/", {
        "challenge": "vision", "benchmark": "concepts",
        "file": SimpleUploadedFile("train_sets.zip", path.read_bytes())}, format="multipart")
    assert created.status_code == 201, created.json()
    scored = wait_for_status(Submission.objects.get(pk=created.json()["id"]), {"scored", "failed"})
    assert scored.status == "scored", scored.failure_reason
    expected = offline_score("vision-selection", vision_data_dir, path)
    board = client.get("/api/challenges/vision/benchmarks/concepts/leaderboard/").json()
    row = board["rows"][0]
    assert row["score"] == pytest.approx(expected, abs=1e-12)
    assert {c["key"] for c in board["columns"]} >= {"mean_f1", "f1_Cupcake", "f1_Hawk", "f1_Sushi"}
