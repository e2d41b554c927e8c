"""Baseline algorithms for every benchmark type, posted as marked baseline rows on the leaderboards.

One module per type (``speech_selection``, ``vision_selection``, ``debugging``, ``valuation``,
``slicing``, ``training_set``; ``test_set.py`` only picks candidates for the test-set starter kit and the
sample file: it posts no baseline rows, credit needs annotators). Each module stands alone - it imports only numpy, scipy,
scikit-learn, pandas, pyarrow and PyYAML, never this package - because the closed-division starter
kits ship it unchanged as ``baselines.py`` (``evaluation.starter_kits.make_starter_kit_zip``) and
the sandbox has nothing else. Each module's docstring names the idea and the paper it follows.

``BASELINES[type_slug][name]`` is a callable ``(public_data_dir: Path, out_path: Path, config: dict,
seed: int) -> Path``: it reads only the *public* files of a benchmark data directory (the platform
gives baselines exactly what participants download), writes a valid submission next to
``out_path`` (the suffix may change, e.g. to ``.zip``) and returns the written path. ``config`` is
the benchmark's config (``train_size``, ``max_train_size``, ``concepts``, ``tasks``, ``model``, ...);
baseline-specific knobs are optional keys documented per function. Same ``seed`` -> same bytes.

``run_baseline`` fills in the type's default config; ``demo_baseline`` adapts a baseline to the
``make(public_dir, out_stem, config) -> path`` shape of ``fixtures/demo.py``. ``benchmarks/baseline_table.py``
runs every baseline on the demo data and writes ``docs/baselines.md``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from . import data_acquisition, debugging, slicing, speech_selection, training_set, valuation, vision_selection

Baseline = Callable[[Path, Path, dict, int], Path]

BASELINES: dict[str, dict[str, Baseline]] = {
    "speech-selection": {
        "random": speech_selection.random_baseline,
        "cross-validation": speech_selection.crossval_baseline,
        "k-center": speech_selection.kcenter_baseline,
    },
    "vision-selection": {
        "random": vision_selection.random_baseline,
        "k-center": vision_selection.kcenter_baseline,
    },
    "debugging": {
        "random": debugging.random_baseline,
        "self-confidence": debugging.self_confidence_baseline,
        "confident-learning": debugging.confident_learning_baseline,
        "knn-shapley": debugging.knn_shapley_baseline,
    },
    "valuation": {
        "random": valuation.random_baseline,
        "learning-curve": valuation.learning_curve_baseline,
        "data-quality": valuation.data_quality_baseline,
    },
    "slicing": {
        "random": slicing.random_baseline,
        "error-clusters": slicing.error_clusters_baseline,
        "domino": slicing.domino_baseline,
    },
    "training-set": {
        "random": training_set.random_baseline,
        "confident-learning": training_set.confident_learning_baseline,
    },
    "data-acquisition": {
        "random": data_acquisition.random_baseline,
        "uniform": data_acquisition.uniform_baseline,
        "greedy-summary": data_acquisition.greedy_summary_baseline,
        "validation-value": data_acquisition.validation_value_baseline,
    },
}

# type slug -> the standalone module (a starter kit ships ``<module file>`` as ``baselines.py``)
MODULES = {
    "speech-selection": speech_selection,
    "vision-selection": vision_selection,
    "debugging": debugging,
    "valuation": valuation,
    "slicing": slicing,
    "training-set": training_set,
    "data-acquisition": data_acquisition,
}


def module_path(type_slug: str) -> Path:
    """The source file of a type's baseline module."""
    return Path(MODULES[type_slug].__file__)


def get(type_slug: str, name: str) -> Baseline:
    try:
        return BASELINES[type_slug][name]
    except KeyError:
        known = ", ".join(f"{t}/{n}" for t, names in BASELINES.items() for n in names)
        raise KeyError(f"no baseline {type_slug}/{name} (known: {known})") from None


def full_config(type_slug: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The type's default config with the benchmark's overrides; extra (baseline-only) keys are kept."""
    from .. import registry

    merged = dict(registry.get(type_slug).default_config)
    merged.update(config or {})
    return merged


def run_baseline(type_slug: str, name: str, public_data_dir: str | Path, out_path: str | Path,
                 config: dict[str, Any] | None = None, seed: int = 0) -> Path:
    """Run one baseline with the type's default config filled in; returns the submission path."""
    return get(type_slug, name)(Path(public_data_dir), Path(out_path), full_config(type_slug, config), seed)


def demo_baseline(type_slug: str, name: str, config: dict[str, Any] | None = None,
                  seed: int = 0) -> Callable[..., Path]:
    """``make(public_dir, out_stem, config=None) -> path`` for ``fixtures/demo.py``'s ``"baselines"``
    entries; a ``config`` passed to ``make`` (the benchmark's effective config) wins over the one given here."""
    get(type_slug, name)

    def make(public_dir: Path, out_stem: Path, benchmark_config: dict[str, Any] | None = None) -> Path:
        Path(out_stem).parent.mkdir(parents=True, exist_ok=True)
        return run_baseline(type_slug, name, public_dir, out_stem, {**(config or {}), **(benchmark_config or {})}, seed)

    make.__name__ = f"{type_slug}/{name}"
    return make


def demo_baselines(type_slug: str, config: dict[str, Any] | None = None, seed: int = 0,
                   names: list[str] | None = None) -> dict[str, Callable[..., Path]]:
    """Every (or the named) baseline of a type as ``{name: make}`` for ``fixtures/demo.py``."""
    return {name: demo_baseline(type_slug, name, config, seed) for name in (names or BASELINES[type_slug])}
