"""One control group per sandbox run: caps the whole process tree, measures it, kills it at once.

A run's group is created under the worker's own group in each hierarchy (``<own>/dataperf-sandbox/<run>``),
so whatever limits the host puts on the worker still apply to its sandboxes. cgroup v2 is used where its
controllers are available (``memory.max``, ``pids.max``, ``memory.peak``, ``cpu.stat``, ``cgroup.kill``);
a v1 hierarchy fills in each controller v2 lacks (memory, pids, cpuacct), as on hosts that still mount
v1 beside an empty cgroup2. ``RunCgroup.create`` never raises: it returns the group with ``notes``
saying what is missing (the run log shows them), and works with no hierarchy at all (then the runner
relies on the pid namespace and the sandbox uid alone).

No Django here.
"""
from __future__ import annotations

import dataclasses
import errno
import os
import signal
import time
from pathlib import Path

GROUP_DIR = "dataperf-sandbox"  # parent of the run groups in each hierarchy
_CONTROLLERS = ("memory", "pids", "cpuacct")  # v1 names; in v2, cpu.stat is always there


@dataclasses.dataclass(frozen=True)
class _Hierarchy:
    mount: str
    own: str  # the worker's group, relative to the mount
    version: int
    controllers: frozenset[str]  # for v1: the controllers of this mount; for v2: enabled for children

    def base(self) -> Path:
        return Path(self.mount + self.own.rstrip("/")) / GROUP_DIR


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fstype, super options) of every cgroup filesystem visible here."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4].replace("\\040", " "), tail[0], tail[2]))
    return found


def _own_groups() -> dict[str, str]:
    """controller (or "" for v2) -> the calling process's group path."""
    groups = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            for name in names.split(",") if names else [""]:
                groups[name] = path
    except (OSError, ValueError):
        pass
    return groups


def _usable(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK)


def _v2_hierarchy(mounts, own) -> _Hierarchy | None:
    mount = next((m for m, fstype, _ in mounts if fstype == "cgroup2"), None)
    if mount is None or "" not in own:
        return None
    hierarchy = _Hierarchy(mount, own[""], 2, frozenset())
    own_dir = hierarchy.base().parent
    if not _usable(own_dir):
        return None
    enabled = {"cpuacct"}  # cpu.stat is in every v2 group
    for controller in ("memory", "pids"):
        # Children only get a controller their parent enables; a non-root group holding processes cannot
        # enable one (EBUSY), in which case the run's group still tracks and kills the run.
        try:
            if controller not in (own_dir / "cgroup.controllers").read_text().split():
                continue
            if controller not in (own_dir / "cgroup.subtree_control").read_text().split():
                (own_dir / "cgroup.subtree_control").write_text(f"+{controller}")
            enabled.add(controller)
        except OSError:
            continue
    return dataclasses.replace(hierarchy, controllers=frozenset(enabled))


def _v1_hierarchies(mounts, own, wanted: set[str]) -> list[_Hierarchy]:
    found = []
    for mount, fstype, options in mounts:
        if fstype != "cgroup":
            continue
        controllers = set(options.split(",")) & wanted
        path = next((own[c] for c in controllers if c in own), None)
        if not controllers or path is None:
            continue
        hierarchy = _Hierarchy(mount, path, 1, frozenset(controllers))
        if not _usable(hierarchy.base().parent):
            continue
        found.append(hierarchy)
        wanted -= controllers
    return found


def hierarchies() -> list[_Hierarchy]:
    """The hierarchies a run group is created in (v2 first; v1 for what v2 lacks)."""
    mounts, own = _mounts(), _own_groups()
    chosen = []
    v2 = _v2_hierarchy(mounts, own)
    if v2 is not None:
        chosen.append(v2)
    missing = set(_CONTROLLERS) - (v2.controllers if v2 else set())
    chosen += _v1_hierarchies(mounts, own, missing)
    return chosen


@dataclasses.dataclass
class RunCgroup:
    name: str
    paths: list[tuple[Path, int, frozenset[str]]]  # (group directory, version, controllers)
    notes: list[str]

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_pids: int) -> "RunCgroup":
        paths, notes = [], []
        for hierarchy in hierarchies():
            path = hierarchy.base() / name
            for attempt in range(3):
                try:
                    path.parent.mkdir(exist_ok=True)
                    controllers = set(hierarchy.controllers)
                    if hierarchy.version == 2:
                        for controller in controllers & {"memory", "pids"}:
                            try:
                                (path.parent / "cgroup.subtree_control").write_text(f"+{controller}")
                            except OSError:
                                controllers.discard(controller)
                    path.mkdir()
                except FileNotFoundError:  # another run removed the empty parent just now
                    continue
                except OSError as error:
                    notes.append(f"cannot create cgroup {path}: {error.strerror}")
                else:
                    paths.append((path, hierarchy.version, frozenset(controllers)))
                break
        group = cls(name, paths, notes)
        have = group.controllers()
        try:
            group._set("memory", "memory.max", "memory.limit_in_bytes", str(memory_bytes))
            group._set("memory", "memory.swap.max", None, "0")
            group._set("pids", "pids.max", "pids.max", str(max_pids))
        except OSError as error:
            notes.append(f"cannot set cgroup limits: {error}")
        if not paths:
            notes.append("no usable cgroup: the run is tracked by its pid namespace and uid only; memory is "
                         "capped per process (RLIMIT_AS) and CPU time and peak memory are not measured")
        else:
            for controller, what in (("memory", "whole-sandbox memory cap and peak memory"),
                                     ("pids", "whole-sandbox process cap (RLIMIT_NPROC still applies)"),
                                     ("cpuacct", "CPU time")):
                if controller not in have:
                    notes.append(f"no cgroup {controller} controller: no {what}")
        return group

    def controllers(self) -> set[str]:
        return {c for _, _, controllers in self.paths for c in controllers}

    def _path_for(self, controller: str) -> tuple[Path, int] | None:
        return next(((p, v) for p, v, cs in self.paths if controller in cs), None)

    def _set(self, controller: str, v2_file: str, v1_file: str | None, value: str) -> None:
        found = self._path_for(controller)
        if found is None:
            return
        path, version = found
        name = v2_file if version == 2 else v1_file
        if name and (path / name).exists():
            (path / name).write_text(value)

    def open_procs(self) -> list[int]:
        """File descriptors of every ``cgroup.procs``, opened before fork (the child only writes)."""
        return [os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for path, _, _ in self.paths]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path, _, _ in self.paths:
            try:
                found |= {int(pid) for pid in (path / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                continue
        return found

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process of the run; True when the group is empty afterwards."""
        for path, version, _ in self.paths:
            if version == 2 and (path / "cgroup.kill").exists():
                try:
                    (path / "cgroup.kill").write_text("1")
                except OSError:
                    pass
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def cpu_seconds(self) -> float | None:
        found = self._path_for("cpuacct")
        if found is None:
            return None
        path, version = found
        try:
            if version == 2:
                stats = dict(line.split() for line in (path / "cpu.stat").read_text().splitlines())
                return int(stats["usage_usec"]) / 1e6
            return int((path / "cpuacct.usage").read_text()) / 1e9
        except (OSError, KeyError, ValueError):
            return None

    def peak_memory_bytes(self) -> int | None:
        found = self._path_for("memory")
        if found is None:
            return None
        path, version = found
        try:
            return int((path / ("memory.peak" if version == 2 else "memory.max_usage_in_bytes")).read_text())
        except (OSError, ValueError):
            return None

    def oom_killed(self) -> bool:
        """Did the kernel kill a process of the run because the group hit its memory cap?"""
        found = self._path_for("memory")
        if found is None:
            return False
        path, version = found
        try:
            text = (path / ("memory.events" if version == 2 else "memory.oom_control")).read_text()
            counters = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
            return int(counters.get("oom_kill", 0)) > 0
        except (OSError, ValueError):
            return False

    def remove(self) -> None:
        """Kill what is left and remove the groups (retrying while the kernel finishes the exits)."""
        self.kill()
        for path, _, _ in self.paths:
            _rmdir(path)
            try:  # leave nothing in the worker's own group once no run is left (a busy parent stays)
                path.parent.rmdir()
            except OSError:
                pass


def _rmdir(path: Path, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                return
            time.sleep(0.05)


def stale_groups(live_names: set[str]) -> list[RunCgroup]:
    """Run groups under this worker's groups that belong to no live run (the sweeper removes them)."""
    by_name: dict[str, RunCgroup] = {}
    for hierarchy in hierarchies():
        try:
            entries = [entry for entry in os.scandir(hierarchy.base()) if entry.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for entry in entries:
            if entry.name in live_names:
                continue
            group = by_name.setdefault(entry.name, RunCgroup(entry.name, [], []))
            group.paths.append((Path(entry.path), hierarchy.version, hierarchy.controllers))
    return list(by_name.values())
