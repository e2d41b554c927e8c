"""Data-acquisition uploads: a plan over budget, naming an unknown seller or asking more rows than a seller
has is refused at once with the sentence (HTTP 400, nothing stored); the public download has the market
summaries, samples and validation set but never the sellers' pools or the test set."""
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
    data_dir = synthetic.write_acquisition_data(tmp_path / "data", seed=3)
    return add_benchmark(make_challenge(users["organizer"], slug="dam"), "data-acquisition", data_dir, slug="m0")


def _post(user, content: bytes, name="plan.csv"):
    client = APIClient()
    client.force_authenticate(user)
    return client.post("/api/submissions/", {"challenge": "dam", "benchmark": "m0",
                                             "file": SimpleUploadedFile(name, content)}, format="multipart")


def test_bad_plans_are_refused_with_the_reason(benchmark, users):
    cases = {
        ("plan.csv", "seller_id,count\nseller-a,80\nseller-b,30\n"): "the purchase costs 85, over the budget of 60",
        ("plan.csv", "seller_id,count\nseller-q,1\n"): "seller seller-q: unknown seller",
        ("plan.csv", "seller_id,count\nseller-a,500\n"): "500 rows asked, the seller has only 80",
        ("plan.json", '{"seller-a": -3}'): "seller seller-a: -3 is negative",
        ("0.txt", "1,2\n"): "2 counts for 5 sellers",
    }
    for (name, text), reason in cases.items():
        response = _post(users["alice"], text.encode(), name)
        assert response.status_code == 400, response.json()
        assert reason in response.json()["errors"]["file"][0]
    assert not Submission.objects.exists()
    assert _post(users["alice"], b"10,10,0,0,10\n", "0.txt").status_code == 201


def test_the_public_download_hides_pools_and_test(benchmark):
    names = zipfile.ZipFile(io.BytesIO(benchmark.artifacts.get(visibility="public").file.read())).namelist()
    assert "market.json" in names and "validation.parquet" in names and "samples/seller-a.parquet" in names
    assert not [name for name in names if name.startswith("hidden/")]
    hidden = zipfile.ZipFile(benchmark.artifacts.get(visibility="hidden").file.path).namelist()
    assert "hidden/test.parquet" in hidden and "hidden/sellers/seller-a.parquet" in hidden
