"""A worker that starts cleans up after sandbox runs whose worker died (``tasks.sweep_sandboxes``)."""
from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backend.closed_division import tasks
from backend.sandbox import runner, sweeper
from tests.conftest import ROOT, Worker

from .conftest import needs_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), needs_sandbox]


def _dead_workers_scratch() -> Path:
    """A scratch directory registered by a process that then died without removing it."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import os
        from backend.sandbox import scratch
        context = scratch.scratch_directory("verify")
        path = context.__enter__()
        (path / "inputs").mkdir()
        print(path, flush=True)
        os._exit(0)
    """)], cwd=ROOT, capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def test_a_starting_worker_sweeps_what_a_dead_worker_left():
    left_behind = _dead_workers_scratch()
    stray_uid = runner._UID_BASE + sweeper.UID_SPAN - 1 - random.randrange(1000)
    stray = subprocess.Popen(["setpriv", f"--reuid={stray_uid}", f"--regid={stray_uid}", "--clear-groups",
                              "sleep", "300"])
    worker = Worker()
    try:
        deadline = time.time() + 30
        while time.time() < deadline and (left_behind.exists() or stray.poll() is None):
            time.sleep(0.2)
        assert not left_behind.exists() and not Path(f"{left_behind}.lock").exists()
        assert stray.poll() == -9
    finally:
        worker.stop()
        if stray.poll() is None:
            stray.kill()
        stray.wait()


def test_the_beat_task_reports_what_it_swept():
    left_behind = _dead_workers_scratch()
    counts = tasks.sweep_sandboxes()
    assert counts["removed_scratch"] >= 1 and not left_behind.exists()
