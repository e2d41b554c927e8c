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
