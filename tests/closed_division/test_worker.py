"""The closed division through a real Celery worker (queues evaluation, sandbox, default): upload
the starter kit with its output, the worker scores the file and re-runs the code in the sandbox."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile

import pytest
from rest_framework.test import APIClient

from backend.closed_division import services
from backend.closed_division.models import CodeRun, SandboxSettings
from backend.submissions.models import Submission
from tests.conftest import ROOT, wait_for_status

from .conftest import KIT_TOP, kit_with, needs_sandbox, run_kit_locally, tampered, upload

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), needs_sandbox]
BOARD = "/api/challenges/kws-closed/benchmarks/en-25/leaderboard/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def submit(client, artifact: bytes, code_name: str, code: bytes) -> int:
    response = client.post("/api/submissions/", {
        "challenge": "kws-closed", "benchmark": "en-25", "division": "closed",
        "file": upload("en_25_train.json", artifact), "code": upload(code_name, code)}, format="multipart")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def wait_for_code_run(submission_id: int, concealed: bool = False, timeout: float = 180) -> CodeRun:
    deadline = time.time() + timeout
    run = None
    while time.time() < deadline:
        run = CodeRun.objects.get(submission_id=submission_id)
        done = run.status not in ("pending", "running")
        if done and (not concealed or run.concealed_status not in ("pending", "running")):
            return run
        time.sleep(0.3)
    raise AssertionError(f"code run of #{submission_id} stayed {run and run.status}/{run and run.concealed_status}")


def offline_score(data_dir, path) -> float:
    out = subprocess.run([sys.executable, "-m", "evaluation", "score", "speech-selection", "--data", str(data_dir),
                          "--submission", str(path), "--train-size", "25", "--json"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout)["score"]


def test_reproduced_kit_is_ranked_and_a_tampered_file_is_marked_and_not_ranked(
        closed_challenge, users, speech_data_dir, kit_zip, kit_artifact, celery_worker_process):
    alice, bob = api(users["alice"]), api(users["bob"])
    mine = submit(alice, kit_artifact, "speech-kit.zip", kit_zip)
    bad_file, _removed, added = tampered(kit_artifact, speech_data_dir)
    theirs = submit(bob, bad_file, "speech-kit.zip", kit_zip)
    for pk in (mine, theirs):
        assert wait_for_status(Submission.objects.get(pk=pk), {"scored", "failed"}).status == "scored"
        wait_for_code_run(pk)

    run = alice.get(f"/api/submissions/{mine}/code-run/").json()
    assert run["status"] == "reproduced" and run["reproduced"] is True, run["message"]
    assert run["message"] == "the code reproduced en_25_train.json"
    assert "wrote /output/submission.json (25 clips)" in run["stdout"]
    assert 0 < run["wall_seconds"] < 60 and run["peak_memory_bytes"] > 10 * 2**20
    other = bob.get(f"/api/submissions/{theirs}/code-run/").json()
    assert other["status"] == "not_reproduced" and other["reproduced"] is False
    assert other["message"].startswith("en_25_train.json: targets[") and f"first missing id: {added}" in other["message"]

    board = alice.get(BOARD).json()
    assert [(r["entrant"], r["rank"], r["division"], r["reproduced"], r["verification"]) for r in board["rows"]] == [
        ("alice", 1, "closed", True, "reproduced"), ("bob", None, "closed", False, "not_reproduced")]
    assert "concealed" not in {c["key"] for c in board["columns"]}

    # The submission pages show the verification panel; nobody else's code or run is reachable.
    alice_page = alice.get(f"/submissions/{mine}/").content.decode()
    assert "Code verification" in alice_page and "wrote /output/submission.json" in alice_page
    bob_page = bob.get(f"/submissions/{theirs}/").content.decode()
    assert "first missing id: " + added in bob_page
    assert bob.get(f"/api/submissions/{mine}/code-run/").status_code == 404
    assert bob.get(f"/api/submissions/{mine}/code/").status_code == 404
    assert bob.get(f"/submissions/{mine}/").status_code == 404


def test_hostile_or_broken_code_is_a_clear_failure_and_the_worker_takes_the_next_job(
        closed_challenge, users, kit_zip, kit_artifact, celery_worker_process):
    services.save_sandbox_settings(SandboxSettings(phase=closed_challenge.phases.get(), wall_seconds=3))
    alice = api(users["alice"])
    programs = {
        "torch": b"import torch\n",
        "sleeper": b"import time\nwhile True:\n    time.sleep(1)\n",
        "database": b"import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2)\n",
        "secrets": b"print(open('/work/main/backend/config/settings.py').read())\n",
    }
    ids = {name: submit(alice, kit_artifact, "run.py", program) for name, program in programs.items()}
    runs = {name: wait_for_code_run(pk) for name, pk in ids.items()}
    # The next job after the hostile ones, with a wall limit a loaded machine cannot miss.
    sandbox_settings = SandboxSettings.objects.get(phase=closed_challenge.phases.get())
    sandbox_settings.wall_seconds = 120
    services.save_sandbox_settings(sandbox_settings)
    ids["kit"] = submit(alice, kit_artifact, "kit.zip", kit_zip)
    runs["kit"] = wait_for_code_run(ids["kit"])
    assert runs["torch"].status == "not_reproduced"
    assert runs["torch"].message.startswith("module 'torch' is not available in the sandbox")
    assert runs["sleeper"].message == "the program ran longer than 3 seconds and was stopped"
    assert "ConnectionRefusedError" in runs["database"].message
    assert "FileNotFoundError" in runs["secrets"].message and "SECRET_KEY" not in runs["secrets"].stdout
    assert runs["kit"].status == "reproduced", runs["kit"].message
    rows = alice.get(BOARD).json()["rows"]
    assert [r["rank"] for r in rows] == [1] and rows[0]["submission_id"] == ids["kit"]


def test_concealed_tasks_score_the_algorithm_outside_the_sandbox_and_show_only_when_enabled(
        closed_challenge, users, concealed_data_dir, kit_zip, kit_artifact, celery_worker_process, tmp_path):
    benchmark = closed_challenge.benchmarks.get()
    services.attach_concealed_data(benchmark, concealed_data_dir, name="xx: three other words")
    alice, bob, organizer = api(users["alice"]), api(users["bob"]), api(users["organizer"])
    mine = submit(alice, kit_artifact, "kit.zip", kit_zip)
    # Bob's code is the kit plus a look around /inputs before it runs.
    peek = (b"import os, sys\nfor root, _, files in os.walk('/inputs'):\n    for name in files:\n"
            b"        print('INPUT', os.path.join(root, name))\nimport kit_run\nsys.exit(kit_run.main())\n")
    run_py = zipfile.ZipFile(io.BytesIO(kit_zip)).read(f"{KIT_TOP}/run.py")  # kept as kit_run.py
    theirs = submit(bob, kit_artifact, "peek.zip", kit_with(kit_zip, {"run.py": peek, "kit_run.py": run_py}))
    run_mine, run_theirs = wait_for_code_run(mine, concealed=True), wait_for_code_run(theirs, concealed=True)
    assert (run_mine.status, run_mine.concealed_status) == ("reproduced", "scored"), run_mine.concealed_message
    assert (run_theirs.status, run_theirs.concealed_status) == ("reproduced", "scored")

    # The algorithm's output on the concealed task, scored like the offline CLI scores the same selection.
    local = tmp_path / "concealed.json"
    local.write_bytes(run_kit_locally(kit_zip, concealed_data_dir, tmp_path / "concealed-run.json"))
    expected = offline_score(concealed_data_dir, local)
    assert run_mine.concealed_score == pytest.approx(expected, abs=1e-12)

    # Hidden files never reached the sandbox: neither in the verification run nor the concealed one.
    assert "INPUT /inputs/data/allowed_training_set.yaml" in run_theirs.stdout
    concealed_stdout = run_theirs.concealed_runs.get().stdout
    assert "INPUT /inputs/data/allowed_training_set.yaml" in concealed_stdout
    assert "INPUT /inputs/data/train_embeddings/" in concealed_stdout
    for hidden in ("eval.yaml", "eval_embeddings"):
        assert hidden not in run_theirs.stdout and hidden not in concealed_stdout

    # Not visible yet: participants see no concealed score, no column; organizers see everything.
    body = alice.get(f"/api/submissions/{mine}/code-run/").json()
    assert body["concealed"] is None and "concealed_runs" not in body
    board = alice.get(BOARD).json()
    assert "concealed" not in {c["key"] for c in board["columns"]}
    assert all("concealed" not in row["metrics"] for row in board["rows"])
    as_organizer = organizer.get(f"/api/submissions/{mine}/code-run/").json()
    assert as_organizer["concealed"]["score"] == pytest.approx(expected, abs=1e-12)
    assert as_organizer["concealed_runs"][0]["task"] == "xx: three other words"
    assert "xx: three other words" not in alice.get(f"/submissions/{mine}/").content.decode()

    services.save_sandbox_settings(SandboxSettings(phase=closed_challenge.phases.get(), concealed_scores_visible=True))
    body = alice.get(f"/api/submissions/{mine}/code-run/").json()
    assert body["concealed"]["status"] == "scored"
    assert body["concealed"]["score"] == pytest.approx(expected, abs=1e-12)
    assert "concealed_runs" not in body and "INPUT" not in json.dumps(body["concealed"])
    board = alice.get(BOARD).json()
    assert "concealed" in {c["key"] for c in board["columns"]}
    row = next(r for r in board["rows"] if r["entrant"] == "alice")
    assert row["metrics"]["concealed"] == pytest.approx(expected, abs=1e-12)
    page = alice.get("/challenges/kws-closed/en-25/").content.decode()
    assert "Concealed tasks" in page
