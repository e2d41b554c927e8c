"""Creating items from raw text and WAV clips through the API and the page, on the demo's NLP and keyword
data (built from the committed prebuilt datasets): the server featurises them itself, stores the raw
form, submits one item per submission under the phase's limits, and the worker's answers match the
live ones. Bad input is a 4xx sentence naming the field; nothing is stored then."""
import base64
import json

import numpy as np
import pytest
from django.test import Client

from backend.submissions.models import Submission
from backend.verification.models import CreatedItem
from evaluation.raw_items import RawItem, load_featurizer
from tests.conftest import add_benchmark, make_challenge

from .conftest import land, scores

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def raw_dirs(tmp_path_factory):
    from fixtures.builders import layouts, load_prebuilt

    root = tmp_path_factory.mktemp("raw-test-set")
    for task in ("nlp", "keyword"):
        layouts.write_layout(load_prebuilt(task), "test-set", root / task, seed=0, reference_size=600)   # fast suite
        (root / task / "BUILD_INFO.json").unlink(missing_ok=True)
    return {"nlp": root / "nlp", "keyword": root / "keyword"}


@pytest.fixture
def mitl(users, raw_dirs, ts_challenge):
    from backend.verification import live

    challenge = make_challenge(users["organizer"], slug="mitl", max_submissions_per_day=2)
    benchmarks = {task: add_benchmark(challenge, "test-set", raw_dirs[task], slug=task) for task in raw_dirs}
    for benchmark in benchmarks.values():
        live.warm_live_suite(benchmark)   # the worker's suite job does this when the data is attached
    return benchmarks


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


GLOSS = "a large bird of prey with a hooked beak that hunts small animals at dawn"


def test_a_typed_item_is_featurised_on_the_server_stored_and_scored_like_its_live_answer(mitl, users, raw_dirs):
    client = client_for(users["alice"])
    live = post(client, "/api/challenges/mitl/benchmarks/nlp/predict/", {"text": GLOSS, "label": "noun.plant"}).json()
    response = post(client, "/api/verify/mitl/nlp/create/", {"text": GLOSS, "label": "noun.plant", "description": "a bird"})
    assert response.status_code == 201, response.json()
    body = response.json()
    item = CreatedItem.objects.get()
    assert body["item"]["item_id"] == item.item_id and body["submission"]["id"] == item.submission_id
    assert item.kind == "text" and item.text == GLOSS and not item.raw_file and item.label == "noun.plant"
    expected = load_featurizer(raw_dirs["nlp"])(RawItem.of_text(GLOSS))
    assert np.array_equal(np.frombuffer(bytes(item.features), "<f4"), expected)   # computed here, not sent
    assert item.live_answers["predictions"] == live["predictions"] and item.live_answers["fooled"] == live["fooled"]
    submission = land(item.submission)
    (row,) = submission.details["items"]
    assert row["item_id"] == item.item_id and row["fooled"] == live["fooled"]
    assert row["wrong_votes"] == live["wrong_votes"]
    assert scores(submission)["fooled"] == float(live["fooled"])
    listed = client.get("/api/verify/mitl/nlp/created/").json()["items"]
    assert [(r["item_id"], r["text"], r["status"]) for r in listed] == [(item.item_id, GLOSS, "pending")]
    raw = client.get(body["item"]["raw_url"])
    assert raw.status_code == 200 and raw.content.decode() == GLOSS and raw["Content-Type"].startswith("text/plain")


def test_a_recorded_clip_is_stored_as_wav_and_served_only_to_those_who_may_hear_it(mitl, users, raw_dirs):
    from evaluation.benchmarks.test_set import TestSetCreation

    pool = TestSetCreation().load_problem(raw_dirs["keyword"], dict(TestSetCreation.default_config))
    wav = base64.b64decode(pool.display[0])
    client = client_for(users["alice"])
    response = client.post("/api/verify/mitl/keyword/create/", {"file": _upload(wav), "label": "fifty"})
    assert response.status_code == 201, response.json()
    item = CreatedItem.objects.get()
    assert item.kind == "audio" and item.content_type == "audio/wav" and item.raw_file.read() == wav
    url = response.json()["item"]["raw_url"]
    heard = client.get(url)
    assert heard.status_code == 200 and heard["Content-Type"] == "audio/wav" and b"".join(heard.streaming_content) == wav
    assert client_for(users["annotator"]).get(url).status_code == 200
    assert client_for(users["bob"]).get(url).status_code == 404
    assert Client().get(url).status_code == 302   # signed out: the sign-in page


def _upload(data, name="clip.wav"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="audio/wav")


@pytest.mark.parametrize("body, field, words", [
    ({"text": GLOSS}, "label", "claim the label"),
    ({"text": GLOSS, "label": "noun.alien"}, "label", "unknown label"),
    ({"text": "   ", "label": "noun.animal"}, "text", ""),
    ({"text": "x" * 5000, "label": "noun.animal"}, "text", ""),
    ({"image": "data:image/png;base64,iVBORw0KGgo=", "label": "noun.animal"}, "image", "takes text items"),
    ({"label": "noun.animal"}, "non_field_errors", "send"),
])
def test_bad_created_items_are_refused_with_a_sentence_and_nothing_is_stored(mitl, users, body, field, words):
    response = post(client_for(users["alice"]), "/api/verify/mitl/nlp/create/", body)
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert field in errors and words in " ".join(errors[field]), errors
    assert not CreatedItem.objects.exists() and not Submission.objects.exists()


def test_limits_roles_and_benchmarks_without_raw_items(mitl, users, ts_benchmark):
    client = client_for(users["alice"])
    for n in range(2):
        assert post(client, "/api/verify/mitl/nlp/create/", {"text": f"{GLOSS} {n}", "label": "noun.animal"}).status_code == 201
    refused = post(client, "/api/verify/mitl/nlp/create/", {"text": GLOSS, "label": "noun.animal"})
    assert refused.status_code == 429 and "daily limit" in refused.json()["detail"].lower()
    assert CreatedItem.objects.count() == 2 and Submission.objects.count() == 2
    assert post(Client(), "/api/verify/mitl/nlp/create/", {"text": GLOSS, "label": "noun.animal"}).status_code in (401, 403)
    # The synthetic shapes benchmark declares no featurizer: no created items there, and no link to the page.
    none = post(client, "/api/verify/shapes/adversarial/create/", {"image": "iVBORw0KGgo=", "label": "circle"})
    assert none.status_code == 404
    assert 'id="create-link"' not in client.get("/challenges/shapes/adversarial/").content.decode()
    assert 'id="create-link"' in client.get("/challenges/mitl/nlp/").content.decode()
    assert post(client, "/api/verify/nope/nlp/create/", {"text": GLOSS, "label": "noun.animal"}).status_code == 404


def test_the_creation_page_offers_the_tasks_input(mitl, users):
    client = client_for(users["alice"])
    text_page = client.get("/challenges/mitl/nlp/create/").content.decode()
    assert 'id="create-text"' in text_page and 'data-predict-url="/api/challenges/mitl/benchmarks/nlp/predict/"' in text_page
    assert "noun.animal" in text_page and "2 of 2 submissions left today" in text_page
    audio_page = client.get("/challenges/mitl/keyword/create/").content.decode()
    assert 'id="create-record"' in audio_page and 'id="create-file"' in audio_page
    assert Client().get("/challenges/mitl/nlp/create/").status_code == 302
