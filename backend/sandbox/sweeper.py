"""Clean up after sandbox runs whose worker died: ``sweep()``, called when a worker starts and
periodically by beat (``backend.closed_division.tasks.sweep_sandboxes``).

* kills every process of a sandbox uid that belongs to no live run on this host: its uid is not
  recorded by a live run (``scratch.entries``) and no ``bwrap`` supervises it (a run started by a
  runner that does not register, e.g. an older version during a rolling update, is left alone);
* kills and removes run cgroups that belong to no live run;
* unmounts and removes scratch directories whose owner is gone (their lock is free).

Safe to call at any time and from several processes at once: a live run holds its lock. No Django here.
"""
from __future__ import annotations

import dataclasses
import os
import signal

from . import cgroups, scratch

UID_BASE = 1_000_000_000  # must match runner._UID_BASE
UID_SPAN = 2**22  # pid_max can be at most 2**22


@dataclasses.dataclass
class SweepReport:
    killed_processes: list[int] = dataclasses.field(default_factory=list)
    removed_cgroups: list[str] = dataclasses.field(default_factory=list)
    removed_scratch: list[str] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.killed_processes or self.removed_cgroups or self.removed_scratch)


def is_sandbox_uid(uid: int) -> bool:
    return UID_BASE <= uid < UID_BASE + UID_SPAN


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
    except OSError:
        return {}


def sandbox_processes() -> dict[int, int]:
    """pid -> uid of every live (non-zombie) process running under a sandbox uid."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        status = _status(int(entry.name))
        try:
            uid = int(status["Uid"].split()[0])
        except (KeyError, ValueError, IndexError):
            continue
        if is_sandbox_uid(uid) and not status.get("State", "").startswith(("Z", "X")):
            found[int(entry.name)] = uid
    return found


def _supervised(pid: int) -> bool:
    """Is ``pid`` a descendant of a running bubblewrap (which dies with its worker)?"""
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        status = _status(pid)
        if not status:
            return False
        # A sandboxed program can rename itself "bwrap"; the real one runs as root.
        if status.get("Name") == "bwrap" and status.get("Uid", "").split()[:1] == ["0"]:
            return True
        try:
            pid = int(status["PPid"])
        except (KeyError, ValueError):
            return False
    return False


def sweep() -> SweepReport:
    report = SweepReport()
    entries = scratch.entries()
    try:
        live = [entry for entry in entries if entry.live]
        live_uids = {entry.uid for entry in live if entry.uid is not None}
        live_names = {entry.name for entry in live}

        held = {entry.name for entry in entries if not entry.live}  # stale, and locked by us now
        for group in cgroups.stale_groups(live_names):
            if group.name not in held and scratch.is_live(group.name):  # a run that started after we looked
                continue
            group.remove()
            report.removed_cgroups.append(group.name)

        for pid, uid in sandbox_processes().items():
            if uid in live_uids or _supervised(pid):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
                report.killed_processes.append(pid)
            except ProcessLookupError:
                pass

        for entry in entries:
            if not entry.live:
                scratch.remove_tree(entry.path)
                try:
                    entry.lock.unlink()
                except FileNotFoundError:
                    pass
                report.removed_scratch.append(entry.name)
        for path in scratch.orphaned_paths():
            if path.is_dir() and not path.is_symlink():
                scratch.remove_tree(path)
            else:
                path.unlink(missing_ok=True)
            report.removed_scratch.append(path.name)
    finally:
        for entry in entries:
            entry.release()
    return report
