"""Per-process cache of loaded problems, so a warm worker never re-parses a benchmark's data.

Keys are (type slug, resolved data directory, config). The platform materialises each benchmark's
data into a directory named by its content hash, so a path names one immutable version of the data.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .base import BenchmarkType

_MAX_PROBLEMS = 8
_lock = threading.Lock()
_problems: OrderedDict[tuple[str, str, str], Any] = OrderedDict()


def load_problem(benchmark: BenchmarkType, data_dir: Path, config: dict[str, Any]) -> Any:
    key = (benchmark.slug, str(Path(data_dir).resolve()), json.dumps(config, sort_keys=True, default=str))
    with _lock:
        if key in _problems:
            _problems.move_to_end(key)
            return _problems[key]
    problem = benchmark.load_problem(Path(data_dir), config)
    with _lock:
        _problems[key] = problem
        while len(_problems) > _MAX_PROBLEMS:
            _problems.popitem(last=False)
    return problem


def clear() -> None:
    with _lock:
        _problems.clear()


# --- on-disk cache of derived arrays ---------------------------------------------------------------
# A cold command (``python -m evaluation score ...``) starts with an empty process, so the in-process
# cache above does not help it. Large derived arrays (e.g. the 200,000 x 256 vision pool decoded from
# parquet) are kept as memory-mappable .npy files in EVALUATION_CACHE_DIR, in a directory named by the
# SHA-256 of the source files' contents (+ a format version). Like git's index, a small stat record
# (path, size, mtime, inode -> checksum) spares re-hashing unchanged files; a changed or copied file
# is hashed again, so an entry is only ever used for byte-identical sources.
# EVALUATION_CACHE_DIR: default $EVALUATION_DATA_CACHE/derived (the platform's worker-local data
# cache) or ~/.cache/dataperf-evaluation; "off" disables the disk cache.


_STAT_INDEX = "stat-index.json"


def cache_root() -> Path | None:
    value = os.environ.get("EVALUATION_CACHE_DIR")
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "none") else Path(value)
    data_cache = os.environ.get("EVALUATION_DATA_CACHE")
    if data_cache:
        return Path(data_cache) / "derived"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dataperf-evaluation"


def _source_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file())
        else:
            files.append(path)
    return files


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_key(paths: list[Path], kind: str, root: Path) -> str:
    """SHA-256 over the sources' relative names and content checksums (stat-cached per file)."""
    index_path = root / _STAT_INDEX
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    changed = False
    digest = hashlib.sha256(kind.encode())
    for path in paths:
        path = Path(path)
        for file in _source_files([path]):
            st = file.stat()
            stamp = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
            key = str(file.resolve())
            entry = index.get(key)
            if entry is None or entry[0] != stamp:
                entry = index[key] = [stamp, _file_sha256(file)]
                changed = True
            relative = file.relative_to(path) if path.is_dir() else Path(file.name)
            digest.update(f"{relative.as_posix()}\0{entry[1]}\n".encode())
    if changed:
        _atomic_write(index_path, json.dumps(index).encode())
    return digest.hexdigest()[:40]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def derived_arrays(kind: str, sources: list[Path], build) -> dict[str, Any]:
    """Arrays derived from ``sources`` by ``build()`` (-> {name: ndarray or JSON value}), cached on disk.

    Cached arrays come back memory-mapped read-only (loading costs milliseconds, pages are read on
    use and shared between processes); JSON values come back as loaded. Without a usable cache
    directory this is simply ``build()``.
    """
    root = cache_root()
    if root is None:
        return build()
    try:
        root.mkdir(parents=True, exist_ok=True)
        key = content_key(sources, kind, root)
    except OSError:
        return build()
    entry = root / f"{kind}-{key}"
    if (entry / "manifest.json").is_file():
        try:
            return _read_entry(entry)
        except (OSError, ValueError):
            shutil.rmtree(entry, ignore_errors=True)
    values = build()
    try:
        _write_entry(root, entry, values)
    except OSError:
        pass  # a read-only or full cache directory must not fail scoring
    return values


def _read_entry(entry: Path) -> dict[str, Any]:
    import numpy as np

    manifest = json.loads((entry / "manifest.json").read_text())
    values: dict[str, Any] = {}
    for name, spec in manifest.items():
        if spec == "npy":
            values[name] = np.load(entry / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        else:
            values[name] = spec["json"]
    return values


def _write_entry(root: Path, entry: Path, values: dict[str, Any]) -> None:
    import numpy as np

    staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
    try:
        manifest: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                np.save(staging / f"{name}.npy", np.ascontiguousarray(value), allow_pickle=False)
                manifest[name] = "npy"
            else:
                manifest[name] = {"json": value}
        (staging / "manifest.json").write_text(json.dumps(manifest))  # written last: marks the entry complete
        try:
            staging.rename(entry)
        except OSError:
            if not (entry / "manifest.json").is_file():  # lost a race only if the entry now exists
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def take_rows(matrix, rows) -> "np.ndarray":
    """``matrix[rows]``; for a cached (memory-mapped) matrix the rows are read from the file, so a
    lookup of 3,000 rows of a 3.2M-row pool reads 3,000 rows (page faults on the mapping would
    pull in and count far more: the kernel maps neighbouring pages too)."""
    import numpy as np

    rows = np.asarray(rows, dtype=np.int64)
    if not (isinstance(matrix, np.memmap) and matrix.ndim == 2 and matrix.flags.c_contiguous
            and getattr(matrix, "filename", None) and len(rows) < len(matrix) // 8):
        return np.asarray(matrix[rows])
    n, width = matrix.shape
    if len(rows) and (rows.min() < -n or rows.max() >= n):
        raise IndexError(f"row index out of range for {n} rows")
    rows = np.where(rows < 0, rows + n, rows)
    out = np.empty((len(rows), width), dtype=matrix.dtype)
    row_bytes = width * matrix.dtype.itemsize
    with open(matrix.filename, "rb") as handle:
        for i, row in enumerate(rows.tolist()):
            handle.seek(matrix.offset + row * row_bytes)
            if handle.readinto(memoryview(out[i]).cast("B")) != row_bytes:
                raise OSError(f"{matrix.filename}: short read")
    return out
