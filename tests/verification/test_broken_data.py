"""The pool browser's "submit my set" on a benchmark whose hidden data is broken: 503, nothing stored."""
import shutil
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from backend.challenges.models import DatasetArtifact
from backend.challenges.services import data_version
from backend.submissions.models import Submission
from evaluation import cache as problem_cache

pytestmark = pytest.mark.django_db


def test_submitting_a_set_to_a_benchmark_with_corrupt_hidden_data_is_a_503(ts_challenge, users, settings):
    benchmark = ts_challenge.benchmarks.get(slug="adversarial")
    hidden = benchmark.artifacts.get(visibility=DatasetArtifact.Visibility.HIDDEN)
    Path(hidden.file.path).write_bytes(b"PK\x05\x06 not really a zip")
    shutil.rmtree(Path(settings.EVALUATION_DATA_CACHE) / data_version(benchmark), ignore_errors=True)
    problem_cache.clear()
    client = APIClient()
    client.force_authenticate(users["alice"])
    response = client.post("/api/verify/shapes/adversarial/submit/",
                           {"items": [{"item_id": "item-001", "label": "circle"}]}, format="json")
    assert response.status_code == 503
    assert "data is unavailable right now; the organizers have been told" in response.json()["detail"]
    assert not Submission.objects.exists()
