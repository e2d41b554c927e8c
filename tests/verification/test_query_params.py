"""The verification endpoints' query parameters: 400 naming the parameter, never a 500."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

BASE = "/api/verify/shapes/adversarial"


@pytest.mark.parametrize("path, params, field", [
    ("proposals/", {"phase": "abc"}, "phase"),
    ("proposals/", {"phase": "99999999999999999999999"}, "phase"),
    ("pool/", {"page": "x"}, "page"),
    ("pool/", {"page": "0"}, "page"),
    ("pool/", {"page": "10000000000000"}, "page"),
    ("pool/", {"disagree": "maybe"}, "disagree"),
    ("pool/", {"q": "q" * 1000}, "q"),
])
def test_malformed_parameters_are_a_400_naming_them(ts_challenge, users, path, params, field):
    client = APIClient()
    client.force_authenticate(users["alice"])
    response = client.get(f"{BASE}/{path}", params)
    assert response.status_code == 400, response.content[:200]
    assert list(response.json()["errors"]) == [field]


def test_valid_parameters_still_answer(ts_challenge, users):
    client = APIClient()
    client.force_authenticate(users["alice"])
    phase = ts_challenge.phases.get()
    assert client.get(f"{BASE}/proposals/", {"phase": phase.pk}).json()["items"] == []
    page = client.get(f"{BASE}/pool/", {"page": "1", "disagree": "0", "q": ""}).json()
    assert page["page"] == 1 and page["items"]
