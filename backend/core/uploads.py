"""The upload spool (FILE_UPLOAD_TEMP_DIR): Django writes uploads larger than FILE_UPLOAD_MAX_MEMORY_SIZE
there, and the web process copies each upload there to validate it (``copy_directory``); both are deleted
when the request ends, but a web process killed mid-request leaves them behind. ``sweep_spool`` removes
those, once older than any live request could be."""
from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)
COPY_PREFIX = "dataperf-upload-"


def copy_directory(prefix: str = COPY_PREFIX) -> tempfile.TemporaryDirectory:
    """A temporary directory in the spool for a request's working copy of an upload (swept if the
    process dies holding it)."""
    return tempfile.TemporaryDirectory(prefix=prefix, dir=settings.FILE_UPLOAD_TEMP_DIR)


def _newest_mtime(path: str) -> float:
    """Of a copy directory and what is directly in it (a file being written there keeps it young)."""
    newest = os.lstat(path).st_mtime
    for entry in os.scandir(path):
        newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def sweep_spool(now: float | None = None) -> list[str]:
    """Delete spooled upload files and copy directories untouched for UPLOAD_SPOOL_MAX_AGE_SECONDS;
    returns their names. Only Django's spool files (``*.upload*``, regular files) and our copies
    (``dataperf-upload-*`` directories) are touched, so a shared directory loses nothing else."""
    root = Path(settings.FILE_UPLOAD_TEMP_DIR)
    cutoff = (time.time() if now is None else now) - settings.UPLOAD_SPOOL_MAX_AGE_SECONDS
    removed = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return removed
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            # mtime: a request still receiving its file keeps writing to it.
            if ".upload" in entry.name and stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(entry.name)
            elif (entry.name.startswith(COPY_PREFIX) and stat.S_ISDIR(info.st_mode)
                  and _newest_mtime(entry.path) < cutoff):
                shutil.rmtree(entry.path)
                removed.append(entry.name)
        except FileNotFoundError:  # its request ended meanwhile
            continue
        except OSError as error:
            log.warning("upload spool: cannot remove %s: %s", entry.path, error)
    if removed:
        log.warning("upload spool: removed %d file(s) left by killed web processes: %s", len(removed),
                    ", ".join(removed[:10]))
    return removed
