"""A valid sample submission for every benchmark type, built from a benchmark's public data.

``write_sample(type_slug, public_data_dir, out_stem, config)`` writes a file a participant can open
to see the format, upload as is, or score offline with ``python -m evaluation score``. It is the
type's shipped *random* baseline (``evaluation.baselines``), the cheapest valid submission; for
test-set creation it is ``evaluation/baselines/test_set.py``'s random candidate picker, whose labels a
person should check before submitting. Same data and config -> same bytes. No Django here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import registry
from .baselines import BASELINES, full_config
from .baselines import test_set as test_set_candidates

SAMPLE_BASELINE = "random"
# The suffix of each type's sample (what the baselines write), for pages that name the file before it exists.
SAMPLE_SUFFIX = {"data-acquisition": ".csv", "speech-selection": ".json", "vision-selection": ".zip", "debugging": ".zip", "valuation": ".csv",
                 "slicing": ".csv", "training-set": ".csv", "test-set": ".csv"}


def write_sample(type_slug: str, public_data_dir: str | Path, out_stem: str | Path,
                 config: dict[str, Any] | None = None, seed: int = 0) -> Path:
    """Write the sample next to ``out_stem`` (the suffix is the type's: .json, .csv or .zip); returns its path."""
    benchmark = registry.get(type_slug)
    merged = {**benchmark.default_config, **(config or {})}
    Path(out_stem).parent.mkdir(parents=True, exist_ok=True)
    if type_slug == "test-set":
        return test_set_candidates.random_baseline(Path(public_data_dir), Path(out_stem),
                                                   {**merged, "max_items": min(int(merged["max_items"]), 10)}, seed)
    baseline = BASELINES[type_slug][SAMPLE_BASELINE]
    return baseline(Path(public_data_dir), Path(out_stem), full_config(type_slug, merged), seed)
