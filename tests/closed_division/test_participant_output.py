"""What a participant's program prints or writes is the participant's problem: NUL bytes, invalid
UTF-8, floods and JSON nested 100,000 deep give ONE run and a sentence that blames the code, never a
retry, never "the worker running it stopped", never "an internal error of the platform".

The sandbox runs here in the test process: the code run's ``verify`` / ``concealed`` job is executed
as a worker executes it (``backend.jobs.worker.execute``). Against PostgreSQL (``DATABASE_URL``) this also proves the logs are storable there.
"""
from __future__ import annotations

import pytest
import yaml
from rest_framework.test import APIClient

from backend.closed_division import services
from backend.closed_division.models import CodeRun

from .conftest import needs_sandbox, upload

pytestmark = [needs_sandbox, pytest.mark.django_db(transaction=True)]
URL = "/api/submissions/"
DEEP = 100_000


def _submit(user, artifact: bytes, program: str) -> CodeRun:
    client = APIClient()
    client.force_login(user)
    response = client.post(URL, {"challenge": "kws-closed", "benchmark": "en-25", "division": "closed",
                                 "file": upload("en_25_train.json", artifact),
                                 "code": upload("run.py", program.encode())}, format="multipart")
    assert response.status_code == 201, response.json()
    return CodeRun.objects.get(submission_id=response.json()["id"])


def _run_job(kind: str, run: CodeRun) -> None:
    """What a worker does with the code run's ``verify`` or ``concealed`` message."""
    from backend.jobs.models import Job
    from backend.jobs.worker import execute

    execute(Job.objects.filter(kind=kind, subject_id=run.pk).latest("pk").pk)


def _writes(artifact: bytes) -> str:
    return f"open('/output/submission.json', 'wb').write({artifact!r})\n"


def _assert_one_run_blaming_the_code(run: CodeRun) -> None:
    assert run.attempts == 1
    for text in (run.message, run.concealed_message):
        assert text != services.INTERNAL_MESSAGE and "worker running it stopped" not in text


def test_nul_bytes_and_invalid_utf8_in_the_log_are_stored_escaped_in_one_run(closed_challenge, users, kit_artifact):
    program = ("import os, sys\n" + _writes(kit_artifact)
               + "sys.stdout.buffer.write(b'selected\\0clips \\xff\\n')\nos.write(2, b'warn\\0ing\\n')\n")
    run = _submit(users["alice"], kit_artifact, program)
    _run_job("verify", run)
    run.refresh_from_db()
    _assert_one_run_blaming_the_code(run)
    assert run.status == "reproduced", run.message
    assert run.message == ("the code reproduced en_25_train.json; "
                           "its log contained NUL bytes and invalid UTF-8; shown escaped")
    assert run.stdout == "selected\\x00clips \\xff\n" and run.stderr == "warn\\x00ing\n"


def test_output_json_nested_100000_deep_is_not_reproduced_in_one_run(closed_challenge, users, kit_artifact):
    program = f"open('/output/submission.json', 'w').write('[' * {DEEP} + ']' * {DEEP})\n"
    run = _submit(users["alice"], kit_artifact, program)
    _run_job("verify", run)
    run.refresh_from_db()
    _assert_one_run_blaming_the_code(run)
    assert run.status == "not_reproduced"
    assert run.message == "your program's output file en_25_train.json is nested deeper than 100 levels"


def test_a_one_gigabyte_line_on_stdout_is_stopped_in_one_run(closed_challenge, users, kit_artifact):
    program = "import sys\nchunk = 'z' * 2**20\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
    run = _submit(users["alice"], kit_artifact, program)
    _run_job("verify", run)
    run.refresh_from_db()
    _assert_one_run_blaming_the_code(run)
    assert run.status == "not_reproduced"
    assert run.message == "the program printed more than 64.0 MiB to stdout and was stopped"
    assert len(run.stdout) < 80 * 1024 and "bytes omitted by the sandbox" in run.stdout


def test_deeply_nested_output_on_a_concealed_task_is_the_programs_problem(
        closed_challenge, users, kit_artifact, speech_data_dir, concealed_data_dir):
    services.attach_concealed_data(closed_challenge.benchmarks.get(), concealed_data_dir, name="xx")
    public_words = sorted(yaml.safe_load((speech_data_dir / "allowed_training_set.yaml").read_text())["targets"])
    # Reproduces the file on the public data, writes JSON nested 100,000 deep on anything else.
    program = ("import yaml\n"
               "words = sorted(yaml.safe_load(open('/inputs/data/allowed_training_set.yaml'))['targets'])\n"
               f"if words == {public_words!r}:\n    " + _writes(kit_artifact)
               + f"else:\n    open('/output/submission.json', 'w').write('[' * {DEEP} + ']' * {DEEP})\n")
    run = _submit(users["alice"], kit_artifact, program)
    _run_job("verify", run)
    run.refresh_from_db()
    assert (run.status, run.concealed_status) == ("reproduced", "pending"), run.message
    _run_job("concealed", run)
    run.refresh_from_db()
    _assert_one_run_blaming_the_code(run)
    assert run.concealed_status == "failed"
    assert run.concealed_message == ("on concealed task 1, your program's output file submission.json is "
                                     "nested deeper than 100 levels")
    task_run = run.concealed_runs.get()
    assert task_run.status == "invalid_output" and "nested deeper than 100 levels" in task_run.message
