"""Raw items: a participant's own sentence, drawing, picture or recording turned into the task's features.

Model-in-the-loop test-set creation lets a participant *create* an item instead of picking one from
the pool; the model suite then answers live (:mod:`evaluation.live_suite`). The item must be
featurised exactly like the pool's items, with the transforms the task's builder fitted (shipped in
the benchmark's public data as ``extractor.npz``), so this package holds the one implementation of
those transforms: the builders (``fixtures/builders``) import it, the platform and participants
(offline) call it. No Django.

Public data of a test-set benchmark that takes raw items (``docs/benchmarks/test-set.md``)::

    meta.json       {"class_names": [...], "display": "image",
                     "raw": {"kind": "image", "featurizer": "roman-numeral", "extractor": "extractor.npz"}}
    extractor.npz   the fitted transform (patch-PCA filters and projection, or standardisation stats)

Use::

    featurizer = load_featurizer(data_dir)          # None: the benchmark declares no raw kind
    x = featurizer(RawItem.of_image(png_bytes))        # float32 (dim,), like a pool row
    # RawItemError (a SubmissionError) names the problem: "image: the canvas is blank", ...

Featurizers (``FEATURIZERS``): ``minilm-text`` (NLP), ``roman-numeral`` (OCR), ``fashion-image``
(image), ``keyword-audio`` (keyword). Limits are module constants (``MAX_TEXT_CHARS``, ...).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..base import DataError, SubmissionError

RAW_KINDS = ("text", "image", "audio")

# Limits (bounded work and memory per item; checked before decoding where the format allows).
MAX_TEXT_CHARS = 1000            # a gloss is ~60-200 characters; MiniLM reads at most 256 tokens anyway
MAX_IMAGE_BYTES = 3 * 2**20      # encoded PNG/JPEG (base64 in a JSON body: 4 MiB)
MAX_IMAGE_SIDE = 2048            # pixels, from the header, before decoding
MAX_IMAGE_PIXELS = 2048 * 2048
MAX_AUDIO_BYTES = 3 * 2**20      # encoded WAV (5 s of 48 kHz stereo 32-bit float is 1.9 MB)
MAX_AUDIO_SECONDS = 5.0          # the task's clips are 1 s; a few seconds of slack for a recording
MIN_AUDIO_SECONDS = 0.05


class RawItemError(SubmissionError):
    """A raw item the featurizer refuses; the message names the field and the problem."""


@dataclasses.dataclass(frozen=True)
class RawItem:
    """What a participant made: ``kind`` is ``text`` (``text``), ``image`` (``data``: PNG/JPEG bytes) or
    ``audio`` (``data``: WAV bytes)."""

    kind: str
    text: str | None = None
    data: bytes | None = None

    @classmethod
    def of_text(cls, text) -> "RawItem":
        return cls("text", text=text)

    @classmethod
    def of_image(cls, data: bytes) -> "RawItem":
        return cls("image", data=data)

    @classmethod
    def of_audio(cls, data: bytes) -> "RawItem":
        return cls("audio", data=data)

    @property
    def size(self) -> int:
        """Characters of a text, bytes of a file."""
        return len(self.text or "") if self.kind == "text" else len(self.data or b"")


@dataclasses.dataclass(frozen=True)
class FeaturizerSpec:
    name: str
    raw_kind: str
    build: Callable[[dict[str, np.ndarray]], Callable[[RawItem], np.ndarray]]


def _registry() -> dict[str, FeaturizerSpec]:
    from . import audio, images, text  # noqa: PLC0415 - Pillow/tokenizers load only when used

    specs = [
        FeaturizerSpec("minilm-text", "text", text.MiniLMText),
        FeaturizerSpec("roman-numeral", "image", images.RomanNumeralImage),
        FeaturizerSpec("fashion-image", "image", images.FashionImage),
        FeaturizerSpec("keyword-audio", "audio", audio.KeywordAudio),
    ]
    return {s.name: s for s in specs}


# The featurizer each built-in task's test-set layout declares (fixtures/builders/layouts.py).
TASK_FEATURIZERS = {"nlp": "minilm-text", "ocr": "roman-numeral", "image": "fashion-image", "keyword": "keyword-audio"}
FEATURIZERS = tuple(TASK_FEATURIZERS.values())


class Featurizer:
    """A loaded featurizer: ``featurizer(raw) -> float32 (dim,)``, quantised like the pool's rows."""

    def __init__(self, name: str, extractor: dict[str, np.ndarray]):
        specs = _registry()
        if name not in specs:
            raise DataError(f"meta.json: raw featurizer must be one of {', '.join(sorted(specs))}, got {name!r}")
        self.name = name
        self.raw_kind = specs[name].raw_kind
        self._apply = specs[name].build(extractor)
        self.dim = int(self._apply.dim)

    def __call__(self, raw: RawItem) -> np.ndarray:
        if not isinstance(raw, RawItem):
            raise RawItemError(f"expected a raw item, got {type(raw).__name__}")
        if raw.kind != self.raw_kind:
            raise RawItemError(f"{raw.kind}: this benchmark takes {self.raw_kind} items, not {raw.kind}")
        with single_thread():
            x = np.asarray(self._apply(raw), dtype=np.float32).reshape(-1)
        if x.shape != (self.dim,) or not np.all(np.isfinite(x)):
            raise DataError(f"featurizer {self.name} produced a vector of shape {x.shape}, expected ({self.dim},)")
        # the pool's rows are stored at float16 precision (fixtures/builders/common.quantize)
        return x.astype(np.float16).astype(np.float32)

    def __repr__(self) -> str:
        return f"Featurizer({self.name!r}, raw_kind={self.raw_kind!r}, dim={self.dim})"


def single_thread():
    """One BLAS thread: one item's small matrix products run ~10-20x slower when OpenBLAS's threads
    compete with other processes for the cores (MiniLM: 35 ms vs 0.9 s on a busy 2-core machine)."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - a scikit-learn dependency

    return threadpool_limits(1)


def raw_meta(featurizer: str, extractor_file: str = "extractor.npz") -> dict[str, str]:
    """The ``meta.json`` entry ``"raw"`` that declares a featurizer."""
    specs = _registry()
    if featurizer not in specs:
        raise ValueError(f"unknown featurizer {featurizer!r}")
    return {"kind": specs[featurizer].raw_kind, "featurizer": featurizer, "extractor": extractor_file}


def read_raw_meta(data_dir: Path) -> dict[str, str] | None:
    """The ``raw`` entry of the data directory's ``meta.json``, checked; None when it declares none."""
    path = Path(data_dir) / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"missing data file meta.json ({path})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"meta.json: not valid JSON ({error})") from None
    raw = meta.get("raw") if isinstance(meta, dict) else None
    if raw is None:
        return None
    if (not isinstance(raw, dict) or raw.get("kind") not in RAW_KINDS or not isinstance(raw.get("featurizer"), str)
            or not isinstance(raw.get("extractor", "extractor.npz"), str)):
        raise DataError('meta.json: "raw" must be {"kind": text|image|audio, "featurizer": name, "extractor": file}')
    extractor = raw.get("extractor", "extractor.npz")
    if "/" in extractor or "\\" in extractor or extractor.startswith("."):
        raise DataError(f'meta.json: "raw" extractor must be a file name in the data directory, got {extractor!r}')
    return {"kind": raw["kind"], "featurizer": raw["featurizer"], "extractor": extractor}


def load_featurizer(data_dir: Path) -> Featurizer | None:
    """The featurizer a test-set data directory declares (``meta.json`` ``raw``), or None."""
    raw = read_raw_meta(data_dir)
    if raw is None:
        return None
    path = Path(data_dir) / raw["extractor"]
    if not path.is_file():
        raise DataError(f"missing data file {raw['extractor']} (the raw-item featurizer's fitted transform)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            extractor = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise DataError(f"{raw['extractor']}: not a readable .npz file ({error})") from None
    featurizer = Featurizer(raw["featurizer"], extractor)
    if featurizer.raw_kind != raw["kind"]:
        raise DataError(f'meta.json: featurizer {raw["featurizer"]} takes {featurizer.raw_kind} items, '
                        f'"raw" says {raw["kind"]}')
    return featurizer


def _array(extractor: dict[str, np.ndarray], key: str, name: str) -> np.ndarray:
    if key not in extractor:
        raise DataError(f"extractor.npz has no array {key!r} (needed by the {name} featurizer)")
    return extractor[key]


__all__ = [
    "FEATURIZERS", "Featurizer", "MAX_AUDIO_BYTES", "MAX_AUDIO_SECONDS", "MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE", "MAX_TEXT_CHARS", "RAW_KINDS", "RawItem", "RawItemError", "TASK_FEATURIZERS", "load_featurizer",
    "raw_meta", "read_raw_meta",
]
