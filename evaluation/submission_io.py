"""Reading submission files with error messages a participant can act on.

Every parser here raises ``SubmissionError`` naming the file, the line and the offending value, so
benchmark types only describe *what* they expect (columns, id sets, ranges), not how to report it.

This is also the one place that bounds what a submission may cost to read (``Limits``): JSON
nesting depth, the size of a file read whole, the entries of an archive and the bytes it actually
unpacks to. Archives are refused from their declared sizes before anything is inflated, and the
bytes really produced are counted while streaming, since headers can lie. The platform narrows the
limits for its web process with ``limits(...)``; offline use gets the defaults.
"""
from __future__ import annotations

import contextlib
import contextvars
import csv
import dataclasses
import io
import json
import math
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Container
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterable, Iterator, Sequence

import numpy as np

from .base import SubmissionError

MiB = 2**20
# How much of an offending value an error message repeats.
SHOWN_CHARS = 200


@dataclasses.dataclass(frozen=True)
class Limits:
    """What reading one submission may cost. Every reader below checks these."""

    max_file_bytes: int = 64 * MiB        # one file (or archive member) read whole
    max_unpacked_bytes: int = 256 * MiB   # all members of an archive together, as actually inflated
    max_entries: int = 10_000             # entries in an archive (its central directory is read before that)
    max_json_depth: int = 64              # nesting of [ and {
    max_name_chars: int = 512             # an archive entry's path


_LIMITS: contextvars.ContextVar[Limits] = contextvars.ContextVar("submission_limits", default=Limits())


def current_limits() -> Limits:
    return _LIMITS.get()


@contextlib.contextmanager
def limits(**changes: int) -> Iterator[Limits]:
    """Narrow (or widen) the limits for the code inside the ``with`` block, e.g. the web process's budget."""
    token = _LIMITS.set(dataclasses.replace(_LIMITS.get(), **changes))
    try:
        yield _LIMITS.get()
    finally:
        _LIMITS.reset(token)


def shorten(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters: a 5 MB line must not become a 5 MB message."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value) - limit} more characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """A plain string (no quotes added) cut to about ``limit`` characters."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def format_items(items: Iterable[object], limit: int = 5) -> str:
    """``'a', 'b', 'c' and 7 more`` — short enough for a one-line error message."""
    items = list(items)
    shown = ", ".join(shorten(item, SHOWN_CHARS // 2) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _mib(n: int) -> str:
    return f"{n / MiB:.0f} MB" if n >= MiB else f"{n} bytes"


# --- whole files ----------------------------------------------------------------------------------

def read_bytes(path: Path, name: str | None = None) -> bytes:
    """A file's bytes, refused before reading when it is larger than ``max_file_bytes``."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise SubmissionError(f"{name}: expected a file")
    size = path.stat().st_size
    limit = current_limits().max_file_bytes
    if size > limit:
        raise SubmissionError(f"{name} is {size} bytes; the limit is {_mib(limit)}")
    return path.read_bytes()


def decode_text(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{name}: not UTF-8 text (byte {error.start})") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise SubmissionError(f"{name}: contains a NUL character (at character {nul}); is it a binary file?")
    return text


def read_text(path: Path, name: str | None = None) -> str:
    return decode_text(read_bytes(path, name), name or Path(path).name)


# --- JSON -----------------------------------------------------------------------------------------

# A JSON string literal (the unrolled form is linear and fast in ``re``).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_OPENERS = np.zeros(256, np.int8)
_OPENERS[[ord("["), ord("{")]] = 1
_OPENERS[[ord("]"), ord("}")]] = -1


def json_depth(data: bytes, stop_above: int | None = None) -> int:
    """The deepest nesting of ``[``/``{`` outside string literals, without recursion (numpy prefix sums
    over 1 MB chunks, so memory stays small); returns early once it exceeds ``stop_above``.

    Unterminated strings count their brackets too, so the figure is an upper bound for any input.
    """
    structure = np.frombuffer(_JSON_STRING.sub(b"", data), np.uint8)
    deepest = level = 0
    for start in range(0, len(structure), MiB):
        levels = np.cumsum(_OPENERS[structure[start:start + MiB]], dtype=np.int64) + level
        if len(levels):
            deepest = max(deepest, int(levels.max()))
            level = int(levels[-1])
        if stop_above is not None and deepest > stop_above:
            break
    return deepest


def parse_json(data: bytes, name: str) -> Any:
    """Parse JSON, refusing duplicate object keys (which ``json`` would silently merge), nesting deeper
    than ``max_json_depth`` (checked before parsing, so the parser never recurses deeply) and huge numbers."""
    if not data.strip():
        raise SubmissionError(f"{name} is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{name} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    max_depth = current_limits().max_json_depth
    depth = json_depth(data, stop_above=max_depth)
    if depth > max_depth:
        raise SubmissionError(f"{name}: JSON nested at least {depth} levels deep; at most {max_depth} are allowed")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise SubmissionError(f"{name}: key {shorten(key)} appears twice in the same JSON object")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as error:
        raise SubmissionError(f"{name} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except (ValueError, RecursionError) as error:
        if "integer string conversion" in str(error):   # Python's int() limit, phrased for its programmers
            raise SubmissionError(f"{name}: a number with more than 4,300 digits; no count or id is that long") from None
        raise SubmissionError(f"{name} is not valid JSON: {clip(str(error))}") from None


def read_json(path: Path, name: str | None = None) -> Any:
    return parse_json(read_bytes(path, name), name or Path(path).name)


# --- zip archives ---------------------------------------------------------------------------------

_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
# A central directory entry is 46 bytes plus its name, extra field and comment.
_MAX_CENTRAL_ENTRY_BYTES = 46 + 1024 + 512  # name, extra field, comment: generous
_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def _declared_directory(handle: BinaryIO, name: str) -> tuple[int, int]:
    """(entries, central directory bytes) from the end-of-central-directory record, read before
    ``zipfile`` builds an object per entry."""
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    tail_length = min(size, _EOCD.size + 0xFFFF)
    handle.seek(size - tail_length)
    tail = handle.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise SubmissionError(f"{name} is not a valid zip archive (no end-of-archive record)")
    _, _, _, _, entries, directory_bytes, _, _ = _EOCD.unpack_from(tail, at)
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:  # zip64: the real figures are in the zip64 record
        locator_at = at - _ZIP64_LOCATOR.size
        if locator_at >= 0 and tail[locator_at:locator_at + 4] == b"PK\x06\x07":
            _, _, record_offset, _ = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
            handle.seek(record_offset)
            record = handle.read(_ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                fields = _ZIP64_EOCD.unpack(record)
                entries, directory_bytes = fields[7], fields[8]
    handle.seek(0)
    return entries, directory_bytes


def check_entry_name(filename: str, name: str) -> PurePosixPath:
    """The entry's path, refusing absolute paths, ``..``, drive letters and NULs (as code archives do)."""
    if len(filename) > current_limits().max_name_chars:
        raise SubmissionError(f"{name}: an entry name is {len(filename)} characters long "
                              f"({shorten(filename, 60)}); at most {current_limits().max_name_chars} are allowed")
    normal = filename.replace("\\", "/")
    path = PurePosixPath(normal)
    if (normal.startswith("/") or "\x00" in normal or (path.parts and path.parts[0].endswith(":"))
            or ".." in path.parts):
        raise SubmissionError(f"{name}: the entry {shorten(filename)} points outside the archive; "
                              "use plain relative names")
    return path


class ZipSubmission:
    """A zip opened for validation: its entries checked up front, each member read with a budget.

    Refused from the headers, before anything is inflated: more than ``max_entries`` entries (or a
    central directory too large for that many), unsafe names, links and other special entries,
    encryption, compression methods other than stored/deflate, members declaring more than
    ``max_file_bytes`` and archives declaring more than ``max_unpacked_bytes``. While reading, the
    bytes actually produced are counted against the same limits, and a CRC mismatch is an error.
    """

    def __init__(self, source: Path | bytes, name: str):
        self.name = name
        self.limits = current_limits()
        self._handle: BinaryIO = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
        try:
            entries, directory_bytes = _declared_directory(self._handle, name)
            if entries > self.limits.max_entries:
                raise SubmissionError(f"{name}: the archive has {entries} entries; at most "
                                      f"{self.limits.max_entries} are allowed")
            if directory_bytes > self.limits.max_entries * _MAX_CENTRAL_ENTRY_BYTES:
                raise SubmissionError(f"{name}: the archive's directory is {directory_bytes} bytes, too large "
                                      f"for at most {self.limits.max_entries} entries")
            try:
                self._zip = zipfile.ZipFile(self._handle)
                infos = self._zip.infolist()
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError,
                    EOFError, struct.error) as error:
                raise SubmissionError(f"{name} is not a valid zip archive ({clip(str(error), 120)})") from None
            if len(infos) > self.limits.max_entries:
                raise SubmissionError(f"{name}: the archive has {len(infos)} entries; at most "
                                      f"{self.limits.max_entries} are allowed")
            self.members = [info for info in infos if self._check(info)]
            declared = sum(info.file_size for info in self.members)
            if declared > self.limits.max_unpacked_bytes:
                raise SubmissionError(f"{name}: the archive unpacks to {declared} bytes; the limit is "
                                      f"{_mib(self.limits.max_unpacked_bytes)}")
        except BaseException:
            self._handle.close()
            raise
        self.unpacked = 0

    def _check(self, info: zipfile.ZipInfo) -> bool:
        """Whether ``info`` is a file to read (False for folders); refuses anything unsafe."""
        check_entry_name(info.filename, self.name)
        entry = shorten(info.filename)
        file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the tool stored no Unix type
        if file_type == stat.S_IFLNK:
            raise SubmissionError(f"{self.name}: the entry {entry} is a symbolic link; links are not allowed")
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise SubmissionError(f"{self.name}: the entry {entry} is not a regular file or folder")
        if info.is_dir():
            return False
        if info.flag_bits & 0x1:
            raise SubmissionError(f"{self.name}: the entry {entry} is encrypted; upload an archive without a password")
        if info.compress_type not in _SUPPORTED_COMPRESSION:
            raise SubmissionError(f"{self.name}: the entry {entry} uses compression method {info.compress_type}; "
                                  f"use {' or '.join(_SUPPORTED_COMPRESSION.values())}")
        if info.file_size > self.limits.max_file_bytes:
            raise SubmissionError(f"{self.name}: the entry {entry} unpacks to {info.file_size} bytes; the limit "
                                  f"per file is {_mib(self.limits.max_file_bytes)}")
        return True

    def read(self, info: zipfile.ZipInfo) -> bytes:
        """The member's bytes, streamed and counted: never more than it declared or the budget allows."""
        entry = shorten(info.filename)
        chunks: list[bytes] = []
        produced = 0
        try:
            with self._zip.open(info) as source:
                while chunk := source.read(MiB):
                    produced += len(chunk)
                    self.unpacked += len(chunk)
                    if produced > info.file_size or produced > self.limits.max_file_bytes:
                        raise SubmissionError(f"{self.name}: the entry {entry} unpacks to more than it declares")
                    if self.unpacked > self.limits.max_unpacked_bytes:
                        raise SubmissionError(f"{self.name}: the archive unpacks to more than "
                                              f"{_mib(self.limits.max_unpacked_bytes)}")
                    chunks.append(chunk)
        except SubmissionError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError,
                struct.error) as error:
            raise SubmissionError(f"{self.name}: cannot read the entry {entry}: the archive is corrupt "
                                  f"({clip(str(error), 120)})") from None
        if produced != info.file_size:
            raise SubmissionError(f"{self.name}: the entry {entry} is {produced} bytes but declares {info.file_size}")
        return b"".join(chunks)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "ZipSubmission":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_zip(source: Path | bytes, name: str) -> ZipSubmission:
    return ZipSubmission(source, name)


# --- numpy ----------------------------------------------------------------------------------------

def parse_npy(data: bytes, name: str) -> np.ndarray:
    """One .npy array from its bytes: the header's shape must match the bytes present (so a header
    claiming 10^12 elements is refused, not allocated), no object dtypes (no pickles)."""
    handle = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
        raise SubmissionError(f"{name}: not a readable .npz array ({clip(str(error), 120)})") from None
    if dtype.hasobject:
        raise SubmissionError(f"{name}: not a readable .npz array (it holds Python objects; only numeric arrays are accepted)")
    count = math.prod(shape)
    expected = count * dtype.itemsize
    present = len(data) - handle.tell()
    if expected != present:
        raise SubmissionError(f"{name}: the header says shape {clip(str(shape), 80)} of {dtype} "
                              f"({expected} bytes) but the file holds {present} bytes")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=handle.tell())
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)


def read_npz(source: Path | bytes, name: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz (a zip of .npy files), read through the same checks and budget as any zip."""
    arrays: dict[str, np.ndarray] = {}
    with open_zip(source, name) as archive:
        for info in archive.members:
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            arrays[key] = parse_npy(archive.read(info), f"{name} ({shorten(info.filename, 80)})")
    return arrays


# --- collections of files -------------------------------------------------------------------------

def collect_files(path: Path, suffixes: Sequence[str], name: str | None = None) -> dict[str, bytes]:
    """The submission's files by base name: one file, every file in a directory, or a zip's members.

    Only names ending in one of ``suffixes`` are kept; OS clutter (``__MACOSX``, dot files) is skipped.
    Zips go through ``ZipSubmission`` (unsafe entries refused, sizes bounded).
    """
    path = Path(path)
    name = name or path.name
    found: dict[str, bytes] = {}

    def add(entry: str, read) -> None:
        base = entry.replace("\\", "/").rsplit("/", 1)[-1]
        if not base or base.startswith(".") or "__MACOSX" in entry or not base.lower().endswith(tuple(suffixes)):
            return
        if base in found:
            raise SubmissionError(f"{name}: two files are named {shorten(base)}")
        found[base] = read()

    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and not child.is_symlink():
                add(str(child.relative_to(path)), lambda child=child: read_bytes(child, f"{name}/{child.relative_to(path)}"))
    elif path.suffix.lower() == ".zip":
        with open_zip(path, name) as archive:
            for member in archive.members:
                add(member.filename, lambda member=member: archive.read(member))
    else:
        add(path.name, lambda: read_bytes(path, name))
    return found


def read_csv(text: str, name: str, required: Sequence[str], optional: Sequence[str] = ()) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header as ``(line_number, {column: stripped value})``; blank lines skipped.

    Missing required columns, unknown columns and rows with the wrong number of fields are errors.
    """
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            fields = [field.strip() for field in fields]
            if header is None:
                header = [field.lower() for field in fields]
                missing = [column for column in required if column not in header]
                if missing:
                    raise SubmissionError(
                        f"{name}: header must have column(s) {', '.join(required)}; "
                        f"missing {', '.join(missing)} (line {reader.line_num} is {shorten(','.join(fields))})"
                    )
                unknown = [column for column in header if column not in (*required, *optional)]
                if unknown or len(set(header)) != len(header):
                    allowed = ", ".join((*required, *optional))
                    raise SubmissionError(f"{name}: unexpected or repeated column(s) in header "
                                          f"{shorten(','.join(header))} (allowed: {allowed})")
                continue
            if len(fields) != len(header):
                raise SubmissionError(
                    f"{name}, line {reader.line_num}: expected {len(header)} fields, found {len(fields)}")
            rows.append((reader.line_num, dict(zip(header, fields))))
    except csv.Error as error:
        raise SubmissionError(f"{name}, line {reader.line_num}: {clip(str(error))}") from None
    if header is None:
        raise SubmissionError(f"{name}: the file is empty (expected a header {','.join(required)})")
    return rows


def parse_int(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SubmissionError(f"{where}: {shorten(value)} is not an integer") from None


def parse_float(value: str, where: str, low: float | None = None, high: float | None = None) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SubmissionError(f"{where}: {shorten(value)} is not a number") from None
    if not math.isfinite(number):
        raise SubmissionError(f"{where}: {shorten(value)} is not a finite number")
    if (low is not None and number < low) or (high is not None and number > high):
        raise SubmissionError(f"{where}: {number} is outside [{low}, {high}]")
    return number


def check_ids(entries: Sequence[tuple[int, object]], known: Container, name: str, *,
              what: str = "id", complete: bool = False, unique: bool = True) -> None:
    """Validate ``(line, id)`` pairs: every id known, no id twice (``unique``), none left out (``complete``)."""
    first_line: dict[object, int] = {}
    for line, item in entries:
        if item not in known:
            raise SubmissionError(f"{name}, line {line}: unknown {what} {shorten(item)}")
        if unique and item in first_line:
            raise SubmissionError(f"{name}, line {line}: {what} {shorten(item)} appears twice (also line {first_line[item]})")
        first_line.setdefault(item, line)
    if complete:
        missing = [item for item in known if item not in first_line]
        if missing:
            raise SubmissionError(f"{name}: {len(missing)} {what}(s) missing: {format_items(sorted(missing, key=str))}")
