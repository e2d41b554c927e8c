"""Scratch directories owned by a live process, and the register of live sandbox runs on this host.

``scratch_directory(kind)`` creates ``<STATE_DIR>/<kind>-<pid>-<random>/`` next to a lock file that its
owner holds (``flock``) for as long as the directory exists. The kernel drops the lock when the owner
dies, however it dies, so the sweeper (``sweeper.sweep``) can tell a live run from one left by a dead
worker without trusting pids. The lock file also records the run's sandbox uid, so the sweeper knows
which sandbox processes belong to a live run. Leaving the ``with`` block removes the directory
(unmounting what the run mounted inside, e.g. its size-capped ``/output``).

No Django here.
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import json
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

_MNT_DETACH = 2


def state_dir() -> Path:
    """Where scratch directories and their locks live (``DATAPERF_SANDBOX_STATE_DIR``, default
    ``<tmp>/dataperf-sandbox``); created 0700 and refused unless it is a real directory owned by us."""
    root = Path(os.environ.get("DATAPERF_SANDBOX_STATE_DIR") or Path(tempfile.gettempdir()) / "dataperf-sandbox")
    try:
        root.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PermissionError(f"{root} must be a directory owned by uid {os.geteuid()} and not group/world-writable")
    return root


@contextlib.contextmanager
def scratch_directory(kind: str, *, uid: int | None = None) -> Iterator[Path]:
    """A private (0700) directory, removed on exit; registered as live while the caller holds it."""
    root = state_dir()
    name = f"{kind}-{os.getpid()}-{secrets.token_hex(6)}"
    # Lock first, under a temporary name, then rename: the sweeper never sees an unlocked live entry.
    pending = root / f".{name}.lock.new"
    fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    path = root / name
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps({"pid": os.getpid(), "uid": uid, "kind": kind}).encode())
        os.rename(pending, root / f"{name}.lock")
        path.mkdir(mode=0o700)
        yield path
    finally:
        remove_tree(path)
        for leftover in (root / f"{name}.lock", pending):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        os.close(fd)


@dataclasses.dataclass
class Entry:
    name: str
    path: Path  # the scratch directory
    lock: Path
    uid: int | None
    live: bool
    fd: int | None = None  # held lock of a stale entry (the sweeper's), closed by release()

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def entries() -> list[Entry]:
    """Every registered scratch directory; a stale one comes back locked by the caller (release it)."""
    root = state_dir()
    found = []
    for lock in sorted(root.glob("*.lock")):
        name = lock.name[: -len(".lock")]
        try:
            fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            live = False
        except BlockingIOError:
            live = True
        try:
            record = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            record = {}
        uid = record.get("uid") if isinstance(record.get("uid"), int) else None
        if live:
            os.close(fd)
            fd = None
        found.append(Entry(name, root / name, lock, uid, live, fd))
    return found


def is_live(name: str) -> bool:
    """Does a live process hold the scratch directory ``name`` right now?"""
    try:
        fd = os.open(state_dir() / f"{name}.lock", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def orphaned_paths() -> list[Path]:
    """Directories and half-created locks with no lock holder (a worker died while creating or removing)."""
    root = state_dir()
    listing = list(os.scandir(root))
    # Listed before the locks: a directory is created after its lock, so a live one is never missed.
    locked = {lock.name[: -len(".lock")] for lock in root.glob("*.lock")}
    orphans = []
    for entry in listing:
        if entry.name.endswith(".lock.new"):
            try:
                fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                orphans.append(Path(entry.path))
            except BlockingIOError:
                pass
            finally:
                os.close(fd)
        elif entry.is_dir(follow_symlinks=False) and entry.name not in locked:
            orphans.append(Path(entry.path))
    return orphans


def remove_tree(path: Path) -> None:
    """Unmount everything mounted under ``path``, then delete it however deep or large it is."""
    for mount_point in reversed(mounts_under(path)):
        with contextlib.suppress(OSError):
            unmount(mount_point)
    if not os.path.lexists(path):
        return
    try:
        shutil.rmtree(path)
    except (OSError, RecursionError):  # a tree too deep for rmtree's recursion: rm copes
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    found = []
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point == str(path) or point.startswith(prefix):
                found.append(point)
    except OSError:
        pass
    return sorted(found)


_libc = None


def libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def mount_tmpfs(path: Path, options: str) -> None:
    """Mount a tmpfs (nosuid, nodev) at ``path``; raises OSError when this process may not mount."""
    ms_nosuid, ms_nodev = 2, 4
    if libc().mount(b"tmpfs", str(path).encode(), b"tmpfs", ms_nosuid | ms_nodev, options.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(path))


def unmount(path: str) -> None:
    if libc().umount2(path.encode(), _MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), path)
