"""A benchmark's public download carries its croissant.json, also served at a stable URL on the benchmark
page with the download's visibility rules; neither names a hidden file."""
from __future__ import annotations

import copy
import io
import json
import os
import zipfile

import pytest

from backend.challenges import services
from backend.challenges.models import Challenge, DatasetArtifact
from backend.core.files import zip_files

mlc = pytest.importorskip("mlcroissant")
pytestmark = pytest.mark.django_db

URL = "/challenges/kws/en-25/croissant.json"


def _download(client) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(client.get("/challenges/kws/en-25/data.zip").streaming_content)))


def test_public_download_carries_valid_croissant_without_hidden_files(client, users, speech_challenge,
                                                                      speech_data_dir):
    client.force_login(users["alice"])
    archive = _download(client)
    assert "croissant.json" in archive.namelist()
    metadata = json.loads(archive.read("croissant.json"))
    mlc.Dataset(jsonld=copy.deepcopy(metadata))
    described = sorted(d["contentUrl"] for d in metadata["distribution"])
    assert described == sorted(n for n in archive.namelist() if n != "croissant.json")
    text = json.dumps(metadata)
    assert "eval_embeddings" not in text and "eval.yaml" not in text
    assert metadata["name"] == "Challenge kws: Speech Selection"
    assert metadata["url"] == "/challenges/kws/en-25/"
    # The checksums are those of the files a participant unpacks.
    import hashlib
    for entry in metadata["distribution"]:
        assert entry["sha256"] == hashlib.sha256(archive.read(entry["contentUrl"])).hexdigest()


def test_croissant_url_follows_the_download_rules(client, users, speech_challenge):
    # Anonymous visitors (and dataset search engines) read the metadata of a published challenge's
    # public data from the page's link; the data itself still needs a sign-in.
    page = client.get("/challenges/kws/en-25/").content.decode()
    assert 'href="/challenges/kws/en-25/croissant.json"' in page
    anonymous = client.get(URL)
    assert anonymous.status_code == 200 and anonymous["Content-Type"] == "application/ld+json"
    assert client.get("/challenges/kws/en-25/data.zip").status_code == 302
    client.force_login(users["alice"])
    response = client.get(URL)
    assert response.status_code == 200 and response.content == anonymous.content
    assert response.content == _download(client).read("croissant.json")
    Challenge.objects.filter(pk=speech_challenge.pk).update(status=Challenge.Status.DRAFT)
    assert client.get(URL).status_code == 404
    client.logout()
    assert client.get(URL).status_code == 404  # a draft's metadata is no one's but its organizers'
    client.force_login(users["organizer"])
    assert client.get(URL).status_code == 200
    assert client.get("/challenges/kws/nope/croissant.json").status_code == 404


def test_data_attached_before_croissant_gets_one_generated(client, users, speech_challenge, speech_data_dir):
    """A public archive without croissant.json (attached by an older version): the URL builds the file
    from the unpacked public data."""
    benchmark = speech_challenge.benchmarks.get()
    public = benchmark.artifacts.get(visibility=DatasetArtifact.Visibility.PUBLIC)
    with public.file.open("rb") as fh, zipfile.ZipFile(fh) as zf:
        names = [n for n in zf.namelist() if n != "croissant.json"]
    public.delete()
    services.create_artifact(benchmark, DatasetArtifact.Visibility.PUBLIC, "old-public.zip",
                             zip_files(speech_data_dir, names))
    client.force_login(users["alice"])
    response = client.get(URL)
    assert response.status_code == 200
    metadata = json.loads(response.content)
    mlc.Dataset(jsonld=copy.deepcopy(metadata))
    assert sorted(d["contentUrl"] for d in metadata["distribution"]) == sorted(names)
    assert "eval.yaml" not in response.content.decode()


def test_no_public_data_is_a_404(client, users, speech_challenge):
    speech_challenge.benchmarks.get().artifacts.filter(visibility=DatasetArtifact.Visibility.PUBLIC).delete()
    client.force_login(users["alice"])
    response = client.get(URL)
    assert response.status_code == 404


def test_attaching_the_same_data_again_gives_the_same_archive(speech_challenge, speech_data_dir):
    """The archives are content-addressed (data_version): the generated croissant.json must not carry times."""
    benchmark = speech_challenge.benchmarks.get()
    before = services.data_version(benchmark)
    path = speech_data_dir / "allowed_training_set.yaml"
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 400 * 86400))  # a file written on another day
    try:
        services.attach_data_directory(benchmark, speech_data_dir)
    finally:
        os.utime(path, (stat.st_atime, stat.st_mtime))
    assert services.data_version(benchmark) == before
