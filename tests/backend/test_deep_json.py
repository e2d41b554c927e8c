"""JSON nested deeper than the decoder's recursion limit (a few kilobytes: ``{"a":{"a":...``) is a 400
that says so on every endpoint that reads a body, and a form error in the admin's config box — it
used to be a RecursionError, a 500 on ~90 endpoints for any signed-in user."""
import re

import pytest
from rest_framework.test import APIClient

from backend.core.parsers import MAX_DEPTH
from tests.backend.test_organizer_admin import organizer_admin  # noqa: F401 - fixture
from tests.backend.test_journey_bugs import _benchmark_form
from tests.conftest import add_benchmark
from tests.verification.conftest import test_set_data_dir  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

UNTERMINATED = b'{"a":' * 3000             # what a fuzzer sends: never closed
VALID_DEEP = b"[" * 500 + b"]" * 500         # well-formed, within json's own limit, beyond ours
JUST_INSIDE = b'{"x":' * (MAX_DEPTH - 1) + b"[]" + b"}" * (MAX_DEPTH - 1)


def _write_paths(client, values: dict) -> list[tuple[str, str]]:
    schema = client.get("/api/schema/?format=json").json()
    found = []
    for path, operations in schema["paths"].items():
        concrete = re.sub(r"{([^}]+)}", lambda m: str(values.get(m.group(1), 1)), path)
        found += [(method, concrete) for method in operations if method in ("post", "put", "patch")]
    return found


def test_every_endpoint_that_reads_a_body_refuses_deep_json_with_a_400(speech_challenge, users, test_set_data_dir):
    from backend.submissions.models import Submission

    add_benchmark(speech_challenge, "test-set", test_set_data_dir, slug="ts")
    own = Submission.objects.create(phase=speech_challenge.phases.get(), benchmark=speech_challenge.benchmarks.get(slug="ts"),
                                    user=users["alice"], status=Submission.Status.QUEUED, original_name="s.csv",
                                    sha256="0" * 64, file="submissions/x.csv")
    client = APIClient()
    client.force_authenticate(users["alice"])
    refused = set()
    for benchmark in ("en-25", "ts"):
        paths = _write_paths(client, {"slug": "kws", "challenge": "kws", "benchmark": benchmark, "pk": own.pk,
                                      "id": own.pk, "submission_id": own.pk})
        assert len(paths) >= 10
        for body in (UNTERMINATED, VALID_DEEP):
            for method, path in paths:
                response = getattr(client, method)(path, body, content_type="application/json")
                assert response.status_code < 500, (method, path, response.status_code)
                if response.status_code == 400 and "nested at least" in response.json().get("detail", ""):
                    refused.add(path)
    # the endpoints that read a body once the caller may use them say why
    assert {"/api/auth/token/", "/api/verify/kws/ts/submit/", "/api/verify/kws/ts/rounds/",
            f"/api/submissions/{own.pk}/select/"} <= refused, refused
    # signed out too (token requests read the body first)
    anonymous = APIClient().post("/api/auth/token/", UNTERMINATED, content_type="application/json")
    assert anonymous.status_code == 400
    assert f"at most {MAX_DEPTH} are allowed" in anonymous.json()["detail"]


def test_json_within_the_bound_still_parses(users):
    client = APIClient()
    response = client.post("/api/auth/token/", JUST_INSIDE, content_type="application/json")
    assert response.status_code == 400 and "nested" not in response.json()["detail"]   # read, then refused: no username
    ok = client.post("/api/auth/token/", {"username": "alice", "password": "alice-password"}, format="json")
    assert ok.status_code == 200 and ok.json()["token"]


def test_a_deep_config_in_the_admin_is_a_form_error_and_nothing_changes(organizer_admin, speech_challenge):  # noqa: F811
    benchmark = speech_challenge.benchmarks.get()
    before = dict(benchmark.config)
    data = _benchmark_form(benchmark, list(benchmark.artifacts.all()))
    data["config"] = "[" * 3000 + "]" * 3000
    response = organizer_admin.post(f"/admin/challenges/benchmark/{benchmark.pk}/change/", data)
    assert response.status_code == 200 and f"nested more than {MAX_DEPTH} levels deep" in response.content.decode()
    benchmark.refresh_from_db()
    assert benchmark.config == before
