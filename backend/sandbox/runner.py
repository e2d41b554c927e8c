"""Run a participant's untrusted program in a bubblewrap sandbox (closed division).

``run_in_sandbox(code_dir, command, inputs, output_dir, limits)`` runs ``command`` with the
submitted code read-only at ``/code`` (also the working directory), each public input read-only
at ``/inputs/<name>``, a writable ``/output`` bound from ``output_dir``, a private size-capped
``/tmp``, no network (a new network namespace holding only loopback) and a Python that can import
only the standard library and the allowed packages (numpy, scipy, scikit-learn, pandas, pyarrow,
PyYAML). See docs/sandbox.md for the threat model.

How the process is confined (tests/sandbox tries to break each piece):

* bubblewrap runs as root, without a user namespace (root can bind paths the sandbox user cannot
  reach, such as a Python installed under /root), with new pid, net, ipc, uts, cgroup and mount
  namespaces, ``--die-with-parent`` and ``--new-session``. Its own init is pid 1 of the sandbox:
  a root process, so the parent-death signal reaches it (bubblewrap drops CAP_KILL, so a signal from
  it to the unprivileged program would be refused) and its death ends the whole pid namespace;
* the launched process gets a parent-death signal before it execs (``_preexec``), joins the run's
  cgroup (``cgroups.py``: memory and pids of the whole tree, CPU time, peak memory, one-shot kill);
* inside, ``setpriv`` drops to a dedicated unprivileged host uid (``_UID_BASE`` + the calling
  thread's id), clears supplementary groups and every capability; no_new_privs is set;
* ``prlimit`` (set before bubblewrap starts, inherited by everything inside) caps address space,
  CPU seconds per process, file size, open files and the number of processes of that uid
  (RLIMIT_NPROC is per real uid, which is why the program must not run as root);
* a seccomp filter (``seccomp.py``) refuses user namespaces, mount, bpf, keyrings, io_uring, ...;
* ``/output`` is a tmpfs of ``output_bytes`` (and ``output_files`` inodes) mounted by the runner in
  the run's scratch directory, so the cap holds on the host even if the worker dies mid-run; the
  scratch directory is registered (``scratch.py``) and removed after the run, or by the sweeper
  (``sweeper.py``) when the worker died;
* the runner enforces wall time and stdout/stderr volume from outside: it kills the run's cgroup
  (and every process of the sandbox uid), then bubblewrap's process group if it has not exited a
  second later. Logs are kept capped and escaped (NUL bytes, invalid UTF-8).

This module must not import Django: the Celery worker calls it from a service function.
"""
from __future__ import annotations

import ctypes
import dataclasses
import importlib.metadata
import math
import os
import re
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import threading
import time
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Literal, Mapping, Sequence

from . import cgroups, scratch, seccomp

KiB, MiB, GiB = 2**10, 2**20, 2**30

Status = Literal["ok", "failed", "timeout", "memory", "output_limit", "killed"]

# What a participant may import, as (distribution, import name); plus what those need at runtime.
ALLOWED_PACKAGES: tuple[tuple[str, str], ...] = (
    ("numpy", "numpy"), ("scipy", "scipy"), ("scikit-learn", "sklearn"), ("pandas", "pandas"),
    ("pyarrow", "pyarrow"), ("PyYAML", "yaml"),
)
_RUNTIME_DEPENDENCIES = ("joblib", "threadpoolctl", "cloudpickle", "python-dateutil", "six", "tzdata")
ALLOWED_DESCRIPTION = ", ".join(
    dist if dist == module else f"{dist} ({module})" for dist, module in ALLOWED_PACKAGES
) + " and the Python standard library"

# Paths inside the sandbox.
CODE_DIR, INPUTS_DIR, OUTPUT_DIR = "/code", "/inputs", "/output"
_BIN_DIR = "/sandbox/bin"

# The sandboxed program runs as host uid _UID_BASE + native thread id: unique among the threads
# running sandboxes in this container, never a real account, and RLIMIT_NPROC counts per uid.
_UID_BASE = 1_000_000_000
_OUTPUT_MAX_DEPTH = 32
_POLL_SECONDS = 0.1
_OUTPUT_CHECK_SECONDS = 0.25
_INPUT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

_SANDBOX_ENV = {
    "PATH": f"{_BIN_DIR}:/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "USER": "participant",
    "LOGNAME": "participant",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    # Same hash seed on every run, so that iterating a set gives the same order when the platform
    # re-runs the code to check that it reproduces the submitted file.
    "PYTHONHASHSEED": "0",
    # One thread per BLAS/OpenMP/Arrow pool and one joblib worker: runs are comparable and a
    # library that sizes its pool by the host's CPU count cannot hit the process limit.
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "LOKY_MAX_CPU_COUNT": "1",
}


class SandboxError(Exception):
    """The platform cannot run the sandbox (missing tool, not root, unreadable input, ...).

    Not the participant's fault: the caller should mark the job as an infrastructure error.
    """


@dataclasses.dataclass(frozen=True)
class Limits:
    wall_seconds: float = 600
    cpu_seconds: int = 600  # per process (RLIMIT_CPU); the wall limit bounds the total
    memory_bytes: int = 4 * GiB  # address space per process (RLIMIT_AS)
    max_processes: int = 64  # processes and threads of the sandbox uid (RLIMIT_NPROC)
    output_bytes: int = 64 * MiB  # total size of /output; also the largest file anywhere (RLIMIT_FSIZE)
    output_files: int = 1000  # files and directories in /output
    log_bytes: int = 1 * MiB  # kept per stream in RunResult (first and last half)
    print_bytes: int = 64 * MiB  # a program that prints more than this to stdout or stderr is stopped
    tmp_bytes: int = 1 * GiB  # size of the private /tmp (RAM-backed)
    shm_bytes: int = 64 * MiB  # size of /dev/shm (semaphores, joblib memmaps)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"Limits.{field.name} must be positive")

    @property
    def sandbox_memory_bytes(self) -> int:
        """Memory of the whole run (its cgroup): the program's allowance plus its RAM-backed scratch."""
        return self.memory_bytes + self.tmp_bytes + self.shm_bytes + self.output_bytes


@dataclasses.dataclass
class RunResult:
    status: Status
    exit_code: int | None  # the command's exit status; 128 + n when it died from signal n
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float
    peak_memory_bytes: int
    output_dir: Path
    message: str  # one sentence for the participant
    log_note: str = ""  # e.g. "its log contained NUL bytes; shown escaped" (also at the end of message)
    platform_log: str = ""  # for organizers: what the platform could not enforce on this host

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_in_sandbox(
    code_dir: Path,
    command: Sequence[str],
    inputs: Mapping[str, Path],
    output_dir: Path,
    limits: Limits = Limits(),
) -> RunResult:
    """Run ``command`` (e.g. ``["python", "run.py", "--input", "/inputs/data"]``) in /code.

    ``output_dir`` is created if missing and must be empty; after the run it holds what the program
    wrote to /output (owned by the caller; symbolic links and special files are removed; emptied
    again when the output limit was exceeded). Raises SandboxError when the platform cannot run
    the sandbox; everything the program does is reported in the RunResult.
    """
    check_sandbox()
    if not command:
        raise ValueError("command must not be empty")
    code_dir, output_dir = Path(code_dir), Path(output_dir)
    _require_readable(code_dir, "the submitted code", want_dir=True)
    for name, source in inputs.items():
        if not _INPUT_NAME.match(name):
            raise SandboxError(f"input name {name!r} is not a plain file name")
        _require_readable(Path(source), f"input {name!r}")
    output_dir.mkdir(parents=True, exist_ok=True)
    if output_dir.is_symlink() or any(output_dir.iterdir()):
        raise SandboxError(f"output directory {output_dir} must be an empty directory")
    try:
        scratch.state_dir()
    except OSError as error:
        raise SandboxError(f"the sandbox state directory is unusable: {error}") from error

    uid = _UID_BASE + threading.get_native_id()
    _kill_uid(uid)
    # Registered (locked) before any process starts: the sweeper leaves this run alone while we live
    # and removes its scratch, cgroup and processes if we die.
    with scratch.scratch_directory("run", uid=uid) as run_dir:
        group = cgroups.RunCgroup.create(run_dir.name, limits.sandbox_memory_bytes, limits.max_processes + 8)
        notes = list(group.notes)
        try:
            sandbox_output = _output_mount(run_dir / "output", limits, uid, notes)
            watch, started = _start_and_watch(code_dir, command, inputs, sandbox_output, limits, uid, group)
            scan = _scan_output(sandbox_output, limits)
            full = _filesystem_full(sandbox_output) if scratch.mounts_under(sandbox_output) else None
            if not started:
                raise SandboxError(f"bubblewrap could not set up the sandbox: {watch.stderr.text().strip()[-2000:]}")
            cpu, peak = group.cpu_seconds(), group.peak_memory_bytes()
            if cpu is not None:
                watch.cpu_seconds = cpu
            if peak is not None:  # the group's charge misses pages already cached by others; rusage may see them
                watch.peak_memory_bytes = max(peak, watch.peak_memory_bytes)
            status, message = _classify(watch, scan, limits, oom_killed=group.oom_killed(), output_full=full)
            if status != "output_limit":
                scan.removed = _copy_output(sandbox_output, output_dir)
        except BaseException:
            _wipe(output_dir)  # give the (empty) directory back to the caller
            raise
        finally:
            group.remove()
            _kill_uid(uid)

    if status == "ok" and scan.removed:
        message += f" ({scan.removed} symbolic link(s) or special file(s) in /output were removed)"
    log_note = _log_note(watch)
    if log_note:
        message += f"; {log_note}"
    return RunResult(
        status=status, exit_code=watch.exit_code, stdout=watch.stdout.text(), stderr=watch.stderr.text(),
        wall_seconds=round(watch.wall_seconds, 3), cpu_seconds=round(watch.cpu_seconds, 3),
        peak_memory_bytes=watch.peak_memory_bytes, output_dir=output_dir, message=message,
        log_note=log_note, platform_log="".join(f"sandbox: {note}\n" for note in notes),
    )


def _output_mount(path: Path, limits: Limits, uid: int, notes: list[str]) -> Path:
    """/output as a tmpfs capped at output_bytes and output_files entries, owned by the sandbox uid."""
    path.mkdir(mode=0o755)
    try:
        scratch.mount_tmpfs(path, f"size={limits.output_bytes},nr_inodes={limits.output_files + 1},mode=0755,"
                                  f"uid={uid},gid={uid}")
    except OSError as error:
        notes.append(f"cannot mount a tmpfs for /output ({error.strerror}): its size is checked every "
                     f"{_OUTPUT_CHECK_SECONDS} s instead of capped")
        os.chown(path, uid, uid)
    return path


def _filesystem_full(path: Path) -> str | None:
    """"bytes" or "files" when the /output tmpfs has no room left, else None."""
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    if info.f_favail == 0:
        return "files"
    if info.f_bavail == 0:
        return "bytes"
    return None


def check_sandbox() -> None:
    """Raise SandboxError unless this machine can run sandboxes (tools present, running as root)."""
    missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
    if missing:
        raise SandboxError(f"the sandbox needs {', '.join(missing)} (packages bubblewrap and util-linux)")
    if os.geteuid() != 0:
        raise SandboxError("the sandbox runner must run as root (it drops to an unprivileged uid itself)")


def sandbox_available() -> bool:
    try:
        check_sandbox()
    except SandboxError:
        return False
    return True


# --- building the sandbox ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _PythonRuntime:
    executable: str  # the real interpreter binary (not the venv symlink)
    prefix: str  # its installation prefix, bound read-only at the same path unless under /usr
    site_dirs: tuple[str, ...]  # replaced by an empty tmpfs holding only the allowed packages
    packages: tuple[tuple[str, str], ...]  # (source path, name inside site-packages)
    hidden: tuple[str, ...]  # paths under /usr hidden behind an empty tmpfs


@lru_cache(maxsize=1)
def _python_runtime() -> _PythonRuntime:
    executable = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    base_vars = {"base": prefix, "platbase": prefix, "installed_base": prefix, "installed_platbase": prefix}
    site_dirs = tuple(dict.fromkeys(
        sysconfig.get_path(kind, vars=base_vars) for kind in ("purelib", "platlib")))
    stdlib = os.path.realpath(sysconfig.get_path("stdlib", vars=base_vars))
    packages: dict[str, str] = {}
    for dist_name in [dist for dist, _ in ALLOWED_PACKAGES] + list(_RUNTIME_DEPENDENCIES):
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            if dist_name in _RUNTIME_DEPENDENCIES:
                continue
            raise SandboxError(f"package {dist_name} is not installed in the worker's Python") from None
        for top in sorted({PurePosixPath(str(f)).parts[0] for f in dist.files or ()}):
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            source = Path(str(dist.locate_file(top)))
            if source.exists():
                packages[top] = str(source)
    # Everything under /usr is visible in the sandbox; hide other Python installations (their packages
    # are not allowed) and, when they live under /usr, the worker's virtualenv and this project.
    hidden = [path for path in (os.path.realpath(sys.prefix), str(Path(__file__).resolve().parents[2]))
              if path.startswith("/usr/") and path != prefix and not prefix.startswith(path + "/")]
    for pattern_dir in ("/usr/lib", "/usr/local/lib"):
        for candidate in sorted(Path(pattern_dir).glob("python3*")):
            real = os.path.realpath(candidate)
            if candidate.is_dir() and real != stdlib and not stdlib.startswith(real + "/"):
                hidden.append(str(candidate))
    return _PythonRuntime(executable, prefix, site_dirs, tuple((src, name) for name, src in packages.items()),
                          tuple(hidden))


def _bwrap_args(code_dir: Path, inputs: Mapping[str, Path], output_dir: Path, limits: Limits, uid: int,
                fds: list[int]) -> list[str]:
    python = _python_runtime()
    args = [
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup",
        "--die-with-parent", "--new-session", "--hostname", "sandbox",
        # Only setpriv (the launcher) uses these, to drop to the sandbox uid and clear the bounding set.
        "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP",
        "--ro-bind", "/usr", "/usr",
    ]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    passwd = f"root:x:0:0::/:/usr/sbin/nologin\nparticipant:x:{uid}:{uid}::/tmp:/usr/sbin/nologin\n"
    group = f"root:x:0:\nparticipant:x:{uid}:\n"
    hosts = "127.0.0.1 localhost\n::1 localhost\n"
    args += ["--perms", "0755", "--dir", "/etc",
             "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
             "--ro-bind-try", "/etc/localtime", "/etc/localtime"]
    for name, content in (("passwd", passwd), ("group", group), ("hosts", hosts)):
        fds.append(_memfd(name, content.encode()))
        args += ["--perms", "0644", "--ro-bind-data", str(fds[-1]), f"/etc/{name}"]
    filter_program = seccomp.build_filter()
    if filter_program is not None:
        fds.append(_memfd("seccomp", filter_program))
        args += ["--seccomp", str(fds[-1])]

    if python.prefix != "/usr" and not python.prefix.startswith("/usr/"):
        args += _mkdirs(str(PurePosixPath(python.prefix).parent))
        args += ["--ro-bind", python.prefix, python.prefix]
    for hidden in python.hidden:
        args += ["--tmpfs", hidden]
    for site_dir in python.site_dirs:
        args += ["--perms", "0755", "--tmpfs", site_dir]
        for source, name in python.packages:
            args += ["--ro-bind", source, f"{site_dir}/{name}"]
    args += ["--perms", "0755", "--dir", "/sandbox", "--perms", "0755", "--dir", _BIN_DIR,
             "--symlink", python.executable, f"{_BIN_DIR}/python",
             "--symlink", python.executable, f"{_BIN_DIR}/python3"]

    args += ["--ro-bind", str(code_dir.resolve()), CODE_DIR, "--perms", "0755", "--dir", INPUTS_DIR]
    for name, source in inputs.items():
        args += ["--ro-bind", str(Path(source).resolve()), f"{INPUTS_DIR}/{name}"]
    args += ["--bind", str(output_dir.resolve()), OUTPUT_DIR,
             "--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
             "--perms", "1777", "--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm",
             "--chdir", CODE_DIR, "--clearenv"]
    for key, value in _SANDBOX_ENV.items():
        args += ["--setenv", key, value]
    return args


def _mkdirs(path: str) -> list[str]:
    """bwrap creates missing parents with the host's modes (0700 for /root); make them traversable."""
    parts = PurePosixPath(path).parts[1:]
    return [arg for i in range(len(parts)) for arg in ("--perms", "0755", "--dir", "/" + "/".join(parts[:i + 1]))]


def _launcher(uid: int) -> list[str]:
    # Runs inside the sandbox once bubblewrap has finished the setup: writes one byte to stdin (the
    # write end of the "started" pipe, so that a setup failure is never blamed on the participant),
    # points stdin at /dev/null and drops to the sandbox uid without any capability or group.
    # What kills the program with its worker is bubblewrap's init (pid 1, root) dying: the kernel then
    # ends the whole pid namespace. The --pdeathsig here is only a second line.
    return ["/bin/sh", "-c", 'printf 1 >&0 && exec 0</dev/null && exec "$@"', "sandbox-launcher",
            "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--pdeathsig=SIGKILL", "--"]


def _prlimit_args(limits: Limits) -> list[str]:
    cpu = math.ceil(limits.cpu_seconds)
    return [
        f"--as={limits.memory_bytes}:{limits.memory_bytes}",
        f"--cpu={cpu}:{cpu + 1}",  # SIGXCPU at the soft limit, SIGKILL 1 s later if it is ignored
        f"--nproc={limits.max_processes}:{limits.max_processes}",
        f"--fsize={limits.output_bytes}:{limits.output_bytes}",
        "--nofile=1024:1024",
        "--core=0:0",
    ]


def _memfd(name: str, content: bytes) -> int:
    fd = os.memfd_create(name, 0)  # not CLOEXEC: handed to bwrap through pass_fds
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _require_readable(path: Path, label: str, want_dir: bool = False) -> None:
    """The program runs as an unprivileged uid, so everything it is given must be world-readable."""
    if not path.exists():
        raise SandboxError(f"{label} does not exist: {path}")
    if want_dir and not path.is_dir():
        raise SandboxError(f"{label} must be a directory: {path}")
    candidates = [path]
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            candidates += [Path(root, name) for name in dirs + files]
    for candidate in candidates:
        mode = candidate.lstat().st_mode
        need = (stat.S_IROTH | stat.S_IXOTH) if stat.S_ISDIR(mode) else stat.S_IROTH
        if not stat.S_ISLNK(mode) and mode & need != need:
            raise SandboxError(
                f"{label} is not readable by the sandbox user: {candidate} has mode {stat.S_IMODE(mode):04o} "
                "(files must be 0644 and directories 0755)")


# --- supervising the run -----------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _preexec(parent_pid: int, cgroup_fds: list[int]):
    """Runs in the child between fork and exec: die with the worker thread (also if it is already gone),
    and join the run's cgroups so that everything the launch starts is in them."""
    prctl = scratch.libc().prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

    def run() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(127)
        pid = str(os.getpid()).encode()
        for fd in cgroup_fds:
            os.write(fd, pid)

    return run


def _start_and_watch(code_dir: Path, command: Sequence[str], inputs: Mapping[str, Path], output_dir: Path,
                     limits: Limits, uid: int, group: cgroups.RunCgroup) -> tuple[_Watch, bool]:
    """Start prlimit + bwrap + the launcher, supervise until the end; (what happened, setup succeeded)."""
    pass_fds: list[int] = []
    cgroup_fds: list[int] = []
    started_read, started_write = os.pipe()
    try:
        cgroup_fds = group.open_procs()
        bwrap_args = _bwrap_args(code_dir, inputs, output_dir, limits, uid, pass_fds)
        pass_fds.append(_memfd("bwrap-args", b"".join(arg.encode() + b"\0" for arg in bwrap_args)))
        try:
            proc = subprocess.Popen(
                ["prlimit", *_prlimit_args(limits), "--", "bwrap", "--args", str(pass_fds[-1]), "--",
                 *_launcher(uid), *command],
                # stdin is the write end of the "started" pipe (see _launcher); never the worker's stdin.
                stdin=started_write, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=pass_fds, close_fds=True, start_new_session=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
                preexec_fn=_preexec(os.getpid(), cgroup_fds),
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise SandboxError(f"could not start the sandbox: {error}") from error
        finally:
            os.close(started_write)
            for fd in pass_fds + cgroup_fds:
                os.close(fd)
            cgroup_fds = []
        try:
            watch = _watch(proc, uid, output_dir, limits, group)
        finally:
            group.kill()  # bubblewrap has exited, so its pid namespace is gone; this is for stragglers
        return watch, bool(_read_nonblocking(started_read))
    finally:
        os.close(started_read)
        for fd in cgroup_fds:
            os.close(fd)


class _CappedBuffer:
    """Keeps the first and the last ``limit // 2`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[:-self.half]

    def _parts(self) -> list[bytes]:
        """What was kept: one piece, or head and tail when the middle was cut (without the pieces of
        characters our cut split, which are not the program's fault)."""
        head, tail = bytes(self.head), bytes(self.tail)
        if self.total <= len(head) + len(tail):
            return [head + tail]
        for back in range(1, min(4, len(head)) + 1):
            byte = head[-back]
            if byte < 0x80:
                break
            if byte >= 0xC0:  # the lead byte of the last character: drop it if incomplete
                if back < (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4):
                    head = head[:-back]
                break
        skip = 0
        while skip < min(3, len(tail)) and 0x80 <= tail[skip] <= 0xBF:
            skip += 1
        return [head, tail[skip:]]

    def text(self) -> str:
        """What was kept, as text that any database stores: invalid UTF-8 and NUL bytes escaped (\\xNN)."""
        parts = self._parts()
        if len(parts) == 1:
            return _escape(parts[0])
        omitted = self.total - len(self.head) - len(self.tail)
        return _escape(parts[0]) + f"\n[... {omitted} bytes omitted by the sandbox ...]\n" + _escape(parts[1])

    def problems(self) -> set[str]:
        """"nul" and/or "utf-8" when what was kept had NUL bytes or was not valid UTF-8."""
        found = set()
        for part in self._parts():
            if b"\0" in part:
                found.add("nul")
            try:
                part.decode("utf-8")
            except UnicodeDecodeError:
                found.add("utf-8")
        return found


def _escape_nul(text: str) -> str:
    return text.replace("\0", "\\x00")


def _escape(data: bytes) -> str:
    return _escape_nul(data.decode("utf-8", "backslashreplace"))


def _log_note(watch: "_Watch") -> str:
    problems = watch.stdout.problems() | watch.stderr.problems()
    if problems == {"nul"}:
        return "its log contained NUL bytes; shown escaped"
    if problems == {"utf-8"}:
        return "its log was not valid UTF-8; shown escaped"
    if problems:
        return "its log contained NUL bytes and invalid UTF-8; shown escaped"
    return ""


@dataclasses.dataclass
class _Watch:
    stdout: _CappedBuffer
    stderr: _CappedBuffer
    exit_code: int | None = None
    stopped_for: str | None = None  # "wall", "print:<stream>", "output:<reason>"
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory_bytes: int = 0


def _watch(proc: subprocess.Popen, uid: int, output_dir: Path, limits: Limits, group: cgroups.RunCgroup) -> _Watch:
    watch = _Watch(_CappedBuffer(limits.log_bytes), _CappedBuffer(limits.log_bytes))
    streams = {proc.stdout.fileno(): ("stdout", watch.stdout), proc.stderr.fileno(): ("stderr", watch.stderr)}
    selector = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    start = time.monotonic()
    deadline = start + limits.wall_seconds
    next_output_check = start + _OUTPUT_CHECK_SECONDS
    exited_at = None
    kill_at: float | None = None

    def stop(reason: str) -> None:
        # Kill the whole run (its cgroup: bubblewrap included) and every process of the sandbox uid;
        # bubblewrap's process group is killed 1 s later if it is somehow still there.
        nonlocal kill_at
        if watch.stopped_for is None and watch.exit_code is None:
            watch.stopped_for = reason
            group.kill(timeout=0)
            _kill_uid(uid)
            kill_at = time.monotonic() + 1

    try:
        while True:
            for key, _ in selector.select(timeout=_POLL_SECONDS):
                name, buffer = streams[key.fd]
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(key.fd)
                    continue
                buffer.add(data)
                if buffer.total > limits.print_bytes:
                    stop(f"print:{name}")
            now = time.monotonic()
            if watch.exit_code is None:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    watch.exit_code = os.waitstatus_to_exitcode(status)
                    if watch.exit_code < 0:  # bwrap itself killed (by us): report as 128 + signal
                        watch.exit_code = 128 - watch.exit_code
                    proc.returncode = watch.exit_code  # reaped here; keep Popen from waiting again
                    watch.cpu_seconds = usage.ru_utime + usage.ru_stime
                    watch.peak_memory_bytes = usage.ru_maxrss * KiB
                    watch.wall_seconds = now - start
                    exited_at = now
            if watch.exit_code is not None and (not selector.get_map() or now - exited_at > 2):
                break
            if watch.exit_code is None and now >= deadline:
                stop("wall")
            if watch.exit_code is None and kill_at is not None and now >= kill_at:
                _kill_group(proc.pid)
            if watch.exit_code is None and now >= next_output_check:
                next_output_check = now + _OUTPUT_CHECK_SECONDS
                problem = _scan_output(output_dir, limits).problem
                if problem:
                    stop(f"output:{problem}")
    finally:
        selector.close()
        if watch.exit_code is None:  # an exception above: never leave the sandbox behind
            _kill_group(proc.pid)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return watch


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # prlimit/bwrap started the group (start_new_session)
    except ProcessLookupError:
        pass


def _read_nonblocking(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 16)
    except BlockingIOError:
        return b""


def _kill_uid(uid: int) -> None:
    """SIGKILL every process whose real uid is the sandbox uid (normally none: the pid namespace is gone)."""
    for _ in range(10):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                # /proc/<pid>/status, not the directory's owner: a non-dumpable process's is root.
                fd = os.open(f"/proc/{entry.name}/status", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    head = os.read(fd, 2048)
                finally:
                    os.close(fd)
                start = head.index(b"\nUid:") + 5
                state = head[head.index(b"\nState:") + 8:][:1]
                if int(head[start:head.index(b"\t", start + 1)]) == uid and state not in (b"Z", b"X"):
                    found = True
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ValueError):
                continue
        if not found:
            return
        time.sleep(0.05)


# --- the output directory ----------------------------------------------------------------------

@dataclasses.dataclass
class _OutputScan:
    total_bytes: int = 0
    entries: int = 0
    removed: int = 0  # symbolic links and special files (left out by _copy_output)
    problem: str | None = None  # why the output breaks the limits, as a participant-facing phrase


def _scan_output(root: Path, limits: Limits) -> _OutputScan:
    """Size and entry count of ``root`` without following symlinks; stops at the first problem."""
    scan = _OutputScan()
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        top = os.open(root, flags)
    except OSError:
        return scan
    stack = [(top, os.scandir(top))]
    try:
        while stack and scan.problem is None:
            fd, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                entries.close()
                os.close(fd)
                stack.pop()
                continue
            scan.entries += 1
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    if len(stack) >= _OUTPUT_MAX_DEPTH:
                        scan.problem = f"nested directories more than {_OUTPUT_MAX_DEPTH} levels deep"
                        break
                    child = os.open(entry.name, flags, dir_fd=fd)
                    stack.append((child, os.scandir(child)))
                elif stat.S_ISREG(mode):
                    scan.total_bytes += entry.stat(follow_symlinks=False).st_size
                else:
                    scan.removed += 1
            except OSError:  # changed under our feet while the program runs
                continue
            if scan.total_bytes > limits.output_bytes:
                scan.problem = f"more than {_format_bytes(limits.output_bytes)} of output"
            elif scan.entries > limits.output_files:
                scan.problem = f"more than {limits.output_files} files in /output"
    finally:
        for fd, entries in stack:
            entries.close()
            os.close(fd)
    return scan


def _copy_output(source: Path, dest: Path) -> int:
    """Copy the program's output (a tree that passed _scan_output: bounded size, count and depth; every
    sandbox process gone) to the caller's ``dest``: regular files 0644 and directories 0755, owned by
    the caller. Symbolic links and special files are left out; returns how many."""
    removed = 0
    flags = os.O_RDONLY | os.O_NOFOLLOW
    stack = [(source, dest)]
    while stack:
        src_dir, dst_dir = stack.pop()
        for entry in os.scandir(src_dir):
            mode = entry.stat(follow_symlinks=False).st_mode
            target = dst_dir / entry.name
            if stat.S_ISDIR(mode):
                target.mkdir(mode=0o755)
                target.chmod(0o755)
                stack.append((Path(entry.path), target))
            elif stat.S_ISREG(mode):
                fd = os.open(entry.path, flags)
                with os.fdopen(fd, "rb") as src, open(target, "xb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                target.chmod(0o644)
            else:
                removed += 1
    return removed


def _wipe(root: Path) -> None:
    """Empty ``root`` however deep or large the tree is (rm copes where shutil.rmtree would recurse)."""
    subprocess.run(["rm", "-rf", "--one-file-system", "--", str(root)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root.mkdir(parents=True, exist_ok=True)


# --- turning what happened into a status and a sentence -----------------------------------------

_MEMORY_PATTERNS = ("MemoryError", "Unable to allocate", "std::bad_alloc", "Cannot allocate memory",
                    "out of memory")
_PROCESS_PATTERNS = ("BlockingIOError: [Errno 11]", "can't start new thread", "Resource temporarily unavailable")
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")


def _classify(watch: _Watch, scan: _OutputScan, limits: Limits, *, oom_killed: bool = False,
              output_full: str | None = None) -> tuple[Status, str]:
    stderr = watch.stderr.text()
    code = watch.exit_code
    signum = code - 128 if code is not None and code > 128 else None
    if oom_killed and code != 0 and watch.stopped_for is None:
        return "memory", (f"the program used more than {_format_bytes(limits.sandbox_memory_bytes)} of memory "
                          "(all its processes and files in /tmp, /dev/shm and /output together) and was stopped")
    if watch.stopped_for == "wall":
        return "timeout", f"the program ran longer than {_format_seconds(limits.wall_seconds)} and was stopped"
    if watch.stopped_for and watch.stopped_for.startswith("print:"):
        stream = watch.stopped_for.split(":", 1)[1]
        return "output_limit", (f"the program printed more than {_format_bytes(limits.print_bytes)} to {stream} "
                                "and was stopped")
    if watch.stopped_for and watch.stopped_for.startswith("output:"):
        return "output_limit", f"the program wrote {watch.stopped_for.split(':', 1)[1]} and was stopped"
    if scan.problem:
        return "output_limit", f"the program wrote {scan.problem}; the output was discarded"
    if output_full and code != 0 and "[Errno 28] No space left on device" in stderr:
        what = (f"more than {limits.output_files} files in /output" if output_full == "files"
                else f"more than {_format_bytes(limits.output_bytes)} of output")
        return "output_limit", f"the program wrote {what}; the output was discarded"
    if code == 0:
        return "ok", "the program finished successfully"
    if signum == signal.SIGXCPU or (signum == signal.SIGKILL and watch.cpu_seconds >= limits.cpu_seconds):
        return "timeout", (f"the program used more than {_format_seconds(limits.cpu_seconds)} of CPU time "
                           "and was stopped")
    if signum == signal.SIGXFSZ or "[Errno 27] File too large" in stderr:
        return "output_limit", (f"the program wrote a file larger than {_format_bytes(limits.output_bytes)} "
                                "and was stopped")
    if any(pattern in stderr for pattern in _MEMORY_PATTERNS):
        return "memory", f"the program used more than {_format_bytes(limits.memory_bytes)} of memory and was stopped"
    missing = _MISSING_MODULE.findall(stderr)
    if missing:
        module = missing[-1]
        if module.split(".")[0] in {name for _, name in ALLOWED_PACKAGES}:
            return "failed", f"the program failed: module '{module}' does not exist"
        return "failed", (f"module '{module}' is not available in the sandbox (neither in the submitted code nor "
                          f"among the allowed packages: {ALLOWED_DESCRIPTION})")
    if "[Errno 28] No space left on device" in stderr:
        return "failed", (f"the program ran out of scratch space: /tmp holds at most {_format_bytes(limits.tmp_bytes)} "
                          f"and /dev/shm {_format_bytes(limits.shm_bytes)}")
    if any(pattern in stderr for pattern in _PROCESS_PATTERNS):
        return "failed", (f"the program tried to run more than {limits.max_processes} processes or threads at once "
                          "and failed")
    if signum is not None:
        name = _signal_name(signum)
        if signum == signal.SIGKILL:
            return "killed", "the program was killed (SIGKILL), probably because the machine ran out of memory"
        return "killed", f"the program was killed by signal {name}"
    last_line = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    detail = f": {last_line[:300]}" if last_line else ""
    return "failed", f"the program exited with status {code}{detail}"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _format_bytes(count: float) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} bytes"


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g} seconds" if seconds != 1 else "1 second"
