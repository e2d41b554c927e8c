"""POST /api/challenges/<c>/benchmarks/<b>/predict/: the suite's live answer for a created item, on the four
real tasks (prebuilt data, a 300-item reference sample so the suite trains in a second). Who may call it,
every bad input as a 4xx sentence, the rate limit, the schema, and the service's caches."""
from __future__ import annotations

import base64
import io
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from backend.challenges.models import Challenge
from backend.verification import live, services
from evaluation.benchmarks import test_set as ts
from evaluation.live_suite import LiveSuite
from evaluation.raw_items import MAX_TEXT_CHARS, RawItem
from fixtures.builders import common, layouts
from tests.conftest import add_benchmark, make_challenge

pytestmark = pytest.mark.django_db
PREBUILT = Path(__file__).resolve().parents[2] / "fixtures" / "prebuilt"
TASKS = ("nlp", "ocr", "image", "keyword")


@pytest.fixture(scope="session")
def real_dirs(tmp_path_factory):
    out = {}
    for task in TASKS:
        out[task] = tmp_path_factory.mktemp(f"predict-{task}") / "data"
        layouts.write_test_set(common.load(PREBUILT / task), out[task], reference_size=300)
    return out


@pytest.fixture
def created(users, real_dirs, test_set_data_dir):
    challenge = make_challenge(users["organizer"], slug="create")
    for task in TASKS:
        add_benchmark(challenge, "test-set", real_dirs[task], slug=task)
    add_benchmark(challenge, "test-set", test_set_data_dir, slug="pool-only")   # no raw kind declared
    draft = make_challenge(users["organizer"], slug="secret", status=Challenge.Status.DRAFT)
    secret = add_benchmark(draft, "test-set", real_dirs["nlp"], slug="nlp")
    for benchmark in [*(challenge.benchmarks.get(slug=task) for task in TASKS), secret]:
        live.warm_live_suite(benchmark)   # the worker's suite job does this when the data is attached
    return challenge


def url(benchmark: str, challenge: str = "create") -> str:
    return f"/api/challenges/{challenge}/benchmarks/{benchmark}/predict/"


def client(user=None) -> APIClient:
    c = APIClient()
    if user is not None:
        c.force_authenticate(user)
    return c


def png(a) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(a, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def numeral_canvas() -> np.ndarray:
    canvas = np.full((200, 200), 255, dtype=np.uint8)
    for x in (60, 95, 130):   # "iii"
        canvas[40:160, x : x + 12] = 0
    return canvas


def wav(x, rate=16000, declared_frames=None) -> bytes:
    body = np.clip(np.round(np.asarray(x) * 32767), -32768, 32767).astype("<i2").tobytes()
    size = len(body) if declared_frames is None else declared_frames * 2
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + \
        struct.pack("<I", size) + body


def pool_wav(real_dirs) -> bytes:
    problem = ts.TestSetCreation().load_problem(real_dirs["keyword"], ts.TestSetCreation().config())
    return base64.b64decode(problem.display[0])


def data_url(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def check_answer(body: dict, dim: int, classes_hint: str | None = None):
    assert [p["model"] for p in body["predictions"]] == ["logreg", "knn", "random_forest"]
    assert all(0 < p["confidence"] <= 1 for p in body["predictions"])
    assert body["majority"] in [p["label"] for p in body["predictions"]]
    assert body["features_dim"] == dim
    if classes_hint is not None:
        assert body["label"] == classes_hint
        assert body["fooled"] == (2 * body["wrong_votes"] > 3)
        assert body["wrong_votes"] == sum(p["label"] != classes_hint for p in body["predictions"])


# --- each task, each way of sending -----------------------------------------------------------------

def test_text_item_gets_every_members_answer(created, users):
    response = client(users["alice"]).post(url("nlp"), {"text": "sparrow: a small brown bird that sings in gardens",
                                                        "label": "noun.animal"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    check_answer(body, 384, "noun.animal")
    assert body["majority"] == "noun.animal" and body["fooled"] is False
    # a gloss of the other class fools the suite when the claim is animal
    other = client(users["alice"]).post(url("nlp"), {"text": "hammer: a hand tool with a heavy metal head",
                                                     "label": "noun.animal"}, format="json").json()
    assert other["majority"] == "noun.artifact" and other["fooled"] is True


def test_drawn_numeral_as_data_url_and_as_multipart_file(created, users):
    data = png(numeral_canvas())
    a = client(users["alice"]).post(url("ocr"), {"image": data_url("image/png", data), "label": "iii"}, format="json")
    assert a.status_code == 200, a.json()
    check_answer(a.json(), 256, "iii")
    b = client(users["alice"]).post(url("ocr"), {"file": io.BytesIO(data), "label": "iii"}, format="multipart")
    assert b.status_code == 200, b.json()
    assert a.json() == b.json()
    plain = client(users["alice"]).post(url("ocr"), {"image": base64.b64encode(data).decode()}, format="json")
    assert plain.json()["predictions"] == a.json()["predictions"] and "fooled" not in plain.json()


def test_picture_and_clip(created, users, real_dirs):
    picture = np.full((90, 90), 255, dtype=np.uint8)
    picture[10:80, 30:60] = 40   # a dark "trouser" shape on white
    r = client(users["alice"]).post(url("image"), {"image": data_url("image/png", png(picture))}, format="json")
    assert r.status_code == 200, r.json()
    check_answer(r.json(), 256)
    clip = pool_wav(real_dirs)
    r = client(users["alice"]).post(url("keyword"), {"audio": data_url("audio/wav", clip), "label": "fifty"},
                                    format="json")
    assert r.status_code == 200, r.json()
    check_answer(r.json(), 1024, "fifty")
    m = client(users["alice"]).post(url("keyword"), {"file": io.BytesIO(clip), "label": "fifty"}, format="multipart")
    assert m.json() == r.json()


# --- who may call it ---------------------------------------------------------------------------------

def test_anonymous_callers_are_refused(created):
    response = client().post(url("nlp"), {"text": "a bird"}, format="json")
    assert response.status_code in (401, 403)


def test_hidden_unknown_and_pool_only_benchmarks_are_404(created, users):
    alice = client(users["alice"])
    assert alice.post(url("nlp", "secret"), {"text": "a bird"}, format="json").status_code == 404
    assert alice.post(url("nope"), {"text": "a bird"}, format="json").status_code == 404
    pool_only = alice.post(url("pool-only"), {"text": "a bird"}, format="json")
    assert pool_only.status_code == 404 and "does not take created items" in pool_only.json()["detail"]
    # the organizer sees the draft challenge and may try items there
    assert client(users["organizer"]).post(url("nlp", "secret"), {"text": "a bird"}, format="json").status_code == 200


# --- bad input: a 4xx sentence each -------------------------------------------------------------------

def test_every_bad_input_is_a_sentence(created, users, real_dirs):
    alice = client(users["alice"])
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 300 * t)
    cases = [
        ("nlp", {"text": 5}, "json", "text: expected a string, got int"),
        ("nlp", {"text": "   "}, "json", "text: empty"),
        ("nlp", {"text": "x" * (MAX_TEXT_CHARS + 1)}, "json", f"the limit is {MAX_TEXT_CHARS}"),
        ("nlp", {}, "json", 'this benchmark takes text items: send "text"'),
        ("nlp", {"text": "a", "image": "b"}, "json", "not text and image"),
        ("nlp", {"image": data_url("image/png", png(numeral_canvas()))}, "json", "takes text items"),
        ("nlp", {"text": "a bird", "label": "noun.dragon"}, "json", "label: unknown label 'noun.dragon'"),
        ("nlp", {"text": "a bird", "label": 3}, "json", "label: expected a class name"),
        ("nlp", ["text"], "json", "expected a JSON object"),
        ("ocr", {"text": "iii"}, "json", "takes image items, not text"),
        ("ocr", {"audio": "UklGRg=="}, "json", "takes image items, not audio"),
        ("ocr", {"image": "not base64!"}, "json", "image: not valid base64"),
        ("ocr", {"image": 12}, "json", "image: expected a base64 string"),
        ("ocr", {"image": data_url("image/png", b"GIF89a....")}, "json", "not a PNG or JPEG image"),
        ("ocr", {"image": data_url("image/png", png(np.full((300, 300), 255)))}, "json", "the canvas is blank"),
        ("ocr", {"image": data_url("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 50000, 50000)
                                   + b"\x08\x00\x00\x00\x00" + b"\x00" * 20)}, "json", "50000x50000 pixels"),
        ("ocr", {"image": "A" * (4 * 2**20 + 100)}, "json", "larger than the limit"),
        ("ocr", {"file": "plain text"}, "multipart", "expected an uploaded file"),
        ("ocr", {"file": io.BytesIO(b"\x89PNG" + b"\x00" * (3 * 2**20 + 10))}, "multipart", "the limit is"),
        ("keyword", {"audio": data_url("audio/wav", wav(np.zeros(16000)))}, "json", "audio: the clip is silent"),
        ("keyword", {"audio": data_url("audio/wav", wav(tone[:1000], declared_frames=16000 * 600))}, "json",
         "600.0 s long"),
        ("keyword", {"file": io.BytesIO(wav(np.tile(tone, 8)))}, "multipart", "8.0 s long"),
        ("keyword", {"audio": data_url("audio/wav", b"OggS not a wav")}, "json", "not a WAV file"),
        ("keyword", {"audio": data_url("audio/wav", wav(tone)[:30])}, "json", "truncated"),
        ("keyword", {"file": io.BytesIO(png(numeral_canvas()))}, "multipart", "not a WAV file"),
    ]
    for slug, body, fmt, message in cases:
        response = alice.post(url(slug), body, format=fmt)
        assert 400 <= response.status_code < 500, (slug, message, response.status_code)
        detail = response.json()["detail"]
        assert message.lower() in detail.lower(), (message, detail)
    # a body that is not JSON, and a content type the endpoint does not read
    broken = alice.post(url("nlp"), "{not json", content_type="application/json")
    assert broken.status_code == 400 and "cannot be read" in broken.json()["detail"]
    xml = alice.post(url("nlp"), "<text/>", content_type="application/xml")
    assert xml.status_code == 415 and "Send JSON" in xml.json()["detail"]


def test_a_huge_body_is_refused_before_it_is_read(created, users):
    response = client(users["alice"]).post(url("ocr"), b"x" * (5 * 2**20 + 1), content_type="application/json")
    assert response.status_code == 413 and "larger than" in response.json()["detail"]


def test_the_rate_limit_answers_429_with_retry_after(created, users):
    cache.clear()
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "predict": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        alice = client(users["alice"])
        assert [alice.post(url("nlp"), {"text": "a bird"}, format="json").status_code for _ in range(2)] == [200, 200]
        limited = alice.post(url("nlp"), {"text": "a bird"}, format="json")
        assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
        # per account: bob still gets an answer
        assert client(users["bob"]).post(url("nlp"), {"text": "a bird"}, format="json").status_code == 200


def test_the_endpoint_is_in_the_openapi_schema(created, users):
    schema = client(users["alice"]).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/challenges/{slug}/benchmarks/{benchmark}/predict/"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"200", "400", "404", "413", "429", "503"} <= set(operation["responses"])


# --- the service -----------------------------------------------------------------------------------------

def test_the_worker_trains_the_suite_once_and_web_processes_share_it_through_the_cache(created, users):
    from backend.submissions import services as submission_services

    benchmark = created.benchmarks.get(slug="ocr")
    cache.clear()
    live._suites.clear()
    assert live.warm_live_suite(benchmark) is True   # the worker's suite job
    key = live._suite_key(benchmark)
    shared = cache.get(key)
    assert isinstance(shared, bytes)
    # a web process: nothing in memory, the shared bytes answer
    live._suites.clear()
    raw = RawItem.of_image(png(numeral_canvas()))
    first = live.predict_raw_item(benchmark, raw, label="iii")
    live._suites.clear()
    again = live.predict_raw_item(benchmark, raw, label="iii")
    assert again.as_dict() == first.as_dict() and np.array_equal(again.features, first.features)
    assert live._suites[key] is live.live_suite(benchmark)   # kept in the process from now on
    # the suite the page trusts for the pool predicts the pool as the service does
    problem = submission_services.load_benchmark_problem(benchmark)
    pool = services.suite_predictions(benchmark, problem)
    assert np.array_equal(LiveSuite.from_bytes(shared).predict_matrix(problem.X), pool.matrix)
    assert first.features.shape == (256,) and first.label == "iii"


def test_the_worker_warms_the_live_suite_with_the_pool_predictions(created):
    benchmark = created.benchmarks.get(slug="keyword")
    cache.clear()
    live._suites.clear()
    assert services.warm_suite_predictions(benchmark.pk) is True
    assert isinstance(cache.get(live._suite_key(benchmark)), bytes)
    pool_only = created.benchmarks.get(slug="pool-only")
    assert services.warm_suite_predictions(pool_only.pk) is True
    assert cache.get(live._suite_key(pool_only)) is None   # no raw kind: nothing to warm


def test_raw_kind_per_benchmark(created):
    kinds = {b.slug: live.raw_kind(b) for b in created.benchmarks.all()}
    assert kinds == {"nlp": "text", "ocr": "image", "image": "image", "keyword": "audio", "pool-only": None}


@pytest.mark.django_db(transaction=True)
def test_cold_requests_never_train_in_the_web_process_they_queue_one_job_and_answer_503(users, real_dirs):
    """Data just attached (or the cache evicted) and no worker has trained the suite yet: concurrent
    requests queue the suite job once, wait LIVE_SUITE_WAIT_SECONDS and answer 503 with Retry-After;
    once the worker's job has run they are answered."""
    import threading

    from django.db import connection

    from backend.jobs.models import Job

    challenge = make_challenge(users["organizer"], slug="busy")
    benchmark = add_benchmark(challenge, "test-set", real_dirs["keyword"], slug="kw")
    cache.clear()
    live._suites.clear()
    Job.objects.filter(kind=services.SUITE).delete()   # as if the job ran before the cache was emptied
    trained = []
    original = LiveSuite.from_config.__func__

    def counting(cls, problem, config):   # counts trainings in this (web) process
        trained.append(1)
        return original(cls, problem, config)

    answers = []

    def ask():
        try:
            answers.append(client(users["alice"]).post(url("kw", "busy"), {"audio": data_url("audio/wav", pool_wav(real_dirs))},
                                                       format="json"))
        finally:
            connection.close()

    LiveSuite.from_config = classmethod(counting)
    try:
        with override_settings(LIVE_SUITE_WAIT_SECONDS=0.6):
            threads = [threading.Thread(target=ask) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        LiveSuite.from_config = classmethod(original)
    assert not trained
    assert [a.status_code for a in answers] == [503] * 4
    assert all(a["Retry-After"] == "10" and "still being trained" in a.json()["detail"] for a in answers)
    (job,) = Job.objects.filter(kind=services.SUITE, subject_id=benchmark.pk)
    assert job.status == Job.Status.QUEUED
    queued_at = job.queued_at
    with override_settings(LIVE_SUITE_WAIT_SECONDS=0.3):   # a later request does not queue it again
        assert client(users["alice"]).post(url("kw", "busy"), {"audio": data_url("audio/wav", pool_wav(real_dirs))},
                                           format="json").status_code == 503
    job.refresh_from_db()
    assert job.queued_at == queued_at and job.status == Job.Status.QUEUED
    services.run_suite_job(job, None)   # what the worker runs for it
    answered = client(users["alice"]).post(url("kw", "busy"), {"audio": data_url("audio/wav", pool_wav(real_dirs))},
                                           format="json")
    assert answered.status_code == 200, answered.json()
    check_answer(answered.json(), 1024)


@pytest.mark.django_db(transaction=True)
def test_a_cold_request_is_answered_when_a_real_worker_trains_the_suite_in_time(users, real_dirs, celery_worker_process):
    from backend.jobs.models import Job

    challenge = make_challenge(users["organizer"], slug="warming")
    benchmark = add_benchmark(challenge, "test-set", real_dirs["ocr"], slug="ocr")
    cache.clear()
    live._suites.clear()
    Job.objects.filter(kind=services.SUITE).update(status=Job.Status.DONE, finished_at=None)   # attached long ago
    with override_settings(LIVE_SUITE_WAIT_SECONDS=60):
        response = client(users["alice"]).post(url("ocr", "warming"),
                                               {"image": data_url("image/png", png(numeral_canvas())), "label": "iii"},
                                               format="json")
    assert response.status_code == 200, response.json()
    check_answer(response.json(), 256, "iii")
    deadline = time.monotonic() + 30   # the worker shares the suite, then marks its job done
    while Job.objects.get(kind=services.SUITE, subject_id=benchmark.pk).status != Job.Status.DONE:
        assert time.monotonic() < deadline, "the suite job did not finish"
        time.sleep(0.2)


def test_a_benchmark_whose_extractor_is_missing_answers_503_with_a_sentence(users, real_dirs, tmp_path, caplog):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(real_dirs["ocr"], broken)
    (broken / "extractor.npz").unlink()
    challenge = make_challenge(users["organizer"], slug="broken")
    add_benchmark(challenge, "test-set", broken, slug="ocr")
    response = client(users["alice"]).post(url("ocr", "broken"), {"image": data_url("image/png", png(numeral_canvas()))},
                                           format="json")
    assert response.status_code == 503 and "organizers have been told" in response.json()["detail"]
    assert "extractor.npz" in caplog.text   # the reason goes to the log, not to the participant
