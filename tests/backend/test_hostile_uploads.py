"""Hostile uploads, for every benchmark type, through the real upload paths (the API and the page's form).

Each file of the corpus (fixtures/hostile_uploads.py: deep JSON, bombs, corrupt/encrypted/unsafe
zips, a million entries, huge lines, NULs, invalid UTF-8, empty, wrong extension; for data acquisition's
purchase plans also 5,000-digit, infinite and fractional counts, 200,000 sellers, UTF-16) must get a 4xx
whose message names the file as the participant named it and stays short; none is stored. A
benchmark whose own data is broken answers 503 and tells the organizers' log why.
"""
from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from backend.challenges.models import DatasetArtifact
from backend.challenges.services import data_version
from backend.submissions.models import Submission
from evaluation import cache as problem_cache
from evaluation import registry
from fixtures import hostile_uploads, synthetic
from fixtures import test_set_synthetic
from tests.backend.helpers import speech_upload
from tests.conftest import add_benchmark, make_challenge

pytestmark = pytest.mark.django_db

MiB = 2**20
TYPES = ["speech-selection", "vision-selection", "debugging", "training-set", "test-set", "slicing", "valuation",
         "data-acquisition"]
CONFIGS = {"speech-selection": {"train_size": 25}, "test-set": {"max_items": 10}}
MAX_MESSAGE_CHARS = 700


@pytest.fixture(scope="session")
def type_data(tmp_path_factory, speech_data_dir, vision_data_dir):
    built: dict[str, Path] = {"speech-selection": speech_data_dir, "vision-selection": vision_data_dir}

    def data_dir(type_slug: str) -> Path:
        if type_slug not in built:
            out = tmp_path_factory.mktemp(type_slug) / "data"
            if type_slug == "test-set":
                test_set_synthetic.write_test_set_data(out, pool_size=120, seed=5)
            else:
                getattr(synthetic, f"write_{type_slug.replace('-', '_')}_data")(out, seed=5)
            built[type_slug] = out
        return built[type_slug]

    return data_dir


def corpus_for(type_slug: str) -> list[tuple[str, str, bytes]]:
    suffixes = registry.get(type_slug).submission_suffixes
    # archives carry a member the type really reads (vision reads only <Concept>.csv/.json)
    cases = hostile_uploads.corpus(suffixes, inner_name="Cupcake.csv" if type_slug == "vision-selection" else "data.csv")
    if ".zip" in suffixes:
        cases.append(("million-entries", "million.zip", hostile_uploads.million_entries()))
    if type_slug == "data-acquisition":  # a purchase plan: seller ids and row counts
        cases += [
            ("huge-count", "plan-digits.csv", b"seller_id,count\nseller-a," + b"9" * 5000 + b"\n"),
            ("infinite-count", "plan-inf.json", b'{"seller-a": 1e999}'),
            ("fractional-count", "plan-frac.json", b'{"seller-a": 2.5}'),
            ("list-not-object", "plan-list.json", b'[["seller-a", 1]]'),
            ("many-sellers", "plan-many.json",
             b"{" + b",".join(b'"s%d": 0' % i for i in range(200_000)) + b"}"),
            ("many-counts", "plan-many.txt", b"1," * 2_000_000 + b"1\n"),
            ("duplicate-header-only", "plan-header.csv", b"seller_id,count\n" * 3),
            ("utf16", "plan-utf16.csv", "seller_id,count\nseller-a,1\n".encode("utf-16")),
        ]
    return cases


@pytest.fixture
def hostile_benchmark(request, users, type_data, settings):
    type_slug = request.param
    settings.SUBMISSION_MAX_UPLOAD_BYTES = 64 * MiB  # room for the 50 MB million-entry zip
    challenge = make_challenge(users["organizer"], slug=f"h-{type_slug}", max_upload_mb=64)
    return add_benchmark(challenge, type_slug, type_data(type_slug), slug="b", config=CONFIGS.get(type_slug))


def _problems(case: str, name: str, status: int, message: str) -> list[str]:
    problems = []
    if not 400 <= status < 500:
        problems.append(f"HTTP {status}")
    if name not in message:
        problems.append("does not name the file")
    if len(message) > MAX_MESSAGE_CHARS:
        problems.append(f"{len(message)} characters long")
    if "submission." in message and not name.startswith("submission."):
        problems.append("names our temp file")
    return [f"{case} ({name}): {p}: {message[:300]!r}" for p in problems]


@pytest.mark.parametrize("hostile_benchmark", TYPES, indirect=True)
def test_hostile_files_get_a_short_4xx_naming_the_file_through_the_api(hostile_benchmark, users):
    client = APIClient()
    client.force_authenticate(users["alice"])
    failures, messages = [], {}
    for case, name, data in corpus_for(hostile_benchmark.type_slug):
        response = client.post("/api/submissions/", {
            "challenge": hostile_benchmark.challenge.slug, "benchmark": hostile_benchmark.slug,
            "file": SimpleUploadedFile(name, data)}, format="multipart")
        message = response.json()["detail"] if response.status_code < 500 else response.content.decode()[:300]
        messages[case] = message
        failures += _problems(case, name, response.status_code, message)
    assert not failures, "\n".join(failures)
    assert not Submission.objects.exists()
    if ".zip" in hostile_benchmark.benchmark_type.submission_suffixes:
        # Bombs and impossible archives are refused from their declared figures, before inflating.
        assert "unpacks to 73400320 bytes" in messages["zip-bomb"]
        assert "unpacks to 288358400 bytes; the limit is 256 MB" in messages["many-member-bomb"]
        assert "unpacks to 4294967280 bytes" in messages["lying-huge"]
        assert "1000000 entries" in messages["million-entries"]
        assert "points outside the archive" in messages["dot-dot"] and "points outside" in messages["absolute"]
        assert "symbolic link" in messages["symlink"]
        assert "encrypted" in messages["encrypted"]
        assert "compression method 12" in messages["bzip2"] and "compression method 99" in messages["made-up-method"]
        assert "Bad CRC-32" in messages["corrupt-crc"]
    if hostile_benchmark.type_slug == "data-acquisition":
        # It takes no archives: a zip under its names is just not text. Counts must be whole and finite.
        assert all("not UTF-8 text" in messages[case] for case in ("zip-bomb", "dot-dot", "symlink", "utf16"))
        assert messages["huge-count"].endswith("plan-digits.csv, line 2, seller seller-a: a count of 5000 digits is more rows "
                                               "than any seller has")
        assert messages["infinite-count"].endswith("plan-inf.json, seller seller-a: inf is not a whole number of rows")
        assert "2000001 counts for 5 sellers" in messages["many-counts"]
        assert "expected a JSON object" in messages["list-not-object"]


@pytest.mark.parametrize("hostile_benchmark", TYPES, indirect=True)
def test_hostile_files_are_refused_through_the_page_form(hostile_benchmark, users, client):
    client.force_login(users["alice"])
    url = f"/challenges/{hostile_benchmark.challenge.slug}/{hostile_benchmark.slug}/submit/"
    failures = []
    for case, name, data in corpus_for(hostile_benchmark.type_slug):
        response = client.post(url, {"file": SimpleUploadedFile(name, data)}, follow=True)
        # the form redirects back to the benchmark page, which shows the reason
        shown = [str(m) for m in response.context["messages"]] if response.context else []
        if [code for _, code in response.redirect_chain] != [302] or response.status_code != 200 or len(shown) != 1:
            failures.append(f"{case} ({name}): HTTP {response.status_code}, messages {shown}")
            continue
        failures += _problems(case, name, 400, shown[0])
        if not shown[0].startswith("Submission rejected"):
            failures.append(f"{case} ({name}): not a rejection: {shown[0][:200]!r}")
    assert not failures, "\n".join(failures)
    assert not Submission.objects.exists()


def test_vision_deep_json_inside_a_zip_is_refused_by_depth(vision_challenge, users):
    client = APIClient()
    client.force_authenticate(users["alice"])
    archive = hostile_uploads.make_zip([("Cupcake.json", hostile_uploads.deep_json(100_000))])
    response = client.post("/api/submissions/", {"challenge": "vision", "benchmark": "concepts",
                                                 "file": SimpleUploadedFile("my-labels.zip", archive)}, format="multipart")
    assert response.status_code == 400
    assert response.json()["detail"] == ("file: my-labels.zip: Cupcake.json: JSON nested at least 100000 levels deep; at most 64 are allowed")


def test_speech_error_echoes_at_most_a_few_hundred_characters(speech_challenge, users, speech_data_dir):
    client = APIClient()
    client.force_authenticate(users["alice"])
    upload = speech_upload(speech_data_dir, name="alice-selection.json",
                           mutate=lambda s: s["nontargets"].__setitem__(0, "x" * (5 * MiB)))
    response = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25", "file": upload},
                           format="multipart")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("file: alice-selection.json: nontargets contains 1 id(s) not in the allowed")
    assert "more characters" in detail and len(detail) < MAX_MESSAGE_CHARS


@pytest.mark.parametrize("content", [b"this is not a zip", "empty-zip"], ids=["corrupt-zip", "missing-files"])
def test_broken_hidden_data_answers_503_and_logs_why(speech_challenge, users, speech_data_dir, break_hidden_data,
                                                      caplog, content):
    benchmark = speech_challenge.benchmarks.get()
    if content == "empty-zip":
        content = hostile_uploads.make_zip([("README.txt", b"the hidden files went missing")], zipfile.ZIP_STORED)
    break_hidden_data(benchmark, content)
    client = APIClient()
    client.force_authenticate(users["alice"])
    with caplog.at_level(logging.ERROR, logger="backend.submissions.services"):
        response = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25",
                                                     "file": speech_upload(speech_data_dir)}, format="multipart")
    assert response.status_code == 503
    assert response.json()["detail"] == ("benchmark: this benchmark's data is unavailable right now; "
                                         "the organizers have been told")
    assert not Submission.objects.exists()
    logged = [r for r in caplog.records if "its data cannot be loaded" in r.getMessage()]
    assert logged and logged[0].exc_info and "en-25" in logged[0].getMessage()
