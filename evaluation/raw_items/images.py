"""Drawn or uploaded pictures (OCR and image tasks): bounded decoding, normalisation to the task's
item format, then the task's patch-PCA extractor (``features.image_extractor_transform``).

Decoding (:func:`decode_gray`): PNG or JPEG only, at most ``MAX_IMAGE_BYTES``; the dimensions are read
from the header and refused above ``MAX_IMAGE_SIDE`` / ``MAX_IMAGE_PIXELS`` *before* any pixel is
decoded. Transparency is composited on white (a browser canvas is transparent where nothing was
drawn), colour is converted to luminance (ITU-R 601, Pillow's ``L``).

Normalisation (why: the extractor only knows the items' framing, scale and polarity):

* An image of the task's native size (OCR 32x32, image 28x28) is taken as already normalised,
  like a pool item (only grayscale and polarity apply): a participant can reproduce a pool item exactly.
* OCR (:class:`RomanNumeralImage`), the inverse of ``fixtures/builders/ocr.py render``: dark ink on
  light paper (inverted if the background is dark); the ink's bounding box (pixels darker than the
  midpoint of paper and ink) is framed by a square of side 1.38 x its longer side (the builder draws
  1.1-1.5 x + 4 px, 1.38 on average for its glyph sizes), centred on the box, padded with paper,
  resized to 32x32 (Lanczos, box filter when shrinking), blurred with radius 0.55 px (the builder's
  mean) and mapped to ink 45 / paper 222 (the builder's mean levels). No pixel noise is added.
* Image (:class:`FashionImage`), as Fashion-MNIST's own processing (Xiao et al. 2017: trim, resize
  the longest edge to 28, centre): light object on a dark background (an image whose border is
  light - a drawing, a product photo on white - is inverted), background subtracted and the object
  stretched to 0..255, the object's bounding box (pixels above 4 % of the range) resized so its longer
  side is 28 px and centred on a 28x28 black canvas.

Refused with a sentence: not PNG/JPEG, corrupt, too large (bytes, side, pixels), blank (no contrast
or no ink).
"""
from __future__ import annotations

import io
import warnings

import numpy as np

from . import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, RawItem, RawItemError
from . import features
from ..base import DataError

MIN_CONTRAST = 24      # grey levels between background and ink below which an image is blank
OCR_SIZE, OCR_INK, OCR_PAPER, OCR_BLUR, OCR_FRAME, OCR_NOISE = 32, 45.0, 222.0, 0.55, 1.38, 10.0
FASHION_SIZE, FASHION_THRESHOLD = 28, 0.04


def decode_gray(data, field: str = "image") -> np.ndarray:
    """PNG/JPEG bytes -> uint8 (h, w) luminance, transparency on white. Bounded before decoding."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    if not isinstance(data, (bytes, bytearray)):
        raise RawItemError(f"{field}: expected PNG or JPEG bytes, got {type(data).__name__}")
    if not data:
        raise RawItemError(f"{field}: empty file")
    if len(data) > MAX_IMAGE_BYTES:
        raise RawItemError(f"{field}: {len(data)} bytes, the limit is {MAX_IMAGE_BYTES} bytes")
    if bytes(data[:8]) == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and bytes(data[12:16]) == b"IHDR":
        _check_size(int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"), field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(bytes(data)), formats=["PNG", "JPEG"])  # reads the header only
            _check_size(*img.size, field)
            if getattr(img, "n_frames", 1) > 1:
                raise RawItemError(f"{field}: animated images are not accepted; send one PNG frame")
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(paper, rgba)
            elif img.mode in ("I", "I;16", "I;16B", "F"):
                a = np.asarray(img, dtype=np.float64)
                span = a.max() - a.min()
                a = (a - a.min()) / span * 255 if span > 0 else np.zeros_like(a)
                return np.round(a).astype(np.uint8)
            return np.asarray(img.convert("L"), dtype=np.uint8).copy()
    except RawItemError:
        raise
    except UnidentifiedImageError:
        raise RawItemError(f"{field}: not a PNG or JPEG image") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise RawItemError(f"{field}: the image is too large to decode") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise RawItemError(f"{field}: the image cannot be decoded ({str(error)[:120]})") from None


def _check_size(w: int, h: int, field: str) -> None:
    if w < 1 or h < 1:
        raise RawItemError(f"{field}: the image has no pixels ({w}x{h})")
    if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE or w * h > MAX_IMAGE_PIXELS:
        raise RawItemError(f"{field}: {w}x{h} pixels, the limit is {MAX_IMAGE_SIDE} pixels a side and "
                           f"{MAX_IMAGE_PIXELS} pixels in all")


def _background(a: np.ndarray) -> float:
    """The background level: the median of the image's one-pixel border."""
    border = np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]]) if min(a.shape) > 1 else a.reshape(-1)
    return float(np.median(border))


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float/uint8 (h, w) -> float (size[1], size[0]); box filter when shrinking (exact for integer
    factors, so an upscaled preview comes back), Lanczos when growing."""
    from PIL import Image  # noqa: PLC0415

    img = Image.fromarray(np.ascontiguousarray(np.clip(a, 0, 255), dtype=np.float32))  # mode F
    shrink = size[0] <= a.shape[1] and size[1] <= a.shape[0]
    return np.asarray(img.resize(size, resample=Image.BOX if shrink else Image.LANCZOS), dtype=np.float64)


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    from PIL import Image, ImageFilter  # noqa: PLC0415

    img = Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8))
    return np.asarray(img.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float64)


def normalize_numeral(gray: np.ndarray, field: str = "image") -> np.ndarray:
    """A drawn Roman numeral -> uint8 (32, 32) like the OCR task's items (dark ink on light paper)."""
    a = gray.astype(np.float64)
    if _background(a) < 128:   # light strokes on a dark canvas
        a = 255.0 - a
    paper = float(np.percentile(a, 90))
    ink = float(a.min())
    if paper - ink < MIN_CONTRAST:
        raise RawItemError(f"{field}: the canvas is blank; draw a numeral in a dark colour")
    if a.shape == (OCR_SIZE, OCR_SIZE):
        return np.round(a).astype(np.uint8)
    ys, xs = np.nonzero(a < (paper + ink) / 2)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(int(round(OCR_FRAME * max(x1 - x0, y1 - y0))), 8)
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    top, left = int(round(cy - side / 2)), int(round(cx - side / 2))
    # paste into a square of paper (the frame may reach past the canvas)
    frame = np.full((side, side), paper)
    sy0, sx0 = max(top, 0), max(left, 0)
    sy1, sx1 = min(top + side, a.shape[0]), min(left + side, a.shape[1])
    frame[sy0 - top : sy1 - top, sx0 - left : sx1 - left] = a[sy0:sy1, sx0:sx1]
    frame = (frame - ink) / (paper - ink) * 255.0   # ink 0, paper 255 before the builder's levels
    x = _blur(_resize(frame, (OCR_SIZE, OCR_SIZE)), OCR_BLUR) / 255.0
    x = OCR_INK + (OCR_PAPER - OCR_INK) * x
    x = x + np.random.default_rng(0).normal(0.0, OCR_NOISE, x.shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def normalize_fashion(gray: np.ndarray, field: str = "image") -> np.ndarray:
    """A picture -> uint8 (28, 28) like Fashion-MNIST: light object, black background, centred."""
    a = gray.astype(np.float64)
    if _background(a) >= 128:   # dark-on-light drawing or photo on white
        a = 255.0 - a
    bg = _background(a)
    a = np.maximum(a - bg, 0.0)
    top = float(a.max())
    if top < MIN_CONTRAST:
        raise RawItemError(f"{field}: the picture is blank (no object stands out from the background)")
    a = a / top * 255.0
    if a.shape == (FASHION_SIZE, FASHION_SIZE):
        return np.round(a).astype(np.uint8)
    ys, xs = np.nonzero(a > FASHION_THRESHOLD * 255.0)
    crop = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = FASHION_SIZE / max(h, w)
    nh, nw = max(1, min(FASHION_SIZE, int(round(h * scale)))), max(1, min(FASHION_SIZE, int(round(w * scale))))
    small = _resize(crop, (nw, nh))
    out = np.zeros((FASHION_SIZE, FASHION_SIZE))
    oy, ox = (FASHION_SIZE - nh) // 2, (FASHION_SIZE - nw) // 2
    out[oy : oy + nh, ox : ox + nw] = small
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


class _PatchPCAImage:
    normalize = staticmethod(normalize_fashion)
    name = ""

    def __init__(self, extractor: dict[str, np.ndarray]):
        kind = str(extractor.get("kind", ""))
        if kind != "patch_pca_v1":
            raise DataError(f"extractor.npz: kind {kind!r} is not a patch-PCA image extractor ({self.name} featurizer)")
        for key in ("patch", "grid", "filters", "patch_mean", "feat_mean", "feat_std", "pca_mean", "pca_components",
                    "pca_scale"):
            if key not in extractor:
                raise DataError(f"extractor.npz has no array {key!r} (needed by the {self.name} featurizer)")
        self.extractor = extractor
        self.dim = int(extractor["pca_components"].shape[1])

    def pixels(self, raw: RawItem) -> np.ndarray:
        """The normalised item image (uint8), as the extractor sees it."""
        return type(self).normalize(decode_gray(raw.data))

    def __call__(self, raw: RawItem) -> np.ndarray:
        return features.image_extractor_transform(self.pixels(raw)[None], self.extractor)[0]


class RomanNumeralImage(_PatchPCAImage):
    name = "roman-numeral"
    normalize = staticmethod(normalize_numeral)


class FashionImage(_PatchPCAImage):
    name = "fashion-image"
    normalize = staticmethod(normalize_fashion)
