"""The upload spool: uploads over FILE_UPLOAD_MAX_MEMORY_SIZE are written to the platform's own directory,
and the files a killed web process leaves there are removed by the job sweep once they are old."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile

from backend.core import uploads
from backend.jobs.tasks import sweep_jobs
from tests.conftest import ROOT
from tests.jobs_helpers import free_port

MiB = 2**20


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_uploads_spool_to_the_platforms_own_directory():
    spool = Path(settings.FILE_UPLOAD_TEMP_DIR)
    assert spool == Path(os.environ["DATAPERF_VAR_DIR"]) / "uploads" and spool.is_dir()
    upload = TemporaryUploadedFile("training.zip", "application/zip", 10 * MiB, None)  # what Django spools into
    try:
        assert Path(upload.temporary_file_path()).parent == spool
    finally:
        upload.close()
    with uploads.copy_directory() as copy:  # the web process's working copy of an upload, too
        assert Path(copy).parent == spool
    assert settings.UPLOAD_SPOOL_MAX_AGE_SECONDS == 3600


@pytest.mark.django_db
def test_the_job_sweep_removes_only_old_spool_files():
    spool = Path(settings.FILE_UPLOAD_TEMP_DIR)
    old = spool / "tmpold1234.upload.zip"
    old.write_bytes(b"x" * MiB)
    _age(old, settings.UPLOAD_SPOOL_MAX_AGE_SECONDS + 60)
    fresh = spool / "tmpnew1234.upload.json"  # a request still receiving or validating it
    fresh.write_bytes(b"{}")
    _age(fresh, settings.UPLOAD_SPOOL_MAX_AGE_SECONDS - 60)
    other = spool / "operator-notes.txt"  # not Django's: never touched, however old
    other.write_text("keep")
    _age(other, 10 * settings.UPLOAD_SPOOL_MAX_AGE_SECONDS)
    directory = spool / "old.upload.d"
    directory.mkdir()
    _age(directory, 10 * settings.UPLOAD_SPOOL_MAX_AGE_SECONDS)
    old_copy = spool / "dataperf-upload-old"  # a validation copy of a killed process
    (old_copy / "nested").mkdir(parents=True)
    (old_copy / "nested" / "member.json").write_text("{}")
    (old_copy / "training.zip").write_bytes(b"x" * MiB)
    for path in (old_copy / "nested", old_copy / "training.zip", old_copy):
        _age(path, settings.UPLOAD_SPOOL_MAX_AGE_SECONDS + 60)
    live_copy = spool / "dataperf-upload-live"  # old directory, but a file in it is still being written
    live_copy.mkdir()
    (live_copy / "training.zip").write_bytes(b"x")
    _age(live_copy, settings.UPLOAD_SPOOL_MAX_AGE_SECONDS + 60)
    target = spool / "target.bin"
    target.write_bytes(b"t")
    link = spool / "tmplink.upload"
    link.symlink_to(target)
    _age(link, 10 * settings.UPLOAD_SPOOL_MAX_AGE_SECONDS)
    try:
        assert sweep_jobs()["removed_uploads"] == 2
        assert not old.exists() and not old_copy.exists()
        assert fresh.exists() and other.exists() and directory.is_dir() and link.is_symlink() and target.exists()
        assert (live_copy / "training.zip").exists()
        assert sweep_jobs()["removed_uploads"] == 0
    finally:
        for path in (fresh, other, link, target):
            path.unlink(missing_ok=True)
        directory.rmdir()
        shutil.rmtree(live_copy)


@pytest.mark.django_db(transaction=True)
def test_a_web_process_killed_mid_upload_leaves_a_spool_file_that_the_sweep_removes(users):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=users["alice"])
    spool = Path(settings.FILE_UPLOAD_TEMP_DIR)
    before = set(spool.iterdir())
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend.config.test_settings", "DATAPERF_TEST_WORKER": "1"}
    log_path = Path(os.environ["DATAPERF_VAR_DIR"]) / f"gunicorn-{time.time_ns()}.log"
    # A sync worker reads the body while Django's upload handler writes it, as production's web tier does.
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                                   "backend.config.wsgi"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=0.2)
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.1)
        client.settimeout(30)
        boundary = "spoolboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.json\"\r\n"
                f"Content-Type: application/json\r\n\r\n").encode()
        length = len(head) + 20 * MiB  # announced; the process dies long before it arrives
        client.sendall((f"POST /api/submissions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token.key}\r\n"
                        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n"
                        ).encode() + head)
        for _ in range(8):
            client.sendall(b" " * MiB)
        deadline = time.time() + 30
        spooled = []
        while not spooled and time.time() < deadline:
            spooled = [p for p in set(spool.iterdir()) - before if ".upload" in p.name and p.stat().st_size > MiB]
            time.sleep(0.1)
        assert spooled, f"nothing spooled in {spool}:\n{log_path.read_text()[-3000:]}"
        os.killpg(server.pid, signal.SIGKILL)  # the whole web process, mid-request
        server.wait()
        client.close()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    [left] = spooled
    assert left.exists()  # nobody else removes it
    assert sweep_jobs()["removed_uploads"] == 0  # too young: it could be a live upload
    _age(left, settings.UPLOAD_SPOOL_MAX_AGE_SECONDS + 1)
    assert sweep_jobs()["removed_uploads"] == 1 and not left.exists()
