"""Slicing uploads: a bad score file is refused at once with the reason (HTTP 400, nothing stored); the
participant downloads the held-out list but never the slices."""
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from backend.submissions.models import Submission
from fixtures import synthetic
from tests.conftest import add_benchmark, make_challenge

pytestmark = pytest.mark.django_db


@pytest.fixture
def benchmark(users, tmp_path):
    data_dir = synthetic.write_slicing_data(tmp_path / "data", seed=3)
    return add_benchmark(make_challenge(users["organizer"], slug="slc"), "slicing", data_dir, slug="b"), data_dir


def _post(user, content: bytes, name="scores.csv"):
    client = APIClient()
    client.force_authenticate(user)
    return client.post("/api/submissions/", {"challenge": "slc", "benchmark": "b",
                                             "file": SimpleUploadedFile(name, content)}, format="multipart")


def _ids(data_dir):
    import pandas as pd

    return list(pd.read_parquet(data_dir / "data.parquet")["id"]), list(pd.read_csv(data_dir / "heldout.csv")["id"])


def test_bad_score_files_are_refused_with_the_reason(benchmark, users):
    _, data_dir = benchmark
    _, heldout = _ids(data_dir)
    eleven = "id," + ",".join(f"s{j}" for j in range(11)) + "\n" + "".join(
        f"{i}" + ",0.5" * 11 + "\n" for i in heldout)
    cases = {
        eleven: "11 slice columns; at most 10 are allowed",
        "id,s\n" + "".join(f"{i},1\n" for i in heldout[1:]): "held-out row(s) of heldout.csv missing",
        "id,s\n" + "".join(f"{i},x\n" for i in heldout): "line 2, column 's': 'x' is not a number",
        "id\n" + "".join(f"{i}\n" for i in heldout): "no slice columns",
    }
    for text, reason in cases.items():
        response = _post(users["alice"], text.encode())
        assert response.status_code == 400, response.json()
        assert reason in response.json()["errors"]["file"][0]
    assert not Submission.objects.exists()
    good = "id,s\n" + "".join(f"{i},{n % 2}\n" for n, i in enumerate(heldout))
    assert _post(users["alice"], good.encode()).status_code == 201


def test_the_public_download_has_the_held_out_list_and_no_slices(benchmark, users):
    bench, data_dir = benchmark
    public = bench.artifacts.get(visibility="public")
    names = zipfile.ZipFile(io.BytesIO(public.file.read())).namelist()
    assert "heldout.csv" in names and "data.parquet" in names
    assert not [name for name in names if name.startswith("slices/")]
    hidden = zipfile.ZipFile(bench.artifacts.get(visibility="hidden").file.path).namelist()
    assert sorted(hidden) == ["slices/slice0.csv", "slices/slice1.csv", "slices/slice2.csv"]
