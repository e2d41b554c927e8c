"""Recorded or uploaded clips (keyword task): WAV decoding, the builder's trim/place, then the same
log-mel/MFCC statistics (``features.audio_features``) and standardisation as the task's items.

WAV (:func:`read_wav`): RIFF/WAVE with PCM 8 (unsigned), 16, 24 or 32-bit integers or 32/64-bit
IEEE float (also inside ``WAVE_FORMAT_EXTENSIBLE``), 1-8 channels (averaged to mono), 4-192 kHz. The
header is checked and the duration computed from it - a clip longer than ``MAX_AUDIO_SECONDS`` is
refused before any sample is read. Resampling to 16 kHz: ``scipy.signal.resample_poly``.

Placement (as ``fixtures/builders/keyword.py``): the word is cut out with the builder's rule (first
to last sample above 2 % of the peak), kept to its first second if longer, peak-scaled to 0.6 (the
middle of the builder's 0.3-0.9 gains) and centred in a 1 s clip (the builder's offset is uniform).
Then white noise at 20 dB below the word's power (the builder mixes white or brown noise at 5-30 dB SNR
into every clip; a noiseless clip - digital silence around the word - is unlike any item), drawn from a
fixed seed so the same clip always gives the same features. Silent clips (peak below -50 dBFS) are refused.
"""
from __future__ import annotations

import struct

import numpy as np

from . import MAX_AUDIO_BYTES, MAX_AUDIO_SECONDS, MIN_AUDIO_SECONDS, RawItem, RawItemError, _array
from . import features
from ..base import DataError

CLIP = features.SAMPLE_RATE   # 1 s at 16 kHz
PEAK = 0.6
TRIM = 0.02                   # the builder's silence threshold (fraction of the peak)
SILENCE = 10 ** (-50 / 20)    # peak below -50 dBFS: nothing was recorded
SNR_DB = 20.0
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def read_wav(data, field: str = "audio") -> tuple[np.ndarray, int]:
    """WAV bytes -> (float64 mono signal in [-1, 1], sample rate). Duration checked from the header."""
    if not isinstance(data, (bytes, bytearray)):
        raise RawItemError(f"{field}: expected WAV bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise RawItemError(f"{field}: empty file")
    if len(data) > MAX_AUDIO_BYTES:
        raise RawItemError(f"{field}: {len(data)} bytes, the limit is {MAX_AUDIO_BYTES} bytes")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RawItemError(f"{field}: not a WAV file (RIFF/WAVE header missing); record or upload a .wav clip")
    fmt, pos, body = None, 12, None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        start = pos + 8
        if chunk == b"fmt ":
            if size < 16 or start + 16 > len(data):
                raise RawItemError(f"{field}: the WAV format chunk is truncated")
            fmt = struct.unpack("<HHIIHH", data[start : start + 16])
            if fmt[0] == _EXTENSIBLE:
                if size < 40 or start + 26 > len(data):
                    raise RawItemError(f"{field}: the WAV extensible format chunk is truncated")
                fmt = (struct.unpack("<H", data[start + 24 : start + 26])[0],) + fmt[1:]
        elif chunk == b"data":
            # streaming recorders write 0 or 0xFFFFFFFF when the length was unknown: take what is there
            body = (start, size if size not in (0, 0xFFFFFFFF) else len(data) - start)
            break
        pos = start + size + (size & 1)
    if fmt is None:
        raise RawItemError(f"{field}: the WAV file has no format chunk")
    if body is None:
        raise RawItemError(f"{field}: the WAV file has no data chunk")
    code, channels, rate, _byte_rate, align, bits = fmt
    if code not in (_PCM, _FLOAT):
        raise RawItemError(f"{field}: WAV encoding {code} is not supported; use PCM (8/16/24/32-bit) or 32/64-bit float")
    if not 1 <= channels <= 8:
        raise RawItemError(f"{field}: {channels} channels; mono or stereo (up to 8) is expected")
    if not 4000 <= rate <= 192000:
        raise RawItemError(f"{field}: sample rate {rate} Hz is not supported (4-192 kHz)")
    width = bits // 8
    if (code == _PCM and bits not in (8, 16, 24, 32)) or (code == _FLOAT and bits not in (32, 64)) or \
            align != width * channels:
        raise RawItemError(f"{field}: {bits}-bit {'float' if code == _FLOAT else 'PCM'} with block size {align} "
                           "is not a supported WAV layout")
    frames = body[1] // align
    seconds = frames / rate
    if seconds > MAX_AUDIO_SECONDS:
        raise RawItemError(f"{field}: the clip is {seconds:.1f} s long, the limit is {MAX_AUDIO_SECONDS:g} s; "
                           "record just the word")
    if seconds < MIN_AUDIO_SECONDS:
        raise RawItemError(f"{field}: the clip is {seconds * 1000:.0f} ms long; record at least "
                           f"{MIN_AUDIO_SECONDS * 1000:.0f} ms")
    if body[0] + frames * align > len(data):   # after the duration check: a 10-minute header is "too long"
        raise RawItemError(f"{field}: the WAV data chunk is truncated ({len(data) - body[0]} of {body[1]} bytes)")
    raw = data[body[0] : body[0] + frames * align]
    if code == _FLOAT:
        x = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float64)
        if not np.all(np.isfinite(x)):
            raise RawItemError(f"{field}: the clip has non-finite samples")
        x = np.clip(x, -1.0, 1.0)
    elif bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    else:
        x = np.frombuffer(raw, dtype="<i2" if bits == 16 else "<i4").astype(np.float64) / float(1 << (bits - 1))
    return x.reshape(frames, channels).mean(axis=1), int(rate)


def to_16k(x: np.ndarray, rate: int) -> np.ndarray:
    if rate == features.SAMPLE_RATE:
        return x
    from scipy.signal import resample_poly  # noqa: PLC0415

    g = int(np.gcd(rate, features.SAMPLE_RATE))
    return resample_poly(x, features.SAMPLE_RATE // g, rate // g)


def place(x: np.ndarray, field: str = "audio") -> np.ndarray:
    """16 kHz signal -> the 1 s clip the builder would make of it (see the module docstring)."""
    x = x - x.mean()   # a DC offset would count as sound
    peak = float(np.abs(x).max()) if len(x) else 0.0
    if peak < SILENCE:
        raise RawItemError(f"{field}: the clip is silent; check the microphone and say the word")
    nz = np.flatnonzero(np.abs(x) > TRIM * peak)
    x = x[nz[0] : nz[-1] + 1][:CLIP]
    clip = np.zeros(CLIP)
    off = (CLIP - len(x)) // 2
    word = x / peak * PEAK
    clip[off : off + len(x)] = word
    noise = np.random.default_rng(0).normal(size=CLIP)
    return np.clip(clip + noise * np.sqrt(np.mean(word**2) / 10 ** (SNR_DB / 10)), -1.0, 1.0)


class KeywordAudio:
    """The keyword task's featurizer: WAV -> 16 kHz -> placed 1 s clip -> 1024-d -> standardised."""

    def __init__(self, extractor: dict[str, np.ndarray]):
        kind = str(extractor.get("kind", ""))
        if kind != "audio_standardiser":
            raise DataError(f"extractor.npz: kind {kind!r} is not an audio standardiser (keyword-audio featurizer)")
        self.mean = _array(extractor, "mean", "keyword-audio").astype(np.float64)
        self.std = _array(extractor, "std", "keyword-audio").astype(np.float64)
        if self.mean.shape != (features.AUDIO_DIM,):
            raise DataError(f"extractor.npz: mean has shape {self.mean.shape}, expected ({features.AUDIO_DIM},)")
        self.dim = features.AUDIO_DIM

    def clip(self, raw: RawItem) -> np.ndarray:
        x, rate = read_wav(raw.data)
        return place(to_16k(x, rate))

    def __call__(self, raw: RawItem) -> np.ndarray:
        f = features.audio_features(self.clip(raw)).astype(np.float64)
        return ((f - self.mean) / self.std).astype(np.float32)
