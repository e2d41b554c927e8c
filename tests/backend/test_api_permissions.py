"""Who may see and do what through the API. Every hidden artifact stays hidden."""
import io
import json
import zipfile

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backend.challenges.models import Challenge, Phase
from backend.submissions import services

from .helpers import speech_upload

pytestmark = pytest.mark.django_db


def client_for(user=None, token=False):
    client = APIClient()
    if user is not None:
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        else:
            client.force_authenticate(user)
    return client


@pytest.fixture
def alice_submission(speech_challenge, users, speech_data_dir):
    return services.create_submission(user=users["alice"], benchmark=speech_challenge.benchmarks.get(),
                                      uploaded_file=speech_upload(speech_data_dir))


def test_upload_with_an_api_token(speech_challenge, users, speech_data_dir):
    response = client_for(users["alice"], token=True).post("/api/submissions/", {
        "challenge": "kws", "benchmark": "en-25", "file": speech_upload(speech_data_dir)}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "queued"
    assert "log" not in response.json()


def test_upload_errors_are_400_with_the_field_and_reason(speech_challenge, users, speech_data_dir):
    client = client_for(users["alice"], token=True)
    missing = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25"}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["errors"]

    def drop_key(sub):
        sub["targets"].pop(sorted(sub["targets"])[0])

    bad = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25",
                                            "file": speech_upload(speech_data_dir, mutate=drop_key)}, format="multipart")
    assert bad.status_code == 400
    assert "missing" in bad.json()["errors"]["file"][0].lower()
    unknown = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "nope",
                                                "file": speech_upload(speech_data_dir)}, format="multipart")
    assert unknown.status_code == 404


def test_anonymous_sees_public_leaderboards_only(speech_challenge, alice_submission):
    anonymous = client_for()
    assert anonymous.get("/api/challenges/").status_code == 200
    assert anonymous.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").status_code == 200
    assert anonymous.get("/api/submissions/").status_code in (401, 403)
    assert anonymous.get(f"/api/submissions/{alice_submission.pk}/").status_code in (401, 403)
    assert anonymous.get(f"/api/submissions/{alice_submission.pk}/file/").status_code in (401, 403)
    assert anonymous.get("/api/challenges/kws/benchmarks/en-25/data/").status_code in (401, 403)
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.PARTICIPANTS)
    signed_out = anonymous.get("/api/challenges/kws/benchmarks/en-25/leaderboard/")
    assert signed_out.status_code == 401 and signed_out["WWW-Authenticate"] == "Token"
    assert "Sign in" in signed_out.json()["detail"]


def test_participants_cannot_reach_each_others_submissions(alice_submission, users):
    bob = client_for(users["bob"])
    assert bob.get(f"/api/submissions/{alice_submission.pk}/").status_code == 404
    assert bob.get(f"/api/submissions/{alice_submission.pk}/file/").status_code == 404
    assert bob.get("/api/submissions/").json() == []
    assert bob.post(f"/api/submissions/{alice_submission.pk}/rerun/").status_code == 403
    assert bob.post(f"/api/submissions/{alice_submission.pk}/cancel/").status_code == 404
    assert bob.post(f"/api/submissions/{alice_submission.pk}/select/").status_code == 404
    alice = client_for(users["alice"])
    assert alice.get(f"/api/submissions/{alice_submission.pk}/file/").status_code == 200
    assert alice.post(f"/api/submissions/{alice_submission.pk}/rerun/").status_code == 403  # organizers only
    # Participants cancel their own queued submissions (tests/backend/test_my_submissions.py).


def test_organizers_see_their_challenges_submissions_with_logs(alice_submission, users):
    organizer = client_for(users["organizer"])
    body = organizer.get(f"/api/submissions/{alice_submission.pk}/").json()
    assert body["user"] == "alice" and "log" in body
    assert organizer.post(f"/api/submissions/{alice_submission.pk}/cancel/").json()["status"] == "cancelled"
    assert organizer.post(f"/api/submissions/{alice_submission.pk}/cancel/").status_code == 409
    other = client_for(users["other_organizer"])
    assert other.get(f"/api/submissions/{alice_submission.pk}/").status_code == 404


def test_public_data_download_contains_no_hidden_file(speech_challenge, users):
    response = client_for(users["alice"]).get("/api/challenges/kws/benchmarks/en-25/data/")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert "allowed_training_set.yaml" in names
    assert any(n.startswith("train_embeddings/") for n in names)
    assert not any(n.startswith("eval_embeddings/") or n == "eval.yaml" for n in names)


def test_no_api_response_mentions_hidden_data(speech_challenge, users, alice_submission):
    organizer = client_for(users["organizer"])
    for url in ["/api/challenges/", "/api/challenges/kws/", f"/api/submissions/{alice_submission.pk}/",
                "/api/challenges/kws/benchmarks/en-25/leaderboard/"]:
        text = json.dumps(organizer.get(url).json())
        assert "eval_embeddings" not in text and "eval.yaml" not in text and "hidden/" not in text


def test_draft_challenges_are_invisible_to_participants(speech_challenge, users):
    Challenge.objects.filter(pk=speech_challenge.pk).update(status=Challenge.Status.DRAFT)
    alice = client_for(users["alice"])
    assert alice.get("/api/challenges/kws/").status_code == 404
    assert alice.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").status_code == 404
    assert client_for(users["organizer"]).get("/api/challenges/kws/").status_code == 200


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_media_files_have_no_url(alice_submission, client):
    # Uploaded files are only reachable through the permission-checked views above.
    assert client.get("/media/" + alice_submission.file.name).status_code == 404
