"""Query parameters: malformed values answer 400 naming the parameter, never a 500 (signed in or not)."""
import pytest
from rest_framework.test import APIClient

from backend.submissions.models import Score, Submission
from tests.backend.helpers import publish_score

pytestmark = pytest.mark.django_db

BOARD = "/api/challenges/kws/benchmarks/en-25/leaderboard/"
CHALLENGE_BOARD = "/api/challenges/kws/leaderboard/"
BAD_IDS = ["abc", "1.5", "-1", "0", "99999999999999999999999", "1e3", "１", "\x00"]


def _scored(challenge, user):
    benchmark = challenge.benchmarks.get()
    submission = Submission.objects.create(
        phase=challenge.phases.get(), benchmark=benchmark, user=user, status=Submission.Status.SCORED,
        original_name="s.json", sha256="0" * 64, file="submissions/x.json")
    Score.objects.create(submission=submission, metric="macro_f1", value=0.5)
    publish_score(submission)


def test_a_malformed_phase_is_a_400_naming_it_without_login(speech_challenge, users):
    client = APIClient()
    for url in (BOARD, BOARD + "?export=csv", CHALLENGE_BOARD, CHALLENGE_BOARD + "?export=csv"):
        for value in BAD_IDS:
            response = client.get(url, {"phase": value})
            assert response.status_code == 400, (url, value, response.content[:200])
            body = response.json()
            assert list(body["errors"]) == ["phase"] and body["detail"].startswith("phase: ")
            assert len(body["detail"]) < 120
        assert client.get(url, {"phase": " "}).status_code == 200  # empty: the current phase


def test_since_and_export_are_validated_and_valid_values_still_work(speech_challenge, users):
    _scored(speech_challenge, users["alice"])
    client = APIClient()
    for params, field in (({"since": "yesterday"}, "since"), ({"since": "-4"}, "since"),
                          ({"export": "pdf"}, "export"), ({"export": "x" * 5000}, "export")):
        response = client.get(BOARD, params)
        assert response.status_code == 400 and list(response.json()["errors"]) == [field], response.content[:200]
        assert len(response.json()["detail"]) < 120
    first = client.get(BOARD).json()
    assert first["changed"] is True and [row["entrant"] for row in first["rows"]] == ["alice"]
    assert client.get(BOARD, {"since": first["version"]}).json() == {"changed": False, "version": first["version"]}
    phase = speech_challenge.phases.get()
    assert client.get(BOARD, {"phase": phase.pk, "export": "csv"}).content.decode().splitlines()[1].split(",")[1] == "alice"
    assert client.get(CHALLENGE_BOARD, {"phase": phase.pk, "export": "json"})["Content-Disposition"].endswith('.json"')
    assert client.get(CHALLENGE_BOARD, {"export": "xml"}).status_code == 400
    # a well-formed id of no phase of this challenge is still a 404
    assert client.get(BOARD, {"phase": phase.pk + 1000}).status_code == 404


def test_submission_list_filters_are_validated(speech_challenge, users):
    _scored(speech_challenge, users["alice"])
    client = APIClient()
    client.force_authenticate(users["alice"])
    assert len(client.get("/api/submissions/", {"mine": "1", "challenge": "kws"}).json()) == 1
    assert client.get("/api/submissions/", {"challenge": "other"}).json() == []
    for params, field in (({"mine": "perhaps"}, "mine"), ({"challenge": "k" * 1000}, "challenge"),
                          ({"benchmark": "a\x00b"}, "benchmark")):
        response = client.get("/api/submissions/", params)
        assert response.status_code == 400 and list(response.json()["errors"]) == [field]


def test_an_out_of_range_phase_in_an_upload_is_a_400(speech_challenge, users, speech_data_dir):
    from tests.backend.helpers import speech_upload

    client = APIClient()
    client.force_authenticate(users["alice"])
    for phase in ("99999999999999999999999", "0", "x"):
        response = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25", "phase": phase,
                                                     "file": speech_upload(speech_data_dir)}, format="multipart")
        assert response.status_code == 400 and list(response.json()["errors"]) == ["phase"], response.content[:200]
    assert not Submission.objects.exists()
