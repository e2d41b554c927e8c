"""Shared fixtures: small benchmark data in the official layouts, demo-like users and a challenge,
and a real Celery worker process for end-to-end tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: database ids repeat across tests, cache keys would too."""
    from django.conf import settings

    if settings.configured:  # plain-library tests may run without Django (-p no:django)
        from django.core.cache import cache

        from backend.leaderboards import fast

        cache.clear()
        fast.bodies.clear()  # the lean path's per-process copy of leaderboard bodies
    yield


@pytest.fixture
def break_hidden_data(settings):
    """``break_hidden_data(benchmark, content)`` overwrites a benchmark's hidden archive on disk (its stored
    checksum unchanged, as disk corruption would) and drops the cached copies of its data. Undone at
    teardown: the unpacked cache is keyed by the checksums, so a broken copy left there would be served to
    every later test whose data has the same content."""
    import shutil

    from backend.challenges.models import DatasetArtifact
    from backend.challenges.services import data_version
    from evaluation import cache as problem_cache

    cache_dirs = []

    def drop(path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
        problem_cache.clear()

    def break_(benchmark, content: bytes) -> None:
        hidden = benchmark.artifacts.get(visibility=DatasetArtifact.Visibility.HIDDEN)
        Path(hidden.file.path).write_bytes(content)
        cache_dirs.append(Path(settings.EVALUATION_DATA_CACHE) / data_version(benchmark))
        drop(cache_dirs[-1])

    yield break_
    for path in cache_dirs:
        drop(path)


@pytest.fixture(scope="session")
def speech_data_dir(tmp_path_factory) -> Path:
    from fixtures import synthetic

    path = tmp_path_factory.mktemp("speech") / "dataperf_en_data"
    synthetic.write_speech_data(path, train_nontargets=300, eval_nontargets=600, dim=64, seed=3)
    return path


@pytest.fixture(scope="session")
def vision_data_dir(tmp_path_factory) -> Path:
    from fixtures import synthetic

    path = tmp_path_factory.mktemp("vision") / "data"
    synthetic.write_vision_data(path, pool_size=2000, dim=32, seed=3)
    return path


@pytest.fixture
def users(db):
    from backend.accounts.models import User

    def make(name, role=User.Role.PARTICIPANT, **extra):
        user = User.objects.create_user(username=name, password=f"{name}-password", role=role, **extra)
        return user

    return {
        "organizer": make("org", User.Role.ORGANIZER, is_staff=True),
        "alice": make("alice"),
        "bob": make("bob"),
        "annotator": make("ann", User.Role.ANNOTATOR),
        "other_organizer": make("org2", User.Role.ORGANIZER, is_staff=True),
    }


def make_challenge(organizer, *, slug="kws", status="published", **phase_fields):
    from django.utils import timezone

    from backend.challenges.models import Challenge, Phase

    challenge = Challenge.objects.create(slug=slug, title=f"Challenge {slug}", status=status, rules="Be nice.")
    challenge.organizers.add(organizer)
    # Annotators are per challenge; the suite's annotator accounts verify for every challenge it makes
    # (tests of the per-challenge rule create their own annotators after the challenge).
    from backend.accounts.models import User

    challenge.annotators.add(*User.objects.filter(role=User.Role.ANNOTATOR))
    defaults = dict(starts_at=timezone.now() - timedelta(days=1), ends_at=timezone.now() + timedelta(days=30))
    defaults.update(phase_fields)
    Phase.objects.create(challenge=challenge, name="Development", **defaults)
    return challenge


def add_benchmark(challenge, type_slug, data_dir, *, slug=None, config=None):
    from backend.challenges import services
    from backend.challenges.models import Benchmark

    benchmark = Benchmark.objects.create(
        challenge=challenge, slug=slug or type_slug, title=type_slug.replace("-", " ").title(), type_slug=type_slug,
        config=config or {},
    )
    services.attach_data_directory(benchmark, data_dir)
    return benchmark


@pytest.fixture
def speech_challenge(users, speech_data_dir):
    challenge = make_challenge(users["organizer"], slug="kws")
    add_benchmark(challenge, "speech-selection", speech_data_dir, slug="en-25", config={"train_size": 25})
    return challenge


@pytest.fixture
def vision_challenge(users, vision_data_dir):
    challenge = make_challenge(users["organizer"], slug="vision")
    add_benchmark(challenge, "vision-selection", vision_data_dir, slug="concepts")
    return challenge


# --- Debian's Chromium through Playwright -------------------------------------------------------------

@pytest.fixture
def browser_page():
    """A page in Debian's chromium (``npx playwright install`` cannot download browsers here)."""
    import shutil

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the tests' ORM calls stay synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required (.ci/run installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        yield page
        browser.close()
        # ORM calls made while Playwright's loop runs get their own connection (Django keeps
        # connections per async context); close it here, or PostgreSQL refuses to drop the test database.
        from django.db import connections

        connections.close_all()


# --- a real Celery worker -------------------------------------------------------------------------

def _worker_env() -> dict:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "backend.config.test_settings"
    env["DATAPERF_TEST_WORKER"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


# The job machinery's timings, shortened so fault tests take seconds (production: 5 s, 20 s, 10 s, 5 s, 40 s).
FAST_JOB_TIMINGS = {"JOBS_HEARTBEAT_SECONDS": "1", "JOBS_STALE_AFTER_SECONDS": "6", "JOBS_SWEEP_INTERVAL_SECONDS": "1",
                    "JOBS_PUBLISH_GRACE_SECONDS": "2", "JOBS_REPUBLISH_AFTER_SECONDS": "10"}


class Worker:
    """A `celery worker` subprocess on the configured broker, against the test database. With ``beat``
    a separate `celery beat` process sends the job sweep, as production's beat service does (separate,
    so killing the worker's pool processes never kills the beat with them)."""

    def __init__(self, concurrency: int = 1, extra_env: dict | None = None, beat: bool = True):
        env = _worker_env()
        if os.environ.get("DATAPERF_JOB_TIMINGS") != "production":  # benchmarks/bench_job_recovery.py
            env.update(FAST_JOB_TIMINGS)
        env.update(extra_env or {})
        log_dir = Path(os.environ["DATAPERF_VAR_DIR"])
        name = f"worker-{time.time_ns()}"
        self.log_path = log_dir / f"{name}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "backend.config", "worker", "-Q", "evaluation,sandbox,default,sweep",
             "-c", str(concurrency), "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"test-{time.time_ns()}@%h"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "backend.config", "beat", "--loglevel=INFO",
             "-s", str(log_dir / f"{name}-beat-schedule")],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        ) if beat else None
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if "ready." in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.log_path.read_text()[-3000:]}")

    def pool_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as the OOM killer or a lost machine does.
        The beat, a service of its own, keeps running."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        for process in (self.process, self.beat):
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.log.close()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A fresh worker for one test (tests that kill workers need their own)."""
    worker = Worker()
    yield worker
    worker.stop()


def wait_for_status(submission, statuses, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        submission.refresh_from_db()
        if submission.status in statuses:
            return submission
        time.sleep(0.3)
    raise AssertionError(f"submission {submission.pk} stayed {submission.status} (wanted {statuses}); "
                         f"progress={submission.progress_message!r} reason={submission.failure_reason!r}")
