"""The registry of benchmark types, keyed by slug (``speech-selection``, ``vision-selection``, ...).

Built-in types are imported lazily: ``get(slug)`` imports only that type's module, so a cold
``python -m evaluation score vision-selection ...`` does not pay for torch, pandas or scipy imports of
types it does not use. ``all_types()`` imports every built-in type.
"""
from __future__ import annotations

import importlib

from .base import BenchmarkType

_REGISTRY: dict[str, BenchmarkType] = {}

# slug -> module of evaluation.benchmarks defining it (tests/evaluation/test_cold_scorers.py keeps this true)
BUILTIN_MODULES: dict[str, str] = {
    "data-acquisition": "data_acquisition",
    "debugging": "debugging",
    "slicing": "slicing",
    "speech-selection": "speech_selection",
    "test-set": "test_set",
    "training-set": "training_set",
    "valuation": "valuation",
    "vision-selection": "vision_selection",
}


def register(cls: type[BenchmarkType]) -> type[BenchmarkType]:
    """Class decorator: make a benchmark type available by its slug."""
    if cls.slug in _REGISTRY:
        raise ValueError(f"benchmark type {cls.slug!r} registered twice")
    _REGISTRY[cls.slug] = cls()
    return cls


def get(slug: str) -> BenchmarkType:
    if slug not in _REGISTRY and slug in BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.benchmarks.{BUILTIN_MODULES[slug]}")
    if slug not in _REGISTRY:
        _load_builtin_types()
    try:
        return _REGISTRY[slug]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown benchmark type {slug!r} (known: {known})") from None


def all_types() -> list[BenchmarkType]:
    _load_builtin_types()
    return [_REGISTRY[slug] for slug in sorted(_REGISTRY)]


def builtin_slugs() -> list[str]:
    return sorted(BUILTIN_MODULES)


def _load_builtin_types() -> None:
    # Importing a module registers its type through @register.
    for module in BUILTIN_MODULES.values():
        importlib.import_module(f"{__package__}.benchmarks.{module}")
