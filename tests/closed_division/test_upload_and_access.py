"""Closed-division uploads, starter kits, who sees what, concealed data, organizer actions.

The sandbox runs here in the test process (``backend.jobs.worker.execute`` of the ``verify`` job), as the worker would call it;
tests/closed_division/test_worker.py goes through a real Celery worker.
"""
from __future__ import annotations

import io
import zipfile

import pytest
import yaml
from rest_framework.test import APIClient

from backend.closed_division import services
from backend.closed_division.models import CodeRun, SandboxSettings
from backend.submissions.models import Submission
from evaluation.starter_kits import make_starter_kit_zip

from .conftest import needs_sandbox, upload

URL = "/api/submissions/"


def run_verify_job(code_run_id: int) -> None:
    """What a worker does with the code run's ``verify`` message."""
    from backend.jobs.models import Job
    from backend.jobs.worker import execute

    execute(Job.objects.get(kind="verify", subject_id=code_run_id).pk)


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def post(client, artifact: bytes, code: tuple[str, bytes] | None, division="closed", challenge="kws-closed"):
    data = {"challenge": challenge, "benchmark": "en-25", "division": division,
            "file": upload("en_25_train.json", artifact)}
    if code is not None:
        data["code"] = upload(*code)
    return client.post(URL, data, format="multipart")


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- uploads -----------------------------------------------------------------------------------------

def test_closed_division_uploads_are_refused_with_the_field_and_reason(closed_challenge, users, kit_zip, kit_artifact):
    alice = api(users["alice"])
    cases = [
        (None, "closed", "code", "the closed division needs the code"),
        (("kit.zip", _zip({"../../evil.py": b"x"})), "closed", "code", "unsafe path: ../../evil.py"),
        (("kit.zip", b"PK\x03\x04 not really a zip"), "closed", "code", "not a valid zip file"),
        (("kit.zip", _zip({"algorithm.py": b"def select(): pass\n"})), "closed", "code", "no run.py"),
        (("kit.tar.gz", b"\x1f\x8b..."), "closed", "code", "upload a .zip or a single .py"),
        (("run.py", b""), "closed", "code", "is empty"),
        (("kit.zip", kit_zip), "open", "code", "code is only taken in the closed division"),
    ]
    for code, division, field, reason in cases:
        response = post(alice, kit_artifact, code, division)
        assert response.status_code == 400, (code and code[0], response.json())
        body = response.json()
        assert field in body["errors"] and reason in body["errors"][field][0], body
    phase = closed_challenge.phases.get()
    phase.closed_division = False
    phase.save()
    response = post(alice, kit_artifact, ("kit.zip", kit_zip))
    assert response.status_code == 400
    assert "closed division is not accepting submissions" in response.json()["errors"]["division"][0]
    assert not Submission.objects.exists() and not CodeRun.objects.exists()


def test_the_upload_form_takes_the_code_and_names_a_missing_one(client, closed_challenge, users, kit_zip, kit_artifact):
    client.force_login(users["alice"])
    page = client.get("/challenges/kws-closed/en-25/").content.decode()
    assert 'name="code"' in page and 'value="closed"' in page
    response = client.post("/challenges/kws-closed/en-25/submit/", {
        "division": "closed", "file": upload("en_25_train.json", kit_artifact)}, follow=True)
    assert "Submission rejected — code: the closed division needs the code" in response.content.decode()
    response = client.post("/challenges/kws-closed/en-25/submit/", {
        "division": "closed", "file": upload("en_25_train.json", kit_artifact), "code": upload("kit.zip", kit_zip)})
    submission = Submission.objects.get()
    assert response.url == f"/submissions/{submission.pk}/"
    assert submission.division == "closed" and submission.code_run.code_name == "kit.zip"
    page = client.get(response.url).content.decode()
    assert "Code verification" in page and "Waiting for the sandbox" in page


def test_open_division_page_has_no_code_field(client, speech_challenge, users):
    client.force_login(users["alice"])
    assert 'name="code"' not in client.get("/challenges/kws/en-25/").content.decode()


# --- starter kits ------------------------------------------------------------------------------------

def test_starter_kit_download_from_the_benchmark_page_and_the_api(client, closed_challenge, users):
    page = client.get("/challenges/kws-closed/en-25/").content.decode()
    assert 'href="/challenges/kws-closed/en-25/starter-kit.zip"' in page
    response = client.get("/challenges/kws-closed/en-25/starter-kit.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response.content == make_starter_kit_zip("speech-selection")
    assert "dataperf-speech-selection-starter-kit.zip" in response["Content-Disposition"]
    api_response = APIClient().get("/api/challenges/kws-closed/benchmarks/en-25/starter-kit/")
    assert api_response.status_code == 200 and api_response.content == response.content


def test_every_type_has_a_starter_kit_but_draft_challenges_serve_none(client, users, speech_data_dir):
    from backend.challenges.models import Benchmark
    from tests.conftest import make_challenge

    challenge = make_challenge(users["organizer"], slug="tst")
    Benchmark.objects.create(challenge=challenge, slug="tst", title="Test set", type_slug="test-set")
    kit = client.get("/challenges/tst/tst/starter-kit.zip")   # test-set creation too (issue 13): a candidate picker
    assert kit.status_code == 200 and "dataperf-test-set-starter-kit.zip" in kit["Content-Disposition"]
    draft = make_challenge(users["organizer"], slug="draft", status="draft")
    Benchmark.objects.create(challenge=draft, slug="en-25", title="Speech", type_slug="speech-selection")
    client.force_login(users["alice"])
    assert client.get("/challenges/draft/en-25/starter-kit.zip").status_code == 404


# --- concealed data stays concealed ------------------------------------------------------------------

def test_concealed_task_data_is_never_listed_or_downloadable(client, closed_challenge, users, concealed_data_dir,
                                                             speech_data_dir):
    benchmark = closed_challenge.benchmarks.get()
    task = services.attach_concealed_data(benchmark, concealed_data_dir, name="zz-secret-language")
    # Something only the concealed task has: one of its clip ids.
    public_text = (speech_data_dir / "allowed_training_set.yaml").read_text()
    allowed = yaml.safe_load((concealed_data_dir / "allowed_training_set.yaml").read_text())
    secret_clip = next(clip for clip in allowed["nontargets"] if clip not in public_text)
    client.force_login(users["alice"])
    data_zip = b"".join(client.get("/challenges/kws-closed/en-25/data.zip").streaming_content)
    names = zipfile.ZipFile(io.BytesIO(data_zip)).namelist()
    assert "allowed_training_set.yaml" in names and not any(n.startswith("eval") for n in names)
    with zipfile.ZipFile(io.BytesIO(data_zip)) as archive:
        assert all(secret_clip.encode() not in archive.read(n) for n in names)
    assert b"".join(api(users["alice"]).get("/api/challenges/kws-closed/benchmarks/en-25/data/")
                    .streaming_content) == data_zip
    for url in ("/api/challenges/kws-closed/", "/api/challenges/", "/challenges/kws-closed/",
                "/challenges/kws-closed/en-25/"):
        body = client.get(url).content.decode()
        assert "zz-secret-language" not in body and secret_clip not in body, url
    # Media files have no URL at all.
    assert client.get(f"/media/{task.public_archive.name}").status_code == 404
    assert client.get(f"/{task.public_archive.name}").status_code == 404
    assert benchmark.artifacts.count() == 2  # the benchmark's own public + hidden archives only


# --- who sees what; organizer actions ----------------------------------------------------------------

@needs_sandbox
@pytest.mark.django_db(transaction=True)
def test_platform_failure_is_internal_for_the_participant_and_reverify_recovers(
        closed_challenge, users, kit_zip, kit_artifact, monkeypatch):
    alice, bob, organizer = api(users["alice"]), api(users["bob"]), api(users["organizer"])
    submission_id = post(alice, kit_artifact, ("kit.zip", kit_zip)).json()["id"]
    run = CodeRun.objects.get(submission_id=submission_id)

    with monkeypatch.context() as patch:
        patch.setenv("PATH", "/nonexistent")  # the worker has no bubblewrap: the platform's problem
        run_verify_job(run.pk)
    mine = alice.get(f"{URL}{submission_id}/code-run/").json()
    assert mine["status"] == "failed" and mine["message"] == services.INTERNAL_MESSAGE
    assert "log" not in mine and "bwrap" not in str(mine)
    as_organizer = organizer.get(f"{URL}{submission_id}/code-run/").json()
    assert "SandboxError" in as_organizer["log"] and "bwrap" in as_organizer["log"]
    rows = organizer.get("/api/challenges/kws-closed/benchmarks/en-25/leaderboard/").json()["rows"]
    assert all(row["rank"] is None for row in rows)

    # Other participants reach neither the run nor the code; only organizers may re-verify.
    assert bob.get(f"{URL}{submission_id}/code-run/").status_code == 404
    assert bob.get(f"{URL}{submission_id}/code/").status_code == 404
    assert bob.post(f"{URL}{submission_id}/reverify/").status_code == 403
    assert alice.post(f"{URL}{submission_id}/reverify/").status_code == 403
    assert b"".join(alice.get(f"{URL}{submission_id}/code/").streaming_content) == kit_zip

    response = organizer.post(f"{URL}{submission_id}/reverify/")
    assert response.status_code == 200 and response.json()["status"] == "pending"
    run_verify_job(run.pk)
    mine = alice.get(f"{URL}{submission_id}/code-run/").json()
    assert mine["status"] == "reproduced", mine["message"]
    assert mine["reproduced"] is True and "wrote /output/submission.json (25 clips)" in mine["stdout"]
    assert mine["wall_seconds"] > 0 and mine["peak_memory_bytes"] > 2**20
    assert "re-verification requested by org" in CodeRun.objects.get(pk=run.pk).log

    open_submission = post(alice, kit_artifact, None, division="open").json()["id"]
    assert organizer.post(f"{URL}{open_submission}/reverify/").status_code == 409


@needs_sandbox
@pytest.mark.django_db(transaction=True)
def test_limits_come_from_the_phase_and_a_single_file_is_run_as_run_py(closed_challenge, users, kit_artifact):
    phase = closed_challenge.phases.get()
    services.save_sandbox_settings(SandboxSettings(phase=phase, wall_seconds=2, memory_mb=512))
    alice = api(users["alice"])
    program = b"import sys, time\nprint('args', sys.argv[1:])\ntime.sleep(30)\n"
    submission_id = post(alice, kit_artifact, ("my_selection.py", program)).json()["id"]
    run_verify_job(CodeRun.objects.get(submission_id=submission_id).pk)
    body = alice.get(f"{URL}{submission_id}/code-run/").json()
    assert body["status"] == "not_reproduced"
    assert body["message"] == "the program ran longer than 2 seconds and was stopped"
    assert "args ['--input', '/inputs/data', '--output', '/output/submission.json', '--train-size', '25']" in body["stdout"]
    assert body["limits"] == {"wall_seconds": 2, "memory_mb": 512, "max_processes": 64, "output_mb": 64}


def test_organizer_adds_a_concealed_task_in_the_admin(client, closed_challenge, users, concealed_data_dir):
    from fixtures.demo import grant_organizer_permissions

    grant_organizer_permissions(users["organizer"])
    client.force_login(users["organizer"])
    benchmark = closed_challenge.benchmarks.get()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(concealed_data_dir.rglob("*")):
            if path.is_file():
                archive.write(path, f"xx_data/{path.relative_to(concealed_data_dir)}")
    form = {"benchmark": benchmark.pk, "name": "three new words", "order": 0, "config": "{}"}
    response = client.post("/admin/closed_division/concealedtask/add/", {**form, "data": upload("xx.zip", b"not a zip")})
    assert response.status_code == 200 and "not a valid zip file" in response.content.decode()
    response = client.post("/admin/closed_division/concealedtask/add/", {**form, "data": upload("xx.zip", buffer.getvalue())})
    assert response.status_code == 302, response.content.decode()[-3000:]
    task = benchmark.concealed_tasks.get()
    with task.public_archive.open("rb") as fh:
        public_names = zipfile.ZipFile(fh).namelist()
    with task.hidden_archive.open("rb") as fh:
        hidden_names = zipfile.ZipFile(fh).namelist()
    assert "allowed_training_set.yaml" in public_names and not any(n.startswith("eval") for n in public_names)
    assert "eval.yaml" in hidden_names


def test_organizer_admin_shows_code_runs_and_sandbox_settings(client, closed_challenge, users, kit_zip, kit_artifact):
    from fixtures.demo import grant_organizer_permissions

    submission_id = post(api(users["alice"]), kit_artifact, ("kit.zip", kit_zip)).json()["id"]
    grant_organizer_permissions(users["organizer"])
    client.force_login(users["organizer"])
    page = client.get(f"/admin/submissions/submission/{submission_id}/change/").content.decode()
    assert "kit.zip" in page and "Waiting for the sandbox" in page
    phase = closed_challenge.phases.get()
    response = client.post("/admin/closed_division/sandboxsettings/add/", {
        "phase": phase.pk, "wall_seconds": 120, "memory_mb": 2048, "max_processes": 32, "output_mb": 16,
        "concealed_scores_visible": "on"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert SandboxSettings.objects.get(phase=phase).limits().memory_bytes == 2048 * 2**20
    response = client.post("/admin/submissions/submission/", {
        "action": "reverify_code", "_selected_action": [submission_id]}, follow=True)
    assert "Queued the code of 1 submission(s) again." in response.content.decode()
    grant_organizer_permissions(users["other_organizer"])
    client.force_login(users["other_organizer"])
    assert "kws-closed/en-25 by alice" not in client.get("/admin/closed_division/coderun/").content.decode()
    assert "kws-closed" not in client.get("/admin/closed_division/sandboxsettings/").content.decode()



def test_code_runs_whose_message_was_lost_are_sent_again(closed_challenge, users, kit_zip, kit_artifact, settings):
    from datetime import timedelta

    from django.utils import timezone

    from backend.jobs import services as jobs
    from backend.jobs.models import Job

    submission_id = post(api(users["alice"]), kit_artifact, ("kit.zip", kit_zip)).json()["id"]
    job = Job.objects.get(kind="verify", subject_id=CodeRun.objects.get(submission_id=submission_id).pk)
    assert job.published_at is None  # the test's transaction never commits: as if the web process died
    assert jobs.sweep()["published"] == 0  # within the grace period the request's own publish may still come
    later = timezone.now() + timedelta(seconds=settings.JOBS_PUBLISH_GRACE_SECONDS + 1)
    assert jobs.sweep(now=later)["published"] == 2  # the code run's verification and the file's scoring
    job.refresh_from_db()
    assert job.status == "queued" and job.published_at is not None
    assert jobs.sweep(now=later)["published"] == 0
