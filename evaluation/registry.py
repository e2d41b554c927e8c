"""The registry of benchmark types, keyed by slug (``speech-selection``, ``vision-selection``, ...)."""
from __future__ import annotations

from .base import BenchmarkType

_REGISTRY: dict[str, BenchmarkType] = {}


def register(cls: type[BenchmarkType]) -> type[BenchmarkType]:
    """Class decorator: make a benchmark type available by its slug."""
    if cls.slug in _REGISTRY:
        raise ValueError(f"benchmark type {cls.slug!r} registered twice")
    _REGISTRY[cls.slug] = cls()
    return cls


def get(slug: str) -> BenchmarkType:
    _load_builtin_types()
    try:
        return _REGISTRY[slug]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown benchmark type {slug!r} (known: {known})") from None


def all_types() -> list[BenchmarkType]:
    _load_builtin_types()
    return [_REGISTRY[slug] for slug in sorted(_REGISTRY)]


def _load_builtin_types() -> None:
    # Importing the package registers every built-in type through @register.
    from . import benchmarks  # noqa: F401
