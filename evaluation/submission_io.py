"""Reading submission files with error messages a participant can act on.

Every parser here raises ``SubmissionError`` naming the file, the line and the offending value, so
benchmark types only describe *what* they expect (columns, id sets, ranges), not how to report it.
"""
from __future__ import annotations

import csv
import io
import math
import zipfile
from pathlib import Path
from collections.abc import Container
from typing import Iterable, Sequence

from .base import SubmissionError

# Guard against zip bombs: the platform also caps the upload size, this caps what we unpack.
MAX_UNPACKED_BYTES = 1 << 30


def format_items(items: Iterable[object], limit: int = 5) -> str:
    """``'a', 'b', 'c' and 7 more`` — short enough for a one-line error message."""
    items = list(items)
    shown = ", ".join(repr(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def decode_text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{name}: not UTF-8 text (byte {error.start})") from None


def read_text(path: Path) -> str:
    return decode_text(Path(path).read_bytes(), Path(path).name)


def collect_files(path: Path, suffixes: Sequence[str]) -> dict[str, bytes]:
    """The submission's files by base name: one file, every file in a directory, or a zip's members.

    Only names ending in one of ``suffixes`` are kept; OS clutter (``__MACOSX``, dot files) is skipped.
    """
    path = Path(path)
    found: dict[str, bytes] = {}

    def add(name: str, read) -> None:
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        if not base or base.startswith(".") or "__MACOSX" in name or not base.lower().endswith(tuple(suffixes)):
            return
        if base in found:
            raise SubmissionError(f"{path.name}: two files are named {base!r}")
        found[base] = read()

    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file():
                add(str(child.relative_to(path)), child.read_bytes)
    elif path.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise SubmissionError(f"{path.name}: not a valid zip archive") from None
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise SubmissionError(f"{path.name}: unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB")
            for member in members:
                add(member.filename, lambda member=member: archive.read(member))
    else:
        add(path.name, path.read_bytes)
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
                        f"missing {', '.join(missing)} (line {reader.line_num} is {','.join(fields)!r})"
                    )
                unknown = [column for column in header if column not in (*required, *optional)]
                if unknown or len(set(header)) != len(header):
                    allowed = ", ".join((*required, *optional))
                    raise SubmissionError(f"{name}: unexpected or repeated column(s) in header "
                                          f"{','.join(header)!r} (allowed: {allowed})")
                continue
            if len(fields) != len(header):
                raise SubmissionError(
                    f"{name}, line {reader.line_num}: expected {len(header)} fields, found {len(fields)}")
            rows.append((reader.line_num, dict(zip(header, fields))))
    except csv.Error as error:
        raise SubmissionError(f"{name}, line {reader.line_num}: {error}") from None
    if header is None:
        raise SubmissionError(f"{name}: the file is empty (expected a header {','.join(required)})")
    return rows


def parse_int(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SubmissionError(f"{where}: {value!r} is not an integer") from None


def parse_float(value: str, where: str, low: float | None = None, high: float | None = None) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SubmissionError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise SubmissionError(f"{where}: {value!r} is not a finite number")
    if (low is not None and number < low) or (high is not None and number > high):
        raise SubmissionError(f"{where}: {number} is outside [{low}, {high}]")
    return number


def check_ids(entries: Sequence[tuple[int, object]], known: Container, name: str, *,
              what: str = "id", complete: bool = False, unique: bool = True) -> None:
    """Validate ``(line, id)`` pairs: every id known, no id twice (``unique``), none left out (``complete``)."""
    first_line: dict[object, int] = {}
    for line, item in entries:
        if item not in known:
            raise SubmissionError(f"{name}, line {line}: unknown {what} {item!r}")
        if unique and item in first_line:
            raise SubmissionError(f"{name}, line {line}: {what} {item!r} appears twice (also line {first_line[item]})")
        first_line.setdefault(item, line)
    if complete:
        missing = [item for item in known if item not in first_line]
        if missing:
            raise SubmissionError(f"{name}: {len(missing)} {what}(s) missing: {format_items(sorted(missing, key=str))}")
