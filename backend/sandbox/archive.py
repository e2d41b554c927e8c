"""Unpack a participant's code archive into a directory ``run_in_sandbox`` can mount as /code.

A zip from the internet can carry absolute paths or ``..`` (writing outside the target), symbolic
links, device or fifo entries, or decompress to far more than it weighs. ``extract_code_archive``
refuses all of these with a sentence for the participant, and writes regular files (0644) and
directories (0755) only, so that the sandbox's unprivileged user can read them.
"""
from __future__ import annotations

import io
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

MiB = 2**20
_SKIPPED = {"__MACOSX", ".DS_Store", "__pycache__"}


class CodeArchiveError(ValueError):
    """The archive cannot be used; the message is meant for the participant."""


def extract_code_archive(archive: Path | bytes, dest: Path, *, max_bytes: int = 50 * MiB,
                         max_files: int = 2000) -> Path:
    """Extract a .zip into ``dest`` (created; must not exist or be empty) and return the code root.

    When every entry sits in one top-level folder (as in the starter kits' zips), that folder is the
    root returned, so ``run.py`` is found either way.
    """
    data = archive if isinstance(archive, bytes) else Path(archive).read_bytes()
    try:
        zipped = zipfile.ZipFile(io.BytesIO(data))
        members = zipped.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as error:
        raise CodeArchiveError(f"the code archive is not a valid zip file ({error})") from None
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"{dest} must be empty")
    dest.mkdir(mode=0o755, parents=True, exist_ok=True)
    dest.chmod(0o755)

    entries: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    for info in members:
        name = info.filename.replace("\\", "/")
        path = PurePosixPath(name)
        if name.startswith("/") or (path.parts and path.parts[0].endswith(":")) or ".." in path.parts:
            raise CodeArchiveError(f"the code archive contains an unsafe path: {info.filename}")
        if not path.parts or _SKIPPED & set(path.parts) or path.suffix == ".pyc":
            continue
        file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the tool stored no Unix type
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise CodeArchiveError(f"the code archive may contain only files and folders: {info.filename} is not")
        entries.append((info, path))
    files = [(info, path) for info, path in entries if not info.is_dir()]
    if len(files) > max_files:
        raise CodeArchiveError(f"the code archive has {len(files)} files; the limit is {max_files}")
    if sum(info.file_size for info, _ in files) > max_bytes:
        raise CodeArchiveError(f"the code archive unpacks to more than {max_bytes // MiB} MiB")

    written = 0
    try:
        for info, path in entries:
            target = dest.joinpath(*path.parts)
            if info.is_dir():
                _mkdirs(dest, target)
                continue
            _mkdirs(dest, target.parent)
            with zipped.open(info) as source, open(target, "wb") as sink:
                while chunk := source.read(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:  # sizes in the zip headers can lie
                        raise CodeArchiveError(f"the code archive unpacks to more than {max_bytes // MiB} MiB")
                    sink.write(chunk)
            target.chmod(0o644)
    except (CodeArchiveError, zipfile.BadZipFile, OSError, EOFError) as error:
        shutil.rmtree(dest)
        dest.mkdir(mode=0o755)
        if isinstance(error, CodeArchiveError):
            raise
        raise CodeArchiveError(f"the code archive could not be unpacked ({error})") from None

    top_level = {path.parts[0] for _, path in entries}
    if len(top_level) == 1 and all(len(path.parts) > 1 or info.is_dir() for info, path in entries):
        return dest / top_level.pop()
    return dest


def _mkdirs(root: Path, directory: Path) -> None:
    missing = []
    while directory != root and not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(mode=0o755)
        path.chmod(0o755)  # whatever the umask
