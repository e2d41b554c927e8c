"""The pool browser's "submit my set" on a benchmark whose hidden data is broken: 503, nothing stored."""

import pytest
from rest_framework.test import APIClient

from backend.submissions.models import Submission

pytestmark = pytest.mark.django_db


def test_submitting_a_set_to_a_benchmark_with_corrupt_hidden_data_is_a_503(ts_challenge, users, break_hidden_data):
    benchmark = ts_challenge.benchmarks.get(slug="adversarial")
    break_hidden_data(benchmark, b"PK\x05\x06 not really a zip")
    client = APIClient()
    client.force_authenticate(users["alice"])
    response = client.post("/api/verify/shapes/adversarial/submit/",
                           {"items": [{"item_id": "item-001", "label": "circle"}]}, format="json")
    assert response.status_code == 503
    assert "data is unavailable right now; the organizers have been told" in response.json()["detail"]
    assert not Submission.objects.exists()
