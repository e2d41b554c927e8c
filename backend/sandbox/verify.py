"""Did the submitted code reproduce the submitted artifact? (closed division, DataPerf paper §4)

``compare_outputs(expected, produced)`` compares what the participant uploaded (``expected``)
with what their code wrote in the sandbox (``produced``) and returns ``(same, sentence)``; the
sentence names the first difference so that it can be shown as-is on the submission page.

* JSON is compared by meaning. A speech selection (``{"targets": {word: [ids]}, "nontargets": [ids]}``)
  must select the same ids per target word (the scorer ignores order and duplicates there) and the
  same nontarget ids with the same multiplicities (order is reported but accepted). Other JSON,
  such as vision selections ``{concept: {ImageID: 0|1}}``, must be equal; maps are compared key by key.
* CSV, TXT and other text files are compared line by line after normalising line endings.
* Directories: every file of ``expected`` must be reproduced; extra produced files are ignored.

The program's output is untrusted data: JSON nested deeper than ``MAX_JSON_DEPTH`` levels is refused
with a sentence (``output_problem`` checks a file or directory before a scorer reads it).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

_TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ".yaml", ".yml"}
MAX_JSON_DEPTH = 100  # DataPerf's files are 3 levels deep; deeper ones would exhaust the parser's stack
_MAX_CHECKED_FILES = 1000


class _Unreadable(Exception):
    """A JSON file that cannot be compared; the message is the sentence for the participant."""


def _load_json(path: Path, label: str, produced: bool) -> Any:
    whose = f"your program's output file {label}" if produced else f"the submitted {label}"
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except RecursionError:
        raise _Unreadable(f"{whose} is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except MemoryError:
        raise _Unreadable(f"{whose} needs more memory to read than the platform allows") from None
    except (UnicodeDecodeError, ValueError) as error:
        if produced:
            raise _Unreadable(f"{label} written by the code is not valid JSON ({error})") from None
        raise _Unreadable(f"the submitted {label} is not valid JSON ({error})") from None
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise _Unreadable(f"{whose} is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def output_problem(path: Path) -> str | None:
    """A sentence when a JSON file the program produced (``path``, or any under it) is nested too deeply
    to be read safely; None otherwise (other problems are the scorer's to report)."""
    path = Path(path)
    if path.is_symlink():
        return None
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file() and not p.is_symlink())[:_MAX_CHECKED_FILES]
    else:
        files = []
    for file in files:
        if file.suffix.lower() != ".json":
            continue
        label = file.name if file == path else file.relative_to(path).as_posix()
        try:
            _load_json(file, label, produced=True)
        except _Unreadable as problem:
            if "nested deeper" in str(problem) or "more memory" in str(problem):
                return str(problem)
    return None


def compare_outputs(expected: Path, produced: Path) -> tuple[bool, str]:
    expected, produced = Path(expected), Path(produced)
    if not expected.exists():
        raise FileNotFoundError(expected)
    if not produced.exists():
        return False, f"the code did not produce {expected.name}"
    if expected.is_dir():
        if not produced.is_dir():
            return False, f"the code produced a single file where the submission is a directory ({expected.name})"
        wanted = sorted(p.relative_to(expected).as_posix() for p in expected.rglob("*") if p.is_file())
        missing = [name for name in wanted if not _is_regular(produced / name, within=produced)]
        if missing:
            more = f" (and {len(missing) - 1} other submitted files)" if len(missing) > 1 else ""
            return False, f"the code did not produce {missing[0]}{more}"
        for name in wanted:
            same, message = _compare_file(expected / name, produced / name, name)
            if not same:
                return False, message
        return True, f"the code reproduced all {len(wanted)} submitted files"
    if not _is_regular(produced):
        return False, f"the code did not produce {expected.name} as a regular file"
    return _compare_file(expected, produced, expected.name)


def _is_regular(path: Path, within: Path | None = None) -> bool:
    """A regular file reached without symbolic links (never read a host file through a link)."""
    if within is not None and not path.resolve().is_relative_to(within.resolve()):
        return False
    return path.is_file() and not path.is_symlink()


def _compare_file(expected: Path, produced: Path, label: str) -> tuple[bool, str]:
    suffix = expected.suffix.lower()
    if suffix == ".json":
        try:
            submitted = _load_json(expected, label, produced=False)
            reproduced = _load_json(produced, label, produced=True)
        except _Unreadable as problem:
            return False, str(problem)
        return _compare_json(submitted, reproduced, label)
    if suffix in _TEXT_SUFFIXES:
        return _compare_lines(expected.read_bytes(), produced.read_bytes(), label)
    if expected.read_bytes() == produced.read_bytes():
        return True, f"the code reproduced {label}"
    return False, f"{label} differs from the submitted file (compared byte by byte)"


def _lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    return text.rstrip("\n").split("\n") if text.strip("\n") else []


def _compare_lines(expected: bytes, produced: bytes, label: str) -> tuple[bool, str]:
    submitted, reproduced = _lines(expected), _lines(produced)
    for number, (a, b) in enumerate(zip(submitted, reproduced), start=1):
        if a.rstrip() != b.rstrip():
            return False, f"{label} line {number} differs: submitted {_short(a)}, the code produced {_short(b)}"
    if len(submitted) != len(reproduced):
        longer, what = (submitted, "missing") if len(submitted) > len(reproduced) else (reproduced, "extra")
        first = min(len(submitted), len(reproduced))
        return False, (f"{label} differs: submitted {len(submitted)} lines, the code produced {len(reproduced)}; "
                       f"first {what} line ({first + 1}): {_short(longer[first])}")
    return True, f"the code reproduced {label} ({len(submitted)} lines)"


def _compare_json(submitted: Any, reproduced: Any, label: str) -> tuple[bool, str]:
    if _is_speech_selection(submitted) and _is_speech_selection(reproduced):
        return _compare_speech(submitted, reproduced, label)
    difference = _json_difference(submitted, reproduced, "")
    if difference:
        return False, f"{label}: {difference}"
    return True, f"the code reproduced {label}"


def _is_speech_selection(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("targets"), dict)
            and isinstance(value.get("nontargets"), list))


def _compare_speech(submitted: dict, reproduced: dict, label: str) -> tuple[bool, str]:
    words_a, words_b = set(submitted["targets"]), set(reproduced["targets"])
    if words_a != words_b:
        missing, extra = sorted(words_a - words_b), sorted(words_b - words_a)
        detail = f"the code left out target word {missing[0]!r}" if missing else f"the code added target word {extra[0]!r}"
        return False, f"{label}: targets differ: {detail}"
    for word in sorted(words_a):
        ids_a, ids_b = submitted["targets"][word], reproduced["targets"][word]
        if not isinstance(ids_a, list) or not isinstance(ids_b, list):
            if ids_a != ids_b:
                return False, f"{label}: targets[{word!r}] differs: submitted {_short(ids_a)}, the code produced {_short(ids_b)}"
            continue
        if set(map(str, ids_a)) != set(map(str, ids_b)):
            return False, f"{label}: targets[{word!r}] differs: {_id_difference(ids_a, ids_b)}"
    nontargets_a, nontargets_b = submitted["nontargets"], reproduced["nontargets"]
    counts_a, counts_b = Counter(map(str, nontargets_a)), Counter(map(str, nontargets_b))
    if counts_a != counts_b:
        if set(counts_a) != set(counts_b):
            return False, f"{label}: nontargets differs: {_id_difference(nontargets_a, nontargets_b)}"
        clip = next(c for c in nontargets_a if counts_a[str(c)] != counts_b[str(c)])
        return False, (f"{label}: nontargets differs: id {clip} appears {counts_a[str(clip)]} time(s) in the "
                       f"submission and {counts_b[str(clip)]} time(s) in the code's output")
    if list(map(str, nontargets_a)) != list(map(str, nontargets_b)):
        return True, (f"the code reproduced {label} (same ids; the nontargets come in a different order, "
                      "which can change the score slightly)")
    return True, f"the code reproduced {label}"


def _id_difference(submitted: list, reproduced: list) -> str:
    a, b = list(map(str, submitted)), list(map(str, reproduced))
    in_b, in_a = set(b), set(a)
    missing = next((x for x in a if x not in in_b), None)
    extra = next((x for x in b if x not in in_a), None)
    detail = f"first missing id: {missing}" if missing is not None else f"first extra id: {extra}"
    return f"submitted {len(a)} ids, the code produced {len(b)}; {detail}"


def _path(parent: str, key: Any) -> str:
    return str(key) if not parent else f"{parent}[{key!r}]"


def _json_difference(a: Any, b: Any, path: str) -> str | None:
    """The first difference between two JSON values as a sentence, or None when they are equal."""
    where = path or "the top level"
    if isinstance(a, dict) and isinstance(b, dict):
        missing = [k for k in a if k not in b]
        extra = [k for k in b if k not in a]
        if missing or extra:
            detail = f"first missing key: {missing[0]}" if missing else f"first extra key: {extra[0]}"
            return f"{where} differs: submitted {len(a)} entries, the code produced {len(b)}; {detail}"
        for key in a:
            difference = _json_difference(a[key], b[key], _path(path, key))
            if difference:
                return difference
        return None
    if isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b)):
            difference = _json_difference(x, y, f"{path}[{index}]" if path else f"item {index}")
            if difference:
                return difference
        if len(a) != len(b):
            return f"{where} differs: submitted {len(a)} items, the code produced {len(b)}"
        return None
    if _same_scalar(a, b):
        return None
    return f"{where} differs: submitted {_short(a)}, the code produced {_short(b)}"


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
