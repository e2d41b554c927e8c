"""Faults against real processes: a whole worker killed mid-scoring and mid-code-run (closed division),
the broker restarted without persistence, the broker down at upload. Each submission must be scored (its
code run verified) exactly once, within 60 s of the fault ending. Timings are the tests' short ones (tests/conftest.py: FAST_JOB_TIMINGS)."""
import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from backend.closed_division.models import CodeRun
from backend.jobs.models import Job
from backend.sandbox import cgroups, scratch, sweeper
from backend.submissions import services
from backend.submissions.models import Score, Submission
from evaluation.starter_kits import make_starter_kit_zip
from tests.closed_division.conftest import KIT_TOP, kit_with, needs_sandbox, run_kit_locally, upload
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
        [pool_pid] = first.pool_pids()
        # Its working copy of the upload lives in a scratch directory the dying process holds.
        assert list(scratch.state_dir().glob(f"score-{pool_pid}-*")), "the scoring run has no working directory"
        first.kill()  # main process and pool child: nothing is left to requeue the message
        killed_at = time.time()
        second = Worker()
        submission = wait_for_status(submission, {"scored", "failed"}, timeout=RECOVERY_SECONDS + 30)
        recovered_in = time.time() - killed_at
        deadline = time.time() + 10  # the new worker sweeps this host when it starts
        while list(scratch.state_dir().glob(f"*-{pool_pid}-*")) and time.time() < deadline:
            time.sleep(0.2)
        left = [path.name for path in scratch.state_dir().glob(f"*-{pool_pid}-*")]
    finally:
        first.stop()
        if second is not None:
            second.stop()
    _scored_once(submission)
    print(f"whole worker killed -> scored by another worker in {recovered_in:.1f} s")
    assert recovered_in < RECOVERY_SECONDS, recovered_in
    assert submission.attempts == 2
    assert "previous run stopped responding" in submission.log
    assert left == [], left  # the dead run's working directory and its lock are gone


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


def _sandbox_runs_of(pid: int) -> dict[str, int | None]:
    """Scratch directories (name -> sandbox uid) registered by process ``pid`` on this host."""
    runs = {}
    for lock in scratch.state_dir().glob(f"*-{pid}-*.lock"):
        try:
            runs[lock.name[: -len(".lock")]] = json.loads(lock.read_text() or "{}").get("uid")
        except (OSError, ValueError):  # being created or removed right now
            continue
    return runs


def _left_behind(pid: int, names, uid: int) -> list[str]:
    """What the dead pool process ``pid``'s run left on this host: its sandbox uid's processes, its
    scratch directories and locks, its cgroups. Other sandboxes on the machine are not looked at."""
    state = scratch.state_dir()
    left = [f"process {p}" for p, owner in sweeper.sandbox_processes().items() if owner == uid]
    left += [str(path) for path in state.glob(f"*-{pid}-*")]
    left += [str(h.base() / name) for name in names for h in cgroups.hierarchies() if (h.base() / name).exists()]
    return left


@needs_sandbox
def test_a_whole_worker_killed_mid_code_run_is_rerun_once_and_leaves_no_sandbox_behind(users, speech_data_dir,
                                                                                        tmp_path):
    challenge = make_challenge(users["organizer"], slug="kws-closed", closed_division=True)
    add_benchmark(challenge, "speech-selection", speech_data_dir, slug="en-25", config={"train_size": 25})
    kit_zip = make_starter_kit_zip("speech_selection")
    artifact = run_kit_locally(kit_zip, speech_data_dir, tmp_path / "en_25_train.json")
    # The kit, after a few seconds' sleep: long enough to kill the worker while the sandbox runs it.
    kit_run = zipfile.ZipFile(io.BytesIO(kit_zip)).read(f"{KIT_TOP}/run.py")
    slow = b"import sys, time\ntime.sleep(5)\nimport kit_run\nsys.exit(kit_run.main())\n"
    code = kit_with(kit_zip, {"run.py": slow, "kit_run.py": kit_run})
    client = APIClient()
    client.force_login(users["alice"])
    first = Worker(beat=False)
    second = None
    try:
        response = client.post("/api/submissions/", {
            "challenge": "kws-closed", "benchmark": "en-25", "division": "closed",
            "file": upload("en_25_train.json", artifact), "code": upload("kit.zip", code)}, format="multipart")
        assert response.status_code == 201, response.content
        submission = Submission.objects.get(pk=response.json()["id"])
        [pool_pid] = first.pool_pids()
        deadline = time.time() + 120
        uid, names = None, {}
        while time.time() < deadline:
            names = _sandbox_runs_of(pool_pid)
            uid = next((u for name, u in names.items() if name.startswith("run-") and u), None)
            if uid and any(owner == uid for owner in sweeper.sandbox_processes().values()):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the sandboxed program never started: {names}")
        assert CodeRun.objects.get(submission=submission).status == "running"
        first.kill()  # main process and pool child, as the OOM killer does
        killed_at = time.time()
        second = Worker()
        deadline = killed_at + RECOVERY_SECONDS + 30
        while time.time() < deadline:
            run = CodeRun.objects.get(submission=submission)
            if run.status not in ("pending", "running"):
                break
            time.sleep(0.3)
        recovered_in = time.time() - killed_at
        # The new worker sweeps this host when it starts; allow a moment for the dead run's leftovers.
        deadline = time.time() + 10
        while _left_behind(pool_pid, names, uid) and time.time() < deadline:
            time.sleep(0.2)
        left = _left_behind(pool_pid, names, uid)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    print(f"whole worker killed mid-code-run -> verified by another worker in {recovered_in:.1f} s")
    assert run.status == "reproduced", (run.status, run.message, run.log)
    assert recovered_in < RECOVERY_SECONDS, recovered_in
    # Exactly once: a second start after the death, one verdict, one score, one board row.
    job = Job.objects.get(kind="verify", subject_id=run.pk)
    assert (job.status, job.attempts, run.attempts) == ("done", 2, 2), job.message
    assert job.message.count("queued again") == 1 and run.log.count("previous run stopped responding") == 1
    assert run.message == "the code reproduced en_25_train.json"
    _scored_once(Submission.objects.get(pk=submission.pk))
    rows = client.get("/api/challenges/kws-closed/benchmarks/en-25/leaderboard/").json()["rows"]
    assert [(r["submission_id"], r["verification"]) for r in rows] == [(submission.pk, "reproduced")]
    assert left == [], left
    assert not Path(f"/proc/{pool_pid}").exists()
