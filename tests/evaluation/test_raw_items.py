"""Raw items (evaluation/raw_items): a created item is featurised like the pool's items, bad items are
refused with a sentence, and the live suite answers exactly as the pool's prediction matrix.

Reproduction against the stored features (the pool's display is all a participant or this test has):

* NLP: the gloss text is the item itself -> the stored embedding within float16 storage rounding.
* Image / OCR: the pool shows each item as a 2x-upscaled PNG of the exact pixels (image: inverted,
  dark on white). Shrunk back to the native size (28x28 / 32x32, box filter: exact) it reproduces the
  stored features within rounding. Sent as is (56x56 / 64x64) it goes through the drawing
  normalisation (crop to the ink, re-frame, and for OCR the builder's mean blur and noise), which is
  not the item's own random framing: the features only approximate the stored ones (thresholds below).
* Keyword: the pool plays 8 kHz previews of the 16 kHz clips (no energy above 4 kHz) with the clip's
  own noise; featurised, they approximate the stored features (thresholds below).
"""
from __future__ import annotations

import base64
import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from evaluation import DataError, SubmissionError
from evaluation.benchmarks import test_set as ts
from evaluation.live_suite import LiveSuite
from evaluation.raw_items import (MAX_AUDIO_SECONDS, MAX_IMAGE_BYTES, MAX_TEXT_CHARS, RawItem, RawItemError,
                                  load_featurizer, read_raw_meta)
from evaluation.raw_items import audio as raw_audio
from fixtures import test_set_synthetic as synth
from fixtures.builders import common, layouts

PREBUILT = Path(__file__).resolve().parents[2] / "fixtures" / "prebuilt"
BENCH = ts.TestSetCreation()
REFERENCE_SIZE = 600   # a smaller reference set: the suite trains in a second, the features are the task's


@pytest.fixture(scope="module")
def task_dirs(tmp_path_factory):
    out = {}
    for task in ("nlp", "ocr", "image", "keyword"):
        ds = common.load(PREBUILT / task)
        out[task] = tmp_path_factory.mktemp(f"raw-{task}") / "data"
        layouts.write_test_set(ds, out[task], reference_size=REFERENCE_SIZE)
    return out


@pytest.fixture(scope="module")
def loaded(task_dirs):
    """task -> (problem, featurizer, suite, pool prediction matrix)."""
    out = {}
    for task, d in task_dirs.items():
        problem = BENCH.load_problem(d, BENCH.config())
        out[task] = (problem, load_featurizer(d), LiveSuite.from_config(problem, BENCH.config()),
                     ts.model_suite_predictions(problem))
    return out


def png_bytes(a: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(a, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def shrink(png: bytes, side: int) -> bytes:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L").resize((side, side), Image.BOX)
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def wav_bytes(x: np.ndarray, rate: int = 16000, bits: int = 16, channels: int = 1, float_: bool = False,
              declared_frames: int | None = None) -> bytes:
    x = np.asarray(x, dtype=np.float64)
    frames = np.repeat(x[:, None], channels, axis=1).reshape(-1)
    if float_:
        body = frames.astype("<f4" if bits == 32 else "<f8").tobytes()
        code = 3
    elif bits == 8:
        body = np.clip(np.round(frames * 127 + 128), 0, 255).astype(np.uint8).tobytes()
        code = 1
    elif bits == 24:
        v = np.clip(np.round(frames * (2**23 - 1)), -(2**23), 2**23 - 1).astype(np.int32)
        body = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=1).astype(np.uint8).tobytes()
        code = 1
    else:
        dtype = "<i2" if bits == 16 else "<i4"
        body = np.clip(np.round(frames * (2 ** (bits - 1) - 1)), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(dtype).tobytes()
        code = 1
    align = bits // 8 * channels
    size = len(body) if declared_frames is None else declared_frames * align
    fmt = struct.pack("<HHIIHH", code, channels, rate, rate * align, align, bits)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(body)) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt))
            + fmt + b"data" + struct.pack("<I", size) + body)


def cosine(a, b) -> float:
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def raw_of(kind: str, display: str) -> RawItem:
    if kind == "text":
        return RawItem.of_text(display)
    data = base64.b64decode(display)
    return RawItem.of_image(data) if kind == "image" else RawItem.of_audio(data)


# --- layout ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("task,featurizer,kind", [("nlp", "minilm-text", "text"), ("ocr", "roman-numeral", "image"),
                                                   ("image", "fashion-image", "image"),
                                                   ("keyword", "keyword-audio", "audio")])
def test_layout_declares_the_raw_kind_and_ships_the_extractor_as_public_data(task_dirs, tmp_path, task, featurizer, kind):
    d = task_dirs[task]
    assert json.loads((d / "meta.json").read_text())["raw"] == {"kind": kind, "featurizer": featurizer,
                                                                "extractor": "extractor.npz"}
    assert not BENCH.is_hidden("extractor.npz") and not BENCH.is_hidden("meta.json")
    # the public files alone featurise (what a participant downloads)
    public = tmp_path / "public"
    for path in d.rglob("*"):
        rel = path.relative_to(d)
        if path.is_file() and not BENCH.is_hidden(str(rel)):
            (public / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, public / rel)
    f = load_featurizer(public)
    assert (f.name, f.raw_kind, f.dim) == (featurizer, kind, BENCH.load_problem(d, BENCH.config()).dim)


def test_a_data_dir_without_raw_entry_takes_no_raw_items_and_a_broken_entry_is_a_data_error(tmp_path):
    d = tmp_path / "synthetic"
    synth.write_test_set_data(d, pool_size=40, seed=1)
    assert read_raw_meta(d) is None and load_featurizer(d) is None
    meta = json.loads((d / "meta.json").read_text())
    for raw, message in [({"kind": "video", "featurizer": "x"}, "raw"),
                         ({"kind": "text", "featurizer": "minilm-text", "extractor": "../../etc/passwd"}, "file name"),
                         ({"kind": "text", "featurizer": "minilm-text"}, "extractor.npz"),
                         ({"kind": "image", "featurizer": "no-such"}, None)]:
        (d / "meta.json").write_text(json.dumps({**meta, "raw": raw}))
        with pytest.raises(DataError, match=message):
            load_featurizer(d)


# --- reproduction of the stored features ------------------------------------------------------------

def test_text_reproduces_the_stored_nlp_embeddings(loaded):
    problem, f, _, _ = loaded["nlp"]
    for item_id, text in list(zip(problem.ids, problem.display))[:25]:
        x, stored = f(RawItem.of_text(text)), problem.X[problem.index[item_id]]
        # float16 storage: one rounding step is 2**-10 relative (values up to ~6 here)
        assert np.allclose(x, stored, rtol=2**-9, atol=2e-3), item_id
        assert cosine(x, stored) > 0.99999


@pytest.mark.parametrize("task,side", [("ocr", 32), ("image", 28)])
def test_a_pool_image_at_native_size_reproduces_its_stored_features(loaded, task, side):
    problem, f, _, _ = loaded[task]
    for item_id, display in list(zip(problem.ids, problem.display))[:25]:
        x = f(RawItem.of_image(shrink(base64.b64decode(display), side)))
        assert np.allclose(x, problem.X[problem.index[item_id]], rtol=2**-9, atol=4e-3), item_id


# Measured on the first 120 pool items with a 600-item reference sample (median cosine to the stored
# vector; share of items whose suite majority equals the pool's): image 0.94 / 0.93, OCR 0.54 / 0.79,
# keyword 0.72 / 0.89. The thresholds leave a margin (60 items here).
APPROXIMATE = {"image": (0.85, 0.8), "ocr": (0.4, 0.65), "keyword": (0.6, 0.75)}


@pytest.mark.parametrize("task", sorted(APPROXIMATE))
def test_the_pool_display_through_the_normalisation_approximates_the_stored_features(loaded, task):
    problem, f, suite, pool = loaded[task]
    cos, agree = [], []
    for item_id, display in list(zip(problem.ids, problem.display))[:60]:
        x = f(raw_of(f.raw_kind, display))
        cos.append(cosine(x, problem.X[problem.index[item_id]]))
        agree.append(suite.predict(x).majority == pool.majority(item_id))
    min_cos, min_agree = APPROXIMATE[task]
    assert np.median(cos) >= min_cos, np.median(cos)
    assert np.mean(agree) >= min_agree, np.mean(agree)


def test_the_same_clip_in_every_wav_encoding_gives_nearly_the_same_features(loaded):
    problem, f, _, _ = loaded["keyword"]
    x, rate = raw_audio.read_wav(base64.b64decode(problem.display[0]))
    x16 = raw_audio.to_16k(x, rate)
    from scipy.signal import resample_poly

    x44 = resample_poly(x16, 441, 160)
    base = f(RawItem.of_audio(wav_bytes(x16)))
    for variant in [wav_bytes(x16, bits=32), wav_bytes(x16, bits=24), wav_bytes(x16, bits=32, float_=True),
                    wav_bytes(x16, bits=64, float_=True), wav_bytes(x16, channels=2), wav_bytes(x44, rate=44100),
                    wav_bytes(x44, rate=44100, bits=32, float_=True, channels=2)]:
        assert cosine(f(RawItem.of_audio(variant)), base) > 0.98
    # 8-bit keeps the word but adds its own quantisation noise
    assert cosine(f(RawItem.of_audio(wav_bytes(x16, bits=8))), base) > 0.8
    # the same item twice: the same features (the added noise is seeded)
    assert np.array_equal(f(RawItem.of_audio(wav_bytes(x16))), base)


def test_a_drawing_is_normalised_whatever_its_size_polarity_or_transparency(loaded):
    problem, f, _, _ = loaded["ocr"]
    from evaluation.raw_items.images import decode_gray, normalize_numeral

    canvas = np.full((280, 280), 255, dtype=np.uint8)
    canvas[60:220, 100:125] = 0   # "i": one vertical stroke
    canvas[60:220, 160:185] = 0   # "ii"
    a = normalize_numeral(decode_gray(png_bytes(canvas)))
    # light strokes on black, and black strokes on a transparent canvas (a browser's default)
    b = normalize_numeral(decode_gray(png_bytes(255 - canvas)))
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[..., 3] = 255 - canvas
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    c = normalize_numeral(decode_gray(buffer.getvalue()))
    assert a.shape == (32, 32) and np.array_equal(a, b) and np.array_equal(a, c)
    # centred: the ink's centre of mass is in the middle
    ink = 255.0 - a
    ys, xs = np.indices(a.shape)
    assert abs((ink * ys).sum() / ink.sum() - 15.5) < 2 and abs((ink * xs).sum() / ink.sum() - 15.5) < 2
    # the same drawing twice as large: nearly the same item
    big = np.kron(canvas, np.ones((2, 2), dtype=np.uint8))
    assert cosine(f(RawItem.of_image(png_bytes(big))), f(RawItem.of_image(png_bytes(canvas)))) > 0.95


# --- refusals -------------------------------------------------------------------------------------

def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (a decompression bomb would look like this)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat)))


def test_bad_text_is_refused_with_a_sentence(loaded):
    f = loaded["nlp"][1]
    for value, message in [(5, "text: expected a string, got int"), (None, "expected a string"),
                           ("", "text: empty"), ("  \n\t \x00 ", "empty"),
                           ("a" * (MAX_TEXT_CHARS + 1), f"{MAX_TEXT_CHARS + 1} characters, the limit is {MAX_TEXT_CHARS}")]:
        with pytest.raises(RawItemError, match=message):
            f(RawItem.of_text(value))
    with pytest.raises(RawItemError, match="takes text items, not image"):
        f(RawItem.of_image(png_bytes(np.zeros((8, 8)))))
    assert issubclass(RawItemError, SubmissionError)


def test_bad_images_are_refused_with_a_sentence(loaded):
    from PIL import Image

    f = loaded["ocr"][1]
    gif = io.BytesIO()
    Image.new("L", (20, 20)).save(gif, "GIF")
    cases = [
        (b"", "image: empty file"),
        (b"not an image at all", "not a PNG or JPEG image"),
        (gif.getvalue(), "not a PNG or JPEG image"),
        (png_bytes(np.random.default_rng(0).integers(0, 256, (40, 40)))[:800], "cannot be decoded"),
        (png_header_only(100_000, 100_000), "100000x100000 pixels, the limit is 2048"),
        (png_header_only(4000, 10), "4000x10 pixels"),
        (b"\x89PNG" + b"\x00" * (MAX_IMAGE_BYTES + 1), f"the limit is {MAX_IMAGE_BYTES} bytes"),
        (png_bytes(np.full((280, 280), 255)), "the canvas is blank"),
        (png_bytes(np.full((280, 280), 250) - np.eye(280, dtype=int) * 5), "the canvas is blank"),
    ]
    transparent = io.BytesIO()
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(transparent, "PNG")
    cases.append((transparent.getvalue(), "blank"))
    for data, message in cases:
        with pytest.raises(RawItemError, match=message):
            f(RawItem.of_image(data))
    with pytest.raises(RawItemError, match="expected PNG or JPEG bytes, got str"):
        f(RawItem("image", data="iVBOR..."))
    with pytest.raises(RawItemError, match="picture is blank"):
        loaded["image"][1](RawItem.of_image(png_bytes(np.zeros((100, 100)))))


def test_jpeg_and_colour_pictures_are_accepted(loaded):
    from PIL import Image

    f = loaded["image"][1]
    rgb = np.zeros((120, 90, 3), dtype=np.uint8) + 255
    rgb[20:100, 25:65] = (200, 30, 30)   # a red "dress" on white
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    x = f(RawItem.of_image(buffer.getvalue()))
    assert x.shape == (256,) and np.isfinite(x).all()


def test_bad_audio_is_refused_with_a_sentence(loaded):
    f = loaded["keyword"][1]
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    ten_minutes = wav_bytes(tone[:1600], declared_frames=16000 * 600)
    assert len(ten_minutes) < 5000   # refused from the header, not by its size
    good = wav_bytes(tone)
    cases = [
        (b"", "audio: empty file"),
        (b"ID3\x03 an mp3", "not a WAV file"),
        (good[:12], "no format chunk"),
        (good[:36] + b"LIST" + struct.pack("<I", 4) + b"INFO", "no data chunk"),
        (good.replace(struct.pack("<HH", 1, 1), struct.pack("<HH", 2, 1), 1), "encoding 2 is not supported"),
        (good.replace(struct.pack("<HH", 1, 1), struct.pack("<HH", 1, 0), 1), "0 channels"),
        (wav_bytes(np.zeros(16000)), "the clip is silent"),
        (wav_bytes(np.full(16000, 0.3)), "silent"),                       # DC only
        (wav_bytes(1e-4 * tone), "silent"),
        (ten_minutes, f"600.0 s long, the limit is {MAX_AUDIO_SECONDS:g} s"),
        (wav_bytes(np.tile(tone, 6)), "6.0 s long"),
        (wav_bytes(tone[:400]), "25 ms long"),
        (wav_bytes(tone, declared_frames=20000), "truncated"),
        (wav_bytes(tone, rate=1000), "sample rate 1000 Hz"),
        (b"RIFF" + b"\x00" * (4 * 2**20), "the limit is"),
        (wav_bytes(np.full(16000, np.nan), bits=32, float_=True), "non-finite"),
    ]
    for data, message in cases:
        with pytest.raises(RawItemError, match=message):
            f(RawItem.of_audio(data))
    with pytest.raises(RawItemError, match="takes audio items, not text"):
        f(RawItem.of_text("fifty"))


# --- the live suite -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ratchet_problem(tmp_path_factory):
    d = tmp_path_factory.mktemp("live") / "data"
    synth.write_test_set_data(d, pool_size=200, seed=3)
    problem = BENCH.load_problem(d, BENCH.config())
    rng = np.random.default_rng(0)
    problem.ratchet = [
        ts.TrainingSetData("team-a", problem.reference_X[:120] + 0.1, problem.reference_y[:120]),
        ts.TrainingSetData("one-class", problem.reference_X[:30], np.full(30, 2)),
        ts.TrainingSetData("noisy", problem.reference_X[:3], rng.integers(0, 2, 3)),
    ]
    return problem


def test_live_suite_predicts_the_pool_exactly_as_the_prediction_matrix(ratchet_problem):
    problem = ratchet_problem
    expected = ts.model_suite_predictions(problem, problem.ratchet)
    suite = LiveSuite.from_config(problem, BENCH.config())
    assert suite.members == expected.members and len(suite.members) == 12
    assert np.array_equal(suite.predict_matrix(problem.X), expected.matrix)
    # cached as bytes and back: the same answers
    again = LiveSuite.from_bytes(suite.to_bytes())
    assert np.array_equal(again.predict_matrix(problem.X), expected.matrix)
    assert LiveSuite.from_bytes(b"garbage") is None
    # one item at a time: majority and fooling as SuitePredictions says
    for item_id in problem.ids[:40]:
        row = problem.X[problem.index[item_id]]
        for label in problem.class_names:
            answer = suite.predict(row, label=label)
            assert [p.label for p in answer.predictions] == list(expected.of(item_id).values())
            assert answer.majority == expected.majority(item_id)
            assert answer.fooled == expected.fools(item_id, label)
            assert answer.wrong_votes == expected.wrong_votes(item_id, label)
        assert all(0.0 < p.confidence <= 1.0 for p in answer.predictions)
        one_class = [p for p in answer.predictions if p.model.endswith("@one-class")]
        assert [(p.label, p.confidence) for p in one_class] == [(problem.class_names[2], 1.0)] * 3
    body = answer.as_dict()
    assert set(body) == {"predictions", "majority", "features_dim", "label", "fooled", "wrong_votes"}
    assert body["features_dim"] == problem.dim and "features" not in body
    assert set(suite.predict(row).as_dict()) == {"predictions", "majority", "features_dim"}


def test_live_suite_refuses_unknown_labels_and_wrong_shapes(ratchet_problem):
    suite = LiveSuite.fit(ratchet_problem, [])
    with pytest.raises(SubmissionError, match="unknown label 'cat'"):
        suite.predict(ratchet_problem.X[0], label="cat")
    with pytest.raises(DataError, match="features have shape"):
        suite.predict(np.zeros(ratchet_problem.dim + 1))
    with pytest.raises(DataError, match="one feature vector"):
        suite.predict(ratchet_problem.X[:2])


def test_live_suite_confidence_is_the_members_probability(loaded):
    problem, f, suite, _ = loaded["nlp"]
    x = f(RawItem.of_text("sparrow: a small brown bird that sings"))
    answer = suite.predict(x, label="noun.animal")
    for member, model in zip(answer.predictions, suite.models):
        proba = model.predict_proba(x[None].astype(np.float64))[0]
        assert member.confidence == pytest.approx(proba.max())
    assert answer.majority == "noun.animal" and answer.fooled is False


def test_the_offline_command_answers_for_a_created_item(task_dirs, tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]

    def run(*args):
        return subprocess.run([sys.executable, "-m", "evaluation", "predict", *args], cwd=root, capture_output=True,
                              text=True, timeout=600)

    canvas = np.full((200, 200), 255, dtype=np.uint8)
    canvas[40:160, 90:110] = 0
    (tmp_path / "i.png").write_bytes(png_bytes(canvas))
    ok = run("--data", str(task_dirs["ocr"]), "--file", str(tmp_path / "i.png"), "--label", "i", "--json")
    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout)
    assert len(body["predictions"]) == 3 and body["features_dim"] == 256 and isinstance(body["fooled"], bool)
    for args, message in [(("--data", str(task_dirs["ocr"]), "--text", "iii"), "takes image items, not text"),
                          (("--data", str(task_dirs["nlp"]), "--file", str(tmp_path / "i.png")), "--file: this benchmark takes text"),
                          (("--data", str(task_dirs["ocr"]), "--file", str(tmp_path / "missing.png")), "does not exist"),
                          (("--data", str(tmp_path), "--text", "x"), "meta.json"),
                          (("--data", str(task_dirs["nlp"]), "--text", "a bird", "--label", "bird"), "unknown label")]:
        bad = run(*args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
