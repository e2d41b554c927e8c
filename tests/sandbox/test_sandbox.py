"""The sandbox against hostile programs: each attempt is contained, reported as a clear failure,
and the runner keeps working afterwards.

Run: .venv/bin/python -m pytest -p no:django -p no:cacheprovider tests/sandbox -q
(needs root, bubblewrap, prlimit and setpriv; skipped otherwise).
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from backend.sandbox import (
    Limits, SandboxError, compare_outputs, output_problem, run_in_sandbox, sandbox_available,
)
from backend.sandbox import cgroups, runner, scratch, seccomp, sweeper

MiB, GiB = 2**20, 2**30
SMALL = Limits(
    wall_seconds=20, cpu_seconds=20, memory_bytes=1 * GiB, max_processes=32, output_bytes=8 * MiB,
    output_files=50, log_bytes=64 * 1024, print_bytes=2 * MiB, tmp_bytes=64 * MiB, shm_bytes=8 * MiB,
)

needs_sandbox = pytest.mark.skipif(not sandbox_available(), reason="needs root, bwrap, prlimit and setpriv")


def _processes_of(uid: int) -> list[int]:
    """Live host pids running under ``uid``: this thread's sandbox uid, so other sandboxes running on the
    machine (a worker, another test run) never count."""
    return [pid for pid, owner in sweeper.sandbox_processes().items() if owner == uid]


def _my_run_dirs() -> list[str]:
    """Scratch directories of sandbox runs started by this test process and not removed."""
    found = []
    for entry in scratch.entries():
        entry.release()
        if entry.name.startswith(f"run-{os.getpid()}-"):
            found.append(entry.name)
    return found


@pytest.fixture
def sandbox(tmp_path):
    """run(program, inputs=..., limits=...) -> RunResult, with the program as /code/main.py."""
    uid = runner._UID_BASE + threading.get_native_id()
    counter = iter(range(1000))

    def run(program: str, inputs: dict[str, Path] | None = None, limits: Limits = SMALL, files: dict | None = None):
        n = next(counter)
        code = tmp_path / f"code{n}"
        code.mkdir(mode=0o755)
        (code / "main.py").write_text(textwrap.dedent(program))
        for name, content in (files or {}).items():
            (code / name).write_text(content)
        return run_in_sandbox(code, ["python", "main.py"], inputs or {}, tmp_path / f"out{n}", limits)

    yield run
    assert _processes_of(uid) == [], "a sandboxed process survived its run"
    assert _my_run_dirs() == [], "a run's scratch directory was left behind"


def _assert_runner_still_works(run) -> None:
    result = run("import numpy; open('/output/ok.txt', 'w').write(str(numpy.arange(4).sum()))")
    assert result.status == "ok", result
    assert (result.output_dir / "ok.txt").read_text() == "6"


# --- normal use --------------------------------------------------------------------------------

@needs_sandbox
def test_normal_run_reads_inputs_and_writes_output(sandbox, tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "numbers.txt").write_text("1\n2\n3\n")
    config = tmp_path / "config.yaml"
    config.write_text("scale: 10\n")
    result = sandbox("""
        import os, sys, yaml, numpy as np
        numbers = np.loadtxt("/inputs/data/numbers.txt")
        scale = yaml.safe_load(open("/inputs/config.yaml"))["scale"]
        os.makedirs("/output/sub")
        with open("/output/sub/result.txt", "w") as handle:
            handle.write(str(int(numbers.sum() * scale)))
        print("sum done", os.getcwd())
        print("a warning", file=sys.stderr)
    """, inputs={"data": data, "config.yaml": config})
    assert result.status == "ok" and result.exit_code == 0, result
    assert result.message == "the program finished successfully"
    assert "sum done /code" in result.stdout and "a warning" in result.stderr
    produced = result.output_dir / "sub" / "result.txt"
    assert produced.read_text() == "60"
    assert produced.stat().st_uid == os.geteuid()  # handed back to the caller
    assert result.wall_seconds > 0 and result.cpu_seconds > 0 and result.peak_memory_bytes > 10 * MiB


@needs_sandbox
def test_allowed_packages_work(sandbox):
    result = sandbox("""
        import joblib, numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq, scipy.sparse, yaml
        from sklearn.linear_model import LogisticRegression
        X = np.random.default_rng(0).normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
        print("score", LogisticRegression().fit(X, y).score(X, y))
        pd.DataFrame({"a": [1, 2]}).to_parquet("/tmp/t.parquet")
        print("rows", pq.read_table("/tmp/t.parquet").num_rows)
        print("jobs", joblib.Parallel(n_jobs=2)(joblib.delayed(abs)(-i) for i in range(3)))
    """)
    assert result.status == "ok", result.stderr
    assert "rows 2" in result.stdout and "jobs [0, 1, 2]" in result.stdout


@pytest.mark.parametrize("module", ["torch", "django", "requests"])
@needs_sandbox
def test_module_outside_the_allowed_set_is_named(sandbox, module):
    result = sandbox(f"import numpy\nimport {module}\n")
    assert result.status == "failed"
    assert result.message.startswith(f"module '{module}' is not available in the sandbox")
    assert "numpy, scipy, scikit-learn (sklearn), pandas, pyarrow, PyYAML (yaml)" in result.message


@needs_sandbox
def test_program_error_is_reported_in_one_sentence(sandbox):
    result = sandbox("raise ValueError('no targets in the input')")
    assert result.status == "failed" and result.exit_code == 1
    assert result.message == "the program exited with status 1: ValueError: no targets in the input"
    assert "Traceback" in result.stderr


# --- escape attempts ---------------------------------------------------------------------------

@needs_sandbox
def test_no_network(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    abstract_name = f"\0dataperf-sandbox-test-{os.getpid()}"
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(abstract_name)
    abstract.listen()
    try:
        result = sandbox(f"""
            import errno, json, socket
            out = {{"interfaces": [name for _, name in socket.if_nameindex()]}}
            for port in ({port}, 5432, 6379):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    out[str(port)] = "connected"
                except OSError as error:
                    out[str(port)] = errno.errorcode.get(error.errno, str(error))
            try:  # TEST-NET-1 (RFC 5737): never routed; must fail at once for lack of a route
                socket.create_connection(("192.0.2.1", 80), timeout=2)
                out["external"] = "connected"
            except OSError as error:
                out["external"] = errno.errorcode.get(error.errno, str(error))
            try:  # the host's abstract Unix sockets belong to the host's network namespace
                socket.socket(socket.AF_UNIX).connect({abstract_name!r})
                out["abstract"] = "connected"
            except OSError as error:
                out["abstract"] = errno.errorcode.get(error.errno, str(error))
            try:
                socket.getaddrinfo("pypi.org", 443)
                out["dns"] = "resolved"
            except OSError as error:
                out["dns"] = type(error).__name__
            print(json.dumps(out))
        """)
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing from the sandbox reached the host's loopback
    finally:
        server.close()
        abstract.close()
    out = json.loads(result.stdout)
    assert out["interfaces"] == ["lo"]
    assert out[str(port)] == out["5432"] == out["6379"] == "ECONNREFUSED"
    assert out["external"] == "ENETUNREACH"
    assert out["abstract"] == "ECONNREFUSED"
    assert out["dns"] == "gaierror"
    assert result.wall_seconds < 5


@needs_sandbox
def test_hidden_files_are_not_mounted(sandbox, tmp_path):
    secret = tmp_path / "hidden" / "labels.csv"
    secret.parent.mkdir()
    secret.write_text("TOP-SECRET-LABELS")
    secret.chmod(0o644)
    targets = [str(secret), str(Path(__file__).resolve()), "/work/main/backend/sandbox/runner.py", "/root/.bashrc",
               "/root/.ssh/id_rsa", "/etc/shadow", str(Path(runner.sys.executable)), "/var/run/postgresql"]
    result = sandbox(f"""
        import json, os
        out = {{}}
        for path in {targets!r}:
            try:
                out[path] = open(path, "rb").read(100).decode("latin-1")
            except OSError as error:
                out[path] = type(error).__name__
        out["/root"] = sorted(os.listdir("/root")) if os.path.isdir("/root") else []
        out["/"] = sorted(os.listdir("/"))
        print(json.dumps(out))
    """)
    assert result.status == "ok", result.stderr
    assert "TOP-SECRET" not in result.stdout
    out = json.loads(result.stdout)
    for path in targets:
        assert out[path] in ("FileNotFoundError", "PermissionError"), (path, out[path])
    assert out["/root"] in ([], [".pyenv"])  # only the Python runtime, when it lives there (pyenv)
    assert set(out["/"]) <= {"bin", "code", "dev", "etc", "inputs", "lib", "lib32", "lib64", "libx32", "output",
                             "proc", "root", "sandbox", "sbin", "tmp", "usr"}


@needs_sandbox
def test_environment_secrets_are_not_visible(sandbox, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "django-insecure-SANDBOX-CANARY")
    monkeypatch.setenv("DATABASE_URL", "postgres://dataperf:CANARY-PASSWORD@127.0.0.1/dataperf")
    result = sandbox("""
        import glob, json, os
        seen = dict(os.environ)
        for path in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline"):
            try:
                seen[path] = open(path, "rb").read().decode("latin-1")
            except OSError as error:
                seen[path] = type(error).__name__
        print(json.dumps(seen))
    """)
    assert result.status == "ok", result.stderr
    assert "CANARY" not in result.stdout
    env_keys = {key for key in json.loads(result.stdout) if not key.startswith("/proc/")}
    assert env_keys <= set(runner._SANDBOX_ENV) | {"PWD", "LC_CTYPE"}


@needs_sandbox
def test_runs_unprivileged_read_only_and_without_new_namespaces(sandbox, tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "x.txt").write_text("x")
    result = sandbox("""
        import ctypes, errno, json, os
        status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
        out = {"uid": os.getuid(), "caps": status["CapEff"].strip(), "bounding": status["CapBnd"].strip(),
               "nnp": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip()}
        libc = ctypes.CDLL(None, use_errno=True)
        out["unshare_user"] = libc.unshare(0x10000000) == -1 and errno.errorcode[ctypes.get_errno()]
        for path in ("/code/x", "/inputs/data/x.txt", "/usr/x", "/etc/passwd", "/x"):
            try:
                open(path, "w").write("x")
                out[path] = "written"
            except OSError as error:
                out[path] = errno.errorcode[error.errno]
        open("/tmp/ok", "w").write("tmp is writable")
        print(json.dumps(out))
    """, inputs={"data": data})
    assert result.status == "ok", result.stderr
    out = json.loads(result.stdout)
    assert out["uid"] >= runner._UID_BASE
    assert out["caps"] == out["bounding"] == "0000000000000000"
    assert out["nnp"] == "1" and out["seccomp"] == "2"
    assert out["unshare_user"] == "EPERM"
    assert all(out[p] in ("EROFS", "EACCES") for p in ("/code/x", "/inputs/data/x.txt", "/usr/x", "/etc/passwd", "/x"))
    assert (data / "x.txt").read_text() == "x"


# --- resource limits -----------------------------------------------------------------------------

@needs_sandbox
def test_fork_bomb_is_contained(sandbox):
    limits = replace(SMALL, wall_seconds=3, max_processes=16)
    uid = runner._UID_BASE + threading.get_native_id()
    counts, done = [], threading.Event()

    def sample() -> None:
        while not done.is_set():
            counts.append(len(_processes_of(uid)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        result = sandbox("""
            import os
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """, limits=limits)
    finally:
        done.set()
        sampler.join()
    assert time.monotonic() - started < 15
    assert result.status == "timeout"
    assert result.message == "the program ran longer than 3 seconds and was stopped"
    assert max(counts) <= limits.max_processes
    assert _processes_of(uid) == []
    _assert_runner_still_works(sandbox)


@needs_sandbox
def test_thread_bomb_fails_cleanly(sandbox):
    result = sandbox("""
        import threading, time
        threads = [threading.Thread(target=time.sleep, args=(5,)) for _ in range(200)]
        for thread in threads:
            thread.start()
    """)
    assert result.status == "failed"
    assert result.message == "the program tried to run more than 32 processes or threads at once and failed"


@needs_sandbox
def test_allocating_10_gib_is_stopped(sandbox):
    result = sandbox("""
        import numpy as np
        block = np.ones(10 * 2**30 // 8)
        print("allocated", block.nbytes)
    """)
    assert result.status == "memory"
    assert result.message == "the program used more than 1.0 GiB of memory and was stopped"
    assert "allocated" not in result.stdout
    _assert_runner_still_works(sandbox)


@needs_sandbox
def test_writing_1_gib_to_one_output_file_is_stopped(sandbox):
    result = sandbox("""
        chunk = b"x" * 2**20
        with open("/output/big.bin", "wb") as handle:
            for _ in range(1024):
                handle.write(chunk)
    """)
    assert result.status == "output_limit"
    assert result.message == "the program wrote a file larger than 8.0 MiB and was stopped"
    assert list(result.output_dir.iterdir()) == []  # discarded


@needs_sandbox
def test_writing_1_gib_in_many_output_files_is_stopped(sandbox):
    result = sandbox("""
        import os
        chunk = b"x" * 2**20
        os.makedirs("/output/parts")
        for i in range(1024):
            with open(f"/output/parts/{i}.bin", "wb") as handle:
                handle.write(chunk)
    """, limits=replace(SMALL, output_files=10_000))
    assert result.status == "output_limit"
    assert result.message in ("the program wrote more than 8.0 MiB of output and was stopped",
                              "the program wrote more than 8.0 MiB of output; the output was discarded")
    assert list(result.output_dir.iterdir()) == []


@needs_sandbox
def test_too_many_output_files_and_deep_trees_are_refused(sandbox):
    many = sandbox("""
        for i in range(200):
            open(f"/output/{i}.txt", "w").write("x")
    """)
    assert many.status == "output_limit" and "more than 50 files in /output" in many.message
    deep = sandbox("""
        import os
        os.makedirs("/output/" + "/".join(["d"] * 40))
    """, limits=replace(SMALL, output_files=10_000))
    assert deep.status == "output_limit" and "nested directories" in deep.message
    assert list(deep.output_dir.iterdir()) == []


@needs_sandbox
def test_links_and_special_files_are_removed_from_the_output(sandbox):
    result = sandbox("""
        import os
        os.symlink("/etc/passwd", "/output/passwd")
        os.symlink("/etc", "/output/etc")
        os.mkfifo("/output/fifo")
        open("/output/real.txt", "w").write("real")
    """)
    assert result.status == "ok"
    assert "3 symbolic link(s) or special file(s) in /output were removed" in result.message
    assert sorted(p.name for p in result.output_dir.iterdir()) == ["real.txt"]


@needs_sandbox
def test_filling_tmp_is_refused(sandbox):
    result = sandbox("""
        for i in range(25):  # 4 MiB files (one file may not exceed the output limit, 8 MiB)
            with open(f"/tmp/scratch{i}.bin", "wb") as handle:
                handle.write(b"z" * 4 * 2**20)
    """)
    assert result.status == "failed"
    assert result.message == "the program ran out of scratch space: /tmp holds at most 64.0 MiB and /dev/shm 8.0 MiB"


@needs_sandbox
def test_sleeping_past_the_wall_limit_is_stopped(sandbox):
    started = time.monotonic()
    result = sandbox("import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n",
                     limits=replace(SMALL, wall_seconds=2))
    assert result.status == "timeout"
    assert result.message == "the program ran longer than 2 seconds and was stopped"
    assert "sleeping" in result.stdout
    assert 2 <= result.wall_seconds < 5 and time.monotonic() - started < 8


@needs_sandbox
def test_cpu_limit(sandbox):
    result = sandbox("while True:\n    pass\n", limits=replace(SMALL, cpu_seconds=1))
    assert result.status == "timeout"
    assert result.message == "the program used more than 1 second of CPU time and was stopped"


@needs_sandbox
def test_printing_100_mb_is_stopped_and_logs_are_truncated(sandbox):
    result = sandbox("""
        import sys
        line = "y" * 1023 + "\\n"
        for _ in range(100 * 1024):
            sys.stdout.write(line)
    """)
    assert result.status == "output_limit"
    assert result.message == "the program printed more than 2.0 MiB to stdout and was stopped"
    assert len(result.stdout) < 70 * 1024 and "bytes omitted by the sandbox" in result.stdout
    _assert_runner_still_works(sandbox)


@needs_sandbox
def test_memory_of_all_processes_together_is_capped(sandbox):
    if "memory" not in {c for h in cgroups.hierarchies() for c in h.controllers}:
        pytest.skip("no cgroup memory controller on this machine")
    # Three processes of 450 MiB each: every one is under the 1 GiB per-process limit, together they
    # are over the run's 1 GiB + scratch.
    result = sandbox("""
        import os, sys, time
        children = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                block = b"x" * (450 * 2**20)
                time.sleep(10)
                os._exit(0)
            children.append(pid)
        statuses = [os.waitpid(pid, 0)[1] for pid in children]
        sys.exit(1 if any(statuses) else 0)
    """)
    assert result.status == "memory", result
    assert result.message == ("the program used more than 1.1 GiB of memory (all its processes and files in "
                              "/tmp, /dev/shm and /output together) and was stopped")
    _assert_runner_still_works(sandbox)


# --- what the program prints is its own business -------------------------------------------------

@needs_sandbox
def test_nul_bytes_and_invalid_utf8_in_the_log_are_stored_escaped_and_named(sandbox):
    result = sandbox("""
        import sys
        sys.stdout.buffer.write(b"before\\0after \\xff\\xfe end\\n")
        sys.stderr.write("a warning\\n")
    """)
    assert result.status == "ok"
    assert result.stdout == "before\\x00after \\xff\\xfe end\n" and result.stderr == "a warning\n"
    assert result.message == ("the program finished successfully; "
                              "its log contained NUL bytes and invalid UTF-8; shown escaped")
    assert result.log_note == "its log contained NUL bytes and invalid UTF-8; shown escaped"

    failed = sandbox("import os\nos.write(2, b'bad \\0 byte\\n')\nraise SystemExit(4)\n")
    assert failed.status == "failed" and failed.exit_code == 4
    assert failed.message == ("the program exited with status 4: bad \\x00 byte; "
                              "its log contained NUL bytes; shown escaped")

    # Valid UTF-8 cut by the log cap is not reported as invalid (the cut may split a character).
    long = sandbox("print('a' + '\u00e9' * 100_000)")
    assert long.status == "ok" and long.message == "the program finished successfully"
    assert "bytes omitted by the sandbox" in long.stdout and "\\x" not in long.stdout


@needs_sandbox
def test_a_one_gigabyte_line_on_stdout_stops_the_program_once(sandbox):
    started = time.monotonic()
    result = sandbox("""
        import sys
        chunk = "z" * 2**20
        for _ in range(1024):
            sys.stdout.write(chunk)
    """)
    assert result.status == "output_limit"
    assert result.message == "the program printed more than 2.0 MiB to stdout and was stopped"
    assert len(result.stdout) < 70 * 1024 and time.monotonic() - started < 15


def test_output_json_nested_too_deep_is_the_programs_problem(tmp_path):
    expected = _write(tmp_path / "sub" / "submission.json", {"targets": {}, "nontargets": []})
    for depth in (100_000, 101):
        produced = _write(tmp_path / "run" / "submission.json", "[" * depth + "]" * depth)
        assert compare_outputs(expected, produced) == (
            False, "your program's output file submission.json is nested deeper than 100 levels")
        assert output_problem(produced) == "your program's output file submission.json is nested deeper than 100 levels"
        assert output_problem(tmp_path / "run") == output_problem(produced)
    ok = _write(tmp_path / "run" / "submission.json", "[" * 100 + "]" * 100)
    assert output_problem(ok) is None and not compare_outputs(expected, ok)[0]


# --- platform-side errors ------------------------------------------------------------------------

@needs_sandbox
def test_setup_problems_raise_sandbox_error(tmp_path):
    code = tmp_path / "code"
    code.mkdir(mode=0o755)
    (code / "main.py").write_text("print(1)")
    private = tmp_path / "private.csv"
    private.write_text("x")
    private.chmod(0o600)
    with pytest.raises(SandboxError, match="not readable by the sandbox user"):
        run_in_sandbox(code, ["python", "main.py"], {"data": private}, tmp_path / "out1", SMALL)
    with pytest.raises(SandboxError, match="not a plain file name"):
        run_in_sandbox(code, ["python", "main.py"], {"../etc": code}, tmp_path / "out2", SMALL)
    (tmp_path / "out3").mkdir()
    (tmp_path / "out3" / "old.txt").write_text("x")
    with pytest.raises(SandboxError, match="must be an empty directory"):
        run_in_sandbox(code, ["python", "main.py"], {}, tmp_path / "out3", SMALL)


@needs_sandbox
def test_a_broken_sandbox_setup_is_not_blamed_on_the_participant(tmp_path, monkeypatch):
    code = tmp_path / "code"
    code.mkdir(mode=0o755)
    (code / "main.py").write_text("print(1)")
    build = runner._bwrap_args
    monkeypatch.setattr(runner, "_bwrap_args",
                        lambda *args: build(*args) + ["--ro-bind", str(tmp_path / "gone"), "/gone"])
    with pytest.raises(SandboxError, match="bubblewrap could not set up the sandbox: bwrap: Can't find source path"):
        run_in_sandbox(code, ["python", "main.py"], {}, tmp_path / "out", SMALL)
    assert list((tmp_path / "out").iterdir()) == [] and (tmp_path / "out").stat().st_uid == os.geteuid()


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="wall_seconds"):
        Limits(wall_seconds=0)


def test_seccomp_filter_is_built_for_supported_architectures():
    for machine in ("x86_64", "aarch64", "arm64"):
        program = seccomp.build_filter(machine)
        assert program and len(program) % 8 == 0 and len(program) // 8 < 256
    assert seccomp.build_filter("riscv64") is None


def test_allowed_packages_bring_their_runtime_dependencies():
    """Every unconditional requirement of an allowed package is mounted too."""
    import importlib.metadata
    import re

    mounted = {name.lower() for name, _ in runner.ALLOWED_PACKAGES} | set(runner._RUNTIME_DEPENDENCIES)
    todo = [name for name, _ in runner.ALLOWED_PACKAGES]
    while todo:
        for requirement in importlib.metadata.requires(todo.pop()) or []:
            if ";" in requirement:
                continue
            name = re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower()
            assert name in mounted, f"{name} is needed at runtime but not mounted in the sandbox"
            todo.append(name)


# --- compare_outputs ----------------------------------------------------------------------------

def _write(path: Path, value) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def test_compare_speech_selection(tmp_path):
    submitted = {"targets": {"cat": ["cat/a.wav", "cat/b.wav"], "dog": []}, "nontargets": ["x/1.wav", "y/2.wav"]}
    expected = _write(tmp_path / "sub" / "submission.json", submitted)

    def compare(produced: dict):
        return compare_outputs(expected, _write(tmp_path / "run" / "submission.json", produced))

    assert compare(submitted) == (True, "the code reproduced submission.json")
    same, message = compare({"targets": {"dog": [], "cat": ["cat/b.wav", "cat/a.wav"]},
                             "nontargets": ["y/2.wav", "x/1.wav"]})
    assert same and "different order" in message
    assert compare({**submitted, "targets": {"cat": ["cat/a.wav"], "dog": []}}) == (
        False, "submission.json: targets['cat'] differs: submitted 2 ids, the code produced 1; "
               "first missing id: cat/b.wav")
    assert compare({**submitted, "targets": {"cat": ["cat/a.wav", "cat/b.wav"]}}) == (
        False, "submission.json: targets differ: the code left out target word 'dog'")
    assert compare({**submitted, "nontargets": ["x/1.wav", "y/2.wav", "z/3.wav"]}) == (
        False, "submission.json: nontargets differs: submitted 2 ids, the code produced 3; first extra id: z/3.wav")
    assert compare({**submitted, "nontargets": ["x/1.wav", "x/1.wav", "y/2.wav"]})[1].endswith(
        "id x/1.wav appears 1 time(s) in the submission and 2 time(s) in the code's output")


def test_compare_vision_selection_and_text_files(tmp_path):
    submitted = {"Cupcake": {"a1": 1, "b2": 0}, "Hawk": {"c3": 1}}
    expected = _write(tmp_path / "sub" / "vision.json", submitted)
    assert compare_outputs(expected, _write(tmp_path / "run" / "vision.json", submitted))[0]
    assert compare_outputs(expected, _write(tmp_path / "run" / "vision.json", {**submitted, "Hawk": {"c3": 0}})) == (
        False, "vision.json: Hawk['c3'] differs: submitted 1, the code produced 0")
    assert compare_outputs(expected, _write(tmp_path / "run" / "vision.json", {**submitted, "Hawk": {}})) == (
        False, "vision.json: Hawk differs: submitted 1 entries, the code produced 0; first missing key: c3")
    assert not compare_outputs(expected, _write(tmp_path / "run" / "vision.json", "{not json"))[0]

    ranking = _write(tmp_path / "sub" / "task.txt", "3\r\n1\r\n2\r\n")
    assert compare_outputs(ranking, _write(tmp_path / "run" / "task.txt", "3\n1\n2"))[0]
    assert compare_outputs(ranking, _write(tmp_path / "run" / "task.txt", "3\n2\n1\n")) == (
        False, "task.txt line 2 differs: submitted '1', the code produced '2'")
    assert compare_outputs(ranking, _write(tmp_path / "run" / "task.txt", "3\n1\n")) == (
        False, "task.txt differs: submitted 3 lines, the code produced 2; first missing line (3): '2'")


def test_compare_directories(tmp_path):
    _write(tmp_path / "sub" / "Cupcake.csv", "ImageID,Confidence\na1,1\n")
    _write(tmp_path / "sub" / "Hawk.csv", "ImageID,Confidence\nc3,0\n")
    _write(tmp_path / "run" / "Cupcake.csv", "ImageID,Confidence\na1,1\n")
    assert compare_outputs(tmp_path / "sub", tmp_path / "run") == (False, "the code did not produce Hawk.csv")
    _write(tmp_path / "run" / "Hawk.csv", "ImageID,Confidence\nc3,0\n")
    _write(tmp_path / "run" / "log.txt", "extra files are ignored")
    assert compare_outputs(tmp_path / "sub", tmp_path / "run") == (True, "the code reproduced all 2 submitted files")
    assert compare_outputs(tmp_path / "sub" / "Hawk.csv", tmp_path / "nothing" / "Hawk.csv") == (
        False, "the code did not produce Hawk.csv")
    linked = tmp_path / "linked"  # files reached through symbolic links are never read
    _write(linked / "Cupcake.csv", "ImageID,Confidence\na1,1\n")
    (linked / "Hawk.csv").symlink_to(tmp_path / "run" / "Hawk.csv")
    assert compare_outputs(tmp_path / "sub", linked) == (False, "the code did not produce Hawk.csv")
