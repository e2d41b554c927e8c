"""The user-journey bugs of issue 13, each as the user met it (every test here failed before its fix)."""
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.challenges.models import Benchmark, DatasetArtifact
from backend.core.files import sha256_of

pytestmark = pytest.mark.django_db


# --- the admin: attaching data, and what it shows of stored files -----------------------------------

def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def _benchmark_form(benchmark: Benchmark, artifacts: list[DatasetArtifact], new_file=None) -> dict:
    data = {
        "challenge": benchmark.challenge_id, "slug": benchmark.slug, "title": benchmark.title,
        "description": "", "task": "", "type_slug": benchmark.type_slug, "config": json.dumps(benchmark.config),
        "order": 0, "weight": 1.0, "time_limit_seconds": "", "environment": benchmark.environment,
        "artifacts-TOTAL_FORMS": len(artifacts) + (1 if new_file is not None else 0),
        "artifacts-INITIAL_FORMS": len(artifacts), "artifacts-MIN_NUM_FORMS": 0, "artifacts-MAX_NUM_FORMS": 1000,
    }
    for index, artifact in enumerate(artifacts):
        data.update({f"artifacts-{index}-id": artifact.pk, f"artifacts-{index}-benchmark": benchmark.pk,
                     f"artifacts-{index}-visibility": artifact.visibility})
    if new_file is not None:
        index = len(artifacts)
        data.update({f"artifacts-{index}-benchmark": benchmark.pk, f"artifacts-{index}-visibility": "public",
                     f"artifacts-{index}-file": new_file})
    return data


@pytest.fixture
def organizer_admin(client, users):
    from fixtures.demo import grant_organizer_permissions

    grant_organizer_permissions(users["organizer"])
    client.force_login(users["organizer"])
    return client


def test_attaching_data_in_the_admin_stores_it_with_its_checksum(organizer_admin, speech_challenge):
    benchmark = Benchmark.objects.create(challenge=speech_challenge, slug="extra", title="Extra",
                                         type_slug="speech-selection")
    content = _zip_bytes({"readme.txt": b"public notes"})
    url = f"/admin/challenges/benchmark/{benchmark.pk}/change/"
    response = organizer_admin.post(url, _benchmark_form(
        benchmark, [], SimpleUploadedFile("extra-public.zip", content, content_type="application/zip")))
    assert response.status_code == 302, response.content.decode()[:2000]  # was a 500: I/O on a closed file
    artifact = benchmark.artifacts.get()
    assert artifact.size_bytes == len(content)
    assert artifact.sha256 == sha256_of(io.BytesIO(content))
    with artifact.file.open("rb") as fh:
        assert fh.read() == content


def test_the_admin_names_stored_data_files_without_a_dead_link(organizer_admin, speech_challenge):
    benchmark = speech_challenge.benchmarks.get()
    page = organizer_admin.get(f"/admin/challenges/benchmark/{benchmark.pk}/change/").content.decode()
    # (storage may add a suffix to a name it has seen: the prefix is what the organizer recognises)
    assert "Currently: en-25-hidden" in page and "Currently: en-25-public" in page
    assert 'href="/media/' not in page and "datasets/" not in page  # media has no URL: that link was a 404
    # Saving the page with the files untouched keeps them (and their checksums).
    before = {a.pk: a.sha256 for a in benchmark.artifacts.all()}
    response = organizer_admin.post(f"/admin/challenges/benchmark/{benchmark.pk}/change/",
                                    _benchmark_form(benchmark, list(benchmark.artifacts.all())))
    assert response.status_code == 302
    assert {a.pk: a.sha256 for a in benchmark.artifacts.all()} == before


# --- file names in messages -----------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_scoring_failure_names_the_file_as_the_participant_named_it(speech_challenge, users, speech_data_dir):
    from pathlib import Path

    from backend.jobs.models import Job
    from backend.jobs.worker import execute
    from backend.submissions import services
    from backend.submissions.models import Submission

    from .helpers import speech_upload

    submission = services.create_submission(
        user=users["alice"], benchmark=speech_challenge.benchmarks.get(),
        uploaded_file=speech_upload(speech_data_dir, name="alice-final-run.json"))
    Path(submission.file.path).write_bytes(b'{"targets": ')  # damaged in storage after it was accepted
    execute(Job.objects.get(kind="score", subject_id=submission.pk).pk)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert "alice-final-run.json" in submission.failure_reason
    assert "submission.json" not in submission.failure_reason


def test_limit_messages_are_sentences_not_a_file_error(client, users, speech_challenge, speech_data_dir):
    from .helpers import speech_upload

    phase = speech_challenge.phases.get()
    phase.max_submissions_per_day = 1
    phase.save()
    client.force_login(users["alice"])
    client.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir, name="first.json")})
    page = client.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir, seed=1)},
                       follow=True).content.decode()
    assert "Submission rejected — Daily limit reached: 1 submissions in the last 24 hours" in page
    assert "file: daily limit" not in page
    api = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25",
                                            "file": speech_upload(speech_data_dir, seed=2)})
    assert api.status_code == 429
    assert api.json()["detail"].startswith("Daily limit reached")
    assert list(api.json()["errors"]) == ["non_field_errors"]


# --- status codes and error pages -----------------------------------------------------------------

def test_a_missing_token_is_401_with_the_scheme_to_use(client):
    response = client.get("/api/submissions/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert client.get("/api/me/").status_code == 401


def test_a_session_still_works_on_the_api_and_a_token_too(client, users):
    from rest_framework.authtoken.models import Token

    client.force_login(users["alice"])
    assert client.get("/api/submissions/").status_code == 200
    client.logout()
    token = Token.objects.create(user=users["alice"])
    assert client.get("/api/submissions/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def _has_site_layout(html: str) -> bool:
    return 'class="topbar"' in html and 'href="/"' in html and "/static/css/site" in html


def test_error_pages_have_the_site_layout(client, users, rf):
    from django.views import defaults

    missing = client.get("/challenges/no-such-challenge/")
    assert missing.status_code == 404
    html = missing.content.decode()
    assert _has_site_layout(html) and "Page not found" in html and "/challenges/no-such-challenge/" in html
    client.force_login(users["alice"])
    forbidden = client.get("/verify/")  # annotators only
    assert forbidden.status_code == 403
    assert _has_site_layout(forbidden.content.decode()) and "Not allowed" in forbidden.content.decode()
    server_error = defaults.server_error(rf.get("/boom/"))  # rendered as Django renders a 500: no context
    assert server_error.status_code == 500 and _has_site_layout(server_error.content.decode())


# --- the challenge board's downloads --------------------------------------------------------------

def _two_benchmark_board(challenge, users, vision_data_dir):
    """alice leads the speech benchmark, bob the vision one: the weights decide who is first."""
    from tests.conftest import add_benchmark

    from .test_leaderboards import scored

    speech = challenge.benchmarks.get()
    vision = add_benchmark(challenge, "vision-selection", vision_data_dir, slug="vision")
    scored(speech, users["alice"], 0.9)
    scored(speech, users["bob"], 0.4)
    for user, value in ((users["alice"], 0.2), (users["bob"], 0.8)):
        submission = scored(speech, user, None)
        type(submission).objects.filter(pk=submission.pk).update(benchmark=vision)
        submission.scores.create(metric="mean_f1", value=value)
    from backend.leaderboards import services as leaderboard_services

    leaderboard_services.rebuild()  # submissions moved to another board by hand: derive the rows again
    return speech, vision


def test_exports_rank_with_the_weights_they_are_given(client, speech_challenge, users, vision_data_dir):
    import csv

    _two_benchmark_board(speech_challenge, users, vision_data_dir)
    url = "/api/challenges/kws/leaderboard/"
    default = client.get(url + "?format=json&export=json")
    assert default["Content-Type"].startswith("application/json")
    assert [r["entrant"] for r in default.json()["rows"]] == ["alice", "bob"]  # equal weights: tie by name
    weighted = client.get(url + "?format=json&export=json&weights=en-25:1,vision:5")
    assert weighted["Content-Disposition"] == 'attachment; filename="kws-leaderboard.json"'
    body = weighted.json()
    assert [r["entrant"] for r in body["rows"]] == ["bob", "alice"]
    assert body["rows"][0]["aggregate"] == pytest.approx(5 / 6)  # the sliders' formula: (1*0 + 5*1) / 6
    assert {b["slug"]: b["weight"] for b in body["benchmarks"]} == {"en-25": 1.0, "vision": 5.0}
    rows = list(csv.reader(io.StringIO(client.get(url + "?export=csv&weights=vision:5").content.decode())))
    assert [row[1] for row in rows[1:]] == ["bob", "alice"]  # en-25 keeps the organizer's weight (1)
    assert float(rows[1][3]) == pytest.approx(5 / 6)


@pytest.mark.parametrize("weights,named", [
    ("nope:1", "'nope' is not a benchmark of this challenge"),
    ("en-25:-1", "between 0 and 1000"),
    ("en-25:abc", "is not a number"),
    ("en-25:nan", "between 0 and 1000"),
    ("en-25:1,en-25:2", "given twice"),
    ("en-25", "is not benchmark:weight"),
])
def test_bad_weights_are_a_400_naming_the_problem(client, speech_challenge, users, vision_data_dir, weights, named):
    _two_benchmark_board(speech_challenge, users, vision_data_dir)
    for export in ("csv", "json"):
        response = client.get(f"/api/challenges/kws/leaderboard/?format=json&export={export}&weights={weights}")
        assert response.status_code == 400
        assert response.json()["detail"].startswith("weights: ") and named in response.json()["detail"]


def test_the_board_page_links_json_that_downloads_json(client, speech_challenge, users, vision_data_dir):
    import re

    _two_benchmark_board(speech_challenge, users, vision_data_dir)
    page = client.get("/challenges/kws/").content.decode()
    href = re.search(r'id="export-json" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    # as a browser follows a link: it asks for HTML first
    response = client.get(href, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response["Content-Type"].startswith("application/json")
    assert [r["entrant"] for r in response.json()["rows"]] == ["alice", "bob"]


def test_the_submission_admin_links_the_file_through_the_checked_download(organizer_admin, speech_challenge, users,
                                                                         speech_data_dir):
    from backend.submissions import services

    from .helpers import speech_upload

    submission = services.create_submission(user=users["alice"], benchmark=speech_challenge.benchmarks.get(),
                                            uploaded_file=speech_upload(speech_data_dir, name="alice-run.json"))
    page = organizer_admin.get(f"/admin/submissions/submission/{submission.pk}/change/").content.decode()
    assert f'<a href="/api/submissions/{submission.pk}/file/">alice-run.json</a>' in page
    assert 'href="/media/' not in page and 'href="submissions/' not in page
    download = organizer_admin.get(f"/api/submissions/{submission.pk}/file/")
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"{")
