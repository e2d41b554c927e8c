"""File helpers shared by apps: hashing uploads and unpacking archives safely."""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20


def sha256_of(fileobj) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(CHUNK), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def zip_files(root: Path, relative_paths: list[str], extra: dict[str, bytes] | None = None) -> bytes:
    """A zip of the given files under ``root`` (plus ``extra`` members given as bytes, which replace a
    file of the same name), with fixed timestamps: the same data, the same hash."""
    buffer = io.BytesIO()
    extra = extra or {}
    members = {rel: None for rel in relative_paths if rel not in extra} | dict(extra)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in sorted(members):
            info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            content = members[rel]
            archive.writestr(info, (root / rel).read_bytes() if content is None else content)
    return buffer.getvalue()


class UnsafeArchive(ValueError):
    pass


def safe_extract_zip(archive: Path | zipfile.ZipFile, dest: Path, *, max_bytes: int = 20 * 2**30, max_files: int = 200_000) -> None:
    """Extract a zip refusing absolute paths, ``..``, links, and zip bombs."""
    zf = archive if isinstance(archive, zipfile.ZipFile) else zipfile.ZipFile(archive)
    infos = zf.infolist()
    if len(infos) > max_files:
        raise UnsafeArchive(f"the archive has {len(infos)} entries; at most {max_files} are allowed")
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise UnsafeArchive(f"the archive unpacks to {total} bytes; at most {max_bytes} are allowed")
    for info in infos:
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts:
            raise UnsafeArchive(f"the archive entry {info.filename!r} points outside the archive")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UnsafeArchive(f"the archive entry {info.filename!r} is a symbolic link")
    zf.extractall(dest)
