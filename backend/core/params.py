"""Query-string parameters, parsed once with a 400 naming the parameter for anything malformed.

``?phase=abc`` or ``?phase=99999999999999999999`` must not reach the database (a ValueError or a
numeric overflow there is a 500); views call these helpers instead of ``int(request.GET[...])``.
Each raises ``Rejected(name, reason)``, which the API's exception handler answers as HTTP 400.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from .errors import Rejected

# Primary keys are BigAutoField: anything outside this range names no row and would overflow the column.
MAX_ID = 2**63 - 1
MAX_TEXT_CHARS = 200
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def int_param(params: Mapping[str, str], name: str, *, default: int | None = None, minimum: int = 0,
              maximum: int = MAX_ID) -> int | None:
    """An integer in ``[minimum, maximum]``; ``default`` when the parameter is absent or empty."""
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit()) or len(text) > 20:
        raise Rejected(name, f"{_shown(raw)} is not a whole number")
    value = int(text)
    if not minimum <= value <= maximum:
        raise Rejected(name, f"{value} is out of range ({minimum}..{maximum})")
    return value


def id_param(params: Mapping[str, str], name: str) -> int | None:
    """A database id (a positive integer), or None when absent."""
    return int_param(params, name, minimum=1)


def choice_param(params: Mapping[str, str], name: str, choices: Iterable[str], default: str | None = None) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    choices = tuple(choices)
    if raw not in choices:
        raise Rejected(name, f"{_shown(raw)} is not one of: {', '.join(choices)}")
    return raw


def bool_param(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise Rejected(name, f"{_shown(raw)} is not a yes/no value (use 1 or 0)")


def text_param(params: Mapping[str, str], name: str, *, default: str = "", max_chars: int = MAX_TEXT_CHARS) -> str:
    raw = params.get(name)
    if raw is None:
        return default
    if len(raw) > max_chars:
        raise Rejected(name, f"is {len(raw)} characters long; at most {max_chars} are allowed")
    if "\x00" in raw:
        raise Rejected(name, "contains a NUL character")
    return raw
