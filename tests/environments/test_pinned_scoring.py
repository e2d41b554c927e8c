"""A benchmark pinned to dataperf-2023 is scored by a real Celery worker in that environment's
subprocess; the provenance shows on the submission page, in the API and on the leaderboard."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from rest_framework.test import APIClient

from backend.submissions.models import Submission
from evaluation import environments
from tests.backend.helpers import speech_upload
from tests.conftest import ROOT, Worker, wait_for_status

from .conftest import PINNED

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LABEL = "dataperf-2023 (scikit-learn 1.2.2)"


def pin(challenge, **fields):
    benchmark = challenge.benchmarks.get()
    benchmark.environment = PINNED
    for key, value in fields.items():
        setattr(benchmark, key, value)
    benchmark.save()
    return benchmark


def upload(client, user, data_dir, tmp_path, seed=4):
    file = speech_upload(data_dir, seed=seed)
    path = tmp_path / f"submission-{seed}.json"
    path.write_bytes(file.read())
    file.seek(0)
    client.force_authenticate(user)
    response = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25", "file": file},
                           format="multipart")
    assert response.status_code == 201, response.content
    return Submission.objects.get(pk=response.json()["id"]), path


def offline(data_dir, path, *extra) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "evaluation", "score", "speech-selection", "--data", str(data_dir), "--submission",
         str(path), "--json", "--train-size", "25", *extra], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout)


def scorer_processes() -> list[str]:
    python = str(environments.python_executable(PINNED))
    out = subprocess.run(["pgrep", "-af", f"{python} -m evaluation score"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def test_pinned_benchmark_is_scored_in_its_environment_and_says_so(
        dataperf_2023, speech_challenge, users, speech_data_dir, celery_worker_process, tmp_path):
    pin(speech_challenge)
    client = APIClient()
    submission, path = upload(client, users["alice"], speech_data_dir, tmp_path)
    submission = wait_for_status(submission, {"scored", "failed"}, timeout=300)
    assert submission.status == "scored", submission.failure_reason + submission.log

    pinned = offline(speech_data_dir, path, "--environment", PINNED)
    current = offline(speech_data_dir, path)
    assert pinned["score"] != current["score"]  # the two environments disagree on this file...
    body = client.get(f"/api/submissions/{submission.pk}/").json()
    assert body["scores"]["macro_f1"] == pinned["score"]  # ...and the worker used the pinned one, exactly
    assert body["details"]["per_seed"] == pinned["details"]["per_seed"]
    assert body["environment"] == pinned["environment"]
    assert body["environment"]["environment"] == PINNED and body["environment"]["scikit-learn"] == "1.2.2"
    assert body["environment"]["torch"] is None and body["environment"]["evaluator"] == environments.EVALUATOR_VERSION

    browser = APIClient()
    browser.force_login(users["alice"])
    page = browser.get(f"/submissions/{submission.pk}/").content.decode()
    assert "<th>scikit-learn</th><td>1.2.2</td>" in page and "<th>environment</th><td>dataperf-2023</td>" in page
    assert "<th>torch</th><td>not installed</td>" in page

    board = client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").json()
    assert board["rows"][0]["environment"] == LABEL
    assert board["rows"][0]["environment_versions"]["numpy"] == "1.24.4"
    exported = list(csv.reader(io.StringIO(
        client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/?export=csv").content.decode())))
    assert exported[0][-1] == "environment" and exported[1][-1] == LABEL
    benchmark_page = browser.get("/challenges/kws/en-25/").content.decode()
    assert "--environment dataperf-2023" in benchmark_page and ">Environment</th>" in benchmark_page
    assert not scorer_processes()


def test_an_unbuilt_environment_fails_with_the_command_to_build_it(speech_challenge, users, speech_data_dir, tmp_path):
    pin(speech_challenge)
    worker = Worker(extra_env={"DATAPERF_ENVIRONMENTS_DIR": str(tmp_path / "nothing-built-here")})
    try:
        client = APIClient()
        submission, _ = upload(client, users["alice"], speech_data_dir, tmp_path)
        submission = wait_for_status(submission, {"scored", "failed"})
    finally:
        worker.stop()
    assert submission.status == "failed"
    reason = client.get(f"/api/submissions/{submission.pk}/").json()["failure_reason"]
    assert "the organizers must run `python manage.py build_environment dataperf-2023`" in reason
    assert "Traceback" not in reason
    assert submission.environment == {}


def test_the_time_limit_kills_the_pinned_scorer(dataperf_2023, users, celery_worker_process, tmp_path_factory,
                                                tmp_path):
    from fixtures import synthetic
    from tests.conftest import add_benchmark, make_challenge

    # Far more than 1 s of scoring on any machine (small data is scored within the limit now).
    data_dir = tmp_path_factory.mktemp("speech-limit") / "data"
    synthetic.write_speech_data(data_dir, train_nontargets=2000, eval_nontargets=120000, dim=512, seed=5)
    challenge = make_challenge(users["organizer"], slug="kws")
    add_benchmark(challenge, "speech-selection", data_dir, slug="en-25")
    pin(challenge, time_limit_seconds=1)
    submission, _ = upload(APIClient(), users["alice"], data_dir, tmp_path)
    submission = wait_for_status(submission, {"scored", "failed"})
    assert submission.status == "failed"
    assert submission.failure_reason == "the evaluation exceeded its time limit of 1 s"
    assert not submission.scores.exists()
    deadline = time.time() + 5
    while scorer_processes() and time.time() < deadline:
        time.sleep(0.2)
    assert not scorer_processes()  # the child (and its group) was killed, not left running


@pytest.fixture(scope="module")
def slow_speech_dir(tmp_path_factory):
    from fixtures import synthetic

    data_dir = tmp_path_factory.mktemp("speech-slow") / "data"
    synthetic.write_speech_data(data_dir, train_nontargets=1000, eval_nontargets=20000, dim=256, seed=5)
    return data_dir


@pytest.fixture
def slow_pinned(dataperf_2023, users, slow_speech_dir):
    """A pinned benchmark whose scoring takes several seconds, so it can be interrupted mid-run."""
    from tests.conftest import add_benchmark, make_challenge

    data_dir = slow_speech_dir
    challenge = make_challenge(users["organizer"], slug="kws")
    add_benchmark(challenge, "speech-selection", data_dir, slug="en-25")
    pin(challenge)
    return data_dir


def wait_for_scorer(submission, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if scorer_processes():
            return
        submission.refresh_from_db()
        assert submission.status in ("queued", "running"), submission.failure_reason
        time.sleep(0.1)
    raise AssertionError("the pinned scorer never started")


def wait_until_no_scorer(timeout=10):
    deadline = time.time() + timeout
    while scorer_processes() and time.time() < deadline:
        time.sleep(0.2)
    return scorer_processes()


def test_cancelling_a_pinned_run_kills_its_scorer(slow_pinned, users, celery_worker_process, tmp_path):
    from backend.submissions import services

    submission, _ = upload(APIClient(), users["alice"], slow_pinned, tmp_path)
    wait_for_scorer(submission)
    services.cancel_submission(submission, by=users["organizer"])
    assert not wait_until_no_scorer()
    submission.refresh_from_db()
    assert submission.status == "cancelled" and not submission.scores.exists()


def test_a_killed_worker_process_takes_its_pinned_scorer_with_it(slow_pinned, users, celery_worker_process,
                                                                 tmp_path):
    submission, _ = upload(APIClient(), users["alice"], slow_pinned, tmp_path)
    wait_for_scorer(submission)
    for pid in celery_worker_process.pool_pids():
        os.kill(pid, signal.SIGKILL)
    assert not wait_until_no_scorer()  # no orphan keeps burning CPU outside any time limit
