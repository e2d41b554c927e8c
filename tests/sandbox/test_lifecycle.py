"""Sandboxed programs die with their worker, and nothing they leave behind survives the sweeper.

Each test watches only its own run (its sandbox uid, its scratch directory, its cgroup), so other
sandboxes running on the machine (a worker, another test run) neither break nor are broken by it.

Run: .venv/bin/python -m pytest -p no:django -p no:cacheprovider tests/sandbox -q (needs root and bubblewrap).
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from backend.sandbox import Limits, run_in_sandbox, sandbox_available, sweep
from backend.sandbox import cgroups, runner, scratch, sweeper

ROOT = Path(__file__).resolve().parents[2]
MiB = 2**20
OUTPUT_CAP = 8 * MiB
needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="needs root, bwrap, prlimit and setpriv")

# The worker side: a process that runs one sandbox and prints the run's uid first.
WORKER = textwrap.dedent(f"""
    import sys, threading
    from pathlib import Path
    from backend.sandbox import Limits, run_in_sandbox, runner
    print(runner._UID_BASE + threading.get_native_id(), flush=True)
    run_in_sandbox(Path(sys.argv[1]), ["python", "main.py"], {{}}, Path(sys.argv[2]),
                   Limits(wall_seconds=120, cpu_seconds=120, output_bytes={OUTPUT_CAP}))
""")

STARTED = "open('/output/started', 'w').close()\n"
PROGRAMS = {
    "sleeping": STARTED + "import time\ntime.sleep(600)\n",
    "cpu-burning": STARTED + "while True:\n    pass\n",
    # Keeps trying to write 1 MiB files (64 of them would be 8 times the cap) and ignores every error.
    "disk-filling": STARTED + textwrap.dedent("""
        import itertools, time
        for i in itertools.count():
            try:
                with open(f"/output/part{i % 64}.bin", "wb") as handle:
                    handle.write(b"x" * 2**20)
            except OSError:
                time.sleep(0.01)
    """),
}


def _processes_of(uid: int) -> list[int]:
    return [pid for pid, owner in sweeper.sandbox_processes().items() if owner == uid]


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _run_dir_of(pid: int) -> Path | None:
    for path in scratch.state_dir().glob(f"run-{pid}-*"):
        if path.is_dir() and (path / "output" / "started").exists():
            return path
    return None


def _cgroup_dirs(name: str) -> list[Path]:
    return [h.base() / name for h in cgroups.hierarchies() if (h.base() / name).exists()]


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@needs_sandbox
@pytest.mark.parametrize("kind", sorted(PROGRAMS))
def test_killing_the_worker_kills_the_program_and_the_sweeper_removes_its_scratch(tmp_path, kind):
    code = tmp_path / "code"
    code.mkdir(mode=0o755)
    (code / "main.py").write_text(PROGRAMS[kind])
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(code), str(tmp_path / "out")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        uid = int(worker.stdout.readline())
        run_dir = _wait_for(lambda: _run_dir_of(worker.pid), 60, "the program to start")
        assert _processes_of(uid), "the program should be running"
        if kind == "disk-filling":
            time.sleep(1)
            assert _tree_bytes(run_dir / "output") <= OUTPUT_CAP  # the cap holds while it keeps trying
        assert _cgroup_dirs(run_dir.name) or not cgroups.hierarchies()
    finally:
        worker.kill()
        worker.wait()

    _wait_for(lambda: not _processes_of(uid), 5, f"the {kind} program to die with its worker")
    assert run_dir.exists()  # nobody removed it: the worker died

    report = sweep()
    assert run_dir.name in report.removed_scratch
    assert not run_dir.exists() and not Path(f"{run_dir}.lock").exists()
    assert scratch.mounts_under(run_dir) == []
    assert _cgroup_dirs(run_dir.name) == []
    assert not list((tmp_path / "out").glob("*"))  # the caller's output directory got nothing


@needs_sandbox
def test_the_sweeper_kills_an_unknown_sandbox_process_and_leaves_a_live_run_alone(tmp_path):
    # A process under a sandbox uid that no run on this host knows (above any thread id in use here).
    stray_uid = runner._UID_BASE + sweeper.UID_SPAN - 1 - random.randrange(1000)
    stray = subprocess.Popen(["setpriv", f"--reuid={stray_uid}", f"--regid={stray_uid}", "--clear-groups",
                              "sleep", "300"])
    code = tmp_path / "code"
    code.mkdir(mode=0o755)
    (code / "main.py").write_text(STARTED + "import time\ntime.sleep(3)\nopen('/output/done.txt', 'w').write('done')\n")
    results = []
    run = threading.Thread(target=lambda: results.append(
        run_in_sandbox(code, ["python", "main.py"], {}, tmp_path / "out", Limits(wall_seconds=60))))
    run.start()
    try:
        run_dir = _wait_for(lambda: _run_dir_of(os.getpid()), 60, "the live run to start")
        _wait_for(lambda: _processes_of(stray_uid), 10, "the stray process to start")

        report = sweep()
        assert stray.wait(timeout=5) == -9 and stray.pid in report.killed_processes
        assert run_dir.name not in report.removed_scratch and run_dir.name not in report.removed_cgroups
        assert run_dir.exists()
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
        run.join(timeout=60)
    result = results[0]
    assert result.status == "ok", result
    assert (result.output_dir / "done.txt").read_text() == "done"
    assert not run_dir.exists()


@needs_sandbox
def test_a_finished_run_leaves_no_scratch_cgroup_or_mount(tmp_path):
    code = tmp_path / "code"
    code.mkdir(mode=0o755)
    (code / "main.py").write_text("open('/output/x.txt', 'w').write('x')\n")
    before = set(scratch.state_dir().glob(f"run-{os.getpid()}-*"))
    result = run_in_sandbox(code, ["python", "main.py"], {}, tmp_path / "out", Limits(wall_seconds=30))
    assert result.ok and (result.output_dir / "x.txt").read_text() == "x"
    assert set(scratch.state_dir().glob(f"run-{os.getpid()}-*")) == before == set()
    assert not [m for m in scratch.mounts_under(scratch.state_dir()) if f"run-{os.getpid()}-" in m]
    assert not [p for h in cgroups.hierarchies() for p in h.base().glob(f"run-{os.getpid()}-*")]


@needs_sandbox
def test_scratch_directories_of_a_dead_owner_are_swept_and_live_ones_kept():
    live_name = None
    with scratch.scratch_directory("verify") as live:
        live_name = live.name
        (live / "inputs").mkdir()
        # A worker that died while holding a scratch directory: its lock is free.
        dead = subprocess.run([sys.executable, "-c", textwrap.dedent("""
            import os
            from backend.sandbox import scratch
            context = scratch.scratch_directory("verify")
            path = context.__enter__()
            (path / "big.bin").write_bytes(b"x" * 4096)
            print(path, flush=True)
            os._exit(0)
        """)], cwd=ROOT, capture_output=True, text=True, check=True)
        dead_path = Path(dead.stdout.strip())
        assert dead_path.exists()
        report = sweep()
        assert dead_path.name in report.removed_scratch and not dead_path.exists()
        assert live_name not in report.removed_scratch and (live / "inputs").is_dir()
    assert not live.exists()


@needs_sandbox
def test_without_cgroups_or_a_tmpfs_the_run_still_works_and_its_log_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(cgroups, "hierarchies", lambda: [])

    def cannot_mount(path, options):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(scratch, "mount_tmpfs", cannot_mount)
    code = tmp_path / "code"
    code.mkdir(mode=0o755)
    (code / "main.py").write_text("open('/output/x.txt', 'w').write('x')\nimport time\ntime.sleep(60)\n")
    uid = runner._UID_BASE + threading.get_native_id()
    result = run_in_sandbox(code, ["python", "main.py"], {}, tmp_path / "out", Limits(wall_seconds=2))
    assert result.status == "timeout" and (result.output_dir / "x.txt").read_text() == "x"
    assert "sandbox: no usable cgroup" in result.platform_log
    assert "sandbox: cannot mount a tmpfs for /output (Operation not permitted)" in result.platform_log
    assert "cgroup" not in result.message and _processes_of(uid) == []


@needs_sandbox
def test_concurrent_runs_and_sweeps_do_not_disturb_each_other(tmp_path):
    code = tmp_path / "code"
    code.mkdir(mode=0o755)
    (code / "main.py").write_text("import os, time\ntime.sleep(2)\n"
                                  "open('/output/uid.txt', 'w').write(str(os.getuid()))\n")
    results, sweeps = {}, []

    def run(n: int) -> None:
        results[n] = run_in_sandbox(code, ["python", "main.py"], {}, tmp_path / f"out{n}", Limits(wall_seconds=60))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        sweeps.append(sweep())
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    assert [results[n].status for n in range(2)] == ["ok", "ok"], results
    uids = {(results[n].output_dir / "uid.txt").read_text() for n in range(2)}
    assert len(uids) == 2  # each run had its own uid
    mine = f"run-{os.getpid()}-"
    assert not [name for report in sweeps for name in report.removed_scratch + report.removed_cgroups
                if name.startswith(mine)]


@needs_sandbox
def test_the_sweeper_spares_a_supervised_sandbox_it_does_not_know_but_not_a_fake_supervisor(tmp_path):
    # An older runner that does not register its runs: its program runs under a root bubblewrap.
    uid, fake_uid = (runner._UID_BASE + sweeper.UID_SPAN - 1 - random.randrange(1000) - offset for offset in (0, 2000))
    supervised = subprocess.Popen(["bwrap", "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent", "--",
                                   "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sleep", "300"])
    # A stray sandbox process calling itself "bwrap" is no supervisor.
    (tmp_path / "bwrap").symlink_to(subprocess.run(["which", "sleep"], capture_output=True, text=True).stdout.strip())
    fake = subprocess.Popen(["setpriv", f"--reuid={fake_uid}", f"--regid={fake_uid}", "--clear-groups",
                             str(tmp_path / "bwrap"), "300"])
    try:
        _wait_for(lambda: _processes_of(uid) and _processes_of(fake_uid), 10, "both processes to start")
        report = sweep()
        assert fake.wait(timeout=5) == -9 and fake.pid in report.killed_processes
        assert supervised.poll() is None and _processes_of(uid)
    finally:
        for proc in (supervised, fake):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    _wait_for(lambda: not _processes_of(uid), 5, "the supervised program to die with its bubblewrap")
