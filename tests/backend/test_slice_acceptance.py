"""Organizers accept a newly discovered slice into the ground truth; the benchmark is re-scored."""
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from backend.challenges.services import data_version
from backend.submissions import services
from backend.submissions.models import Submission
from fixtures import synthetic
from tests.conftest import add_benchmark, make_challenge

pytestmark = pytest.mark.django_db


@pytest.fixture
def slicing_submission(users, tmp_path):
    data_dir = synthetic.write_slicing_data(tmp_path / "data", seed=1)
    path = synthetic.slicing_submission(data_dir, tmp_path / "slices", seed=1)
    challenge = make_challenge(users["organizer"], slug="slices")
    benchmark = add_benchmark(challenge, "slicing", data_dir, slug="b")
    submission = services.create_submission(user=users["alice"], benchmark=benchmark,
                                            uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()))
    _, token = services.claim_for_evaluation(submission.pk)
    from evaluation import Result

    services.complete_evaluation(submission.pk, token, Result(scores={"slice_accuracy": 0.5, "mean_precision_at_k": 0.5}),
                                 "slice_accuracy")
    return Submission.objects.get(pk=submission.pk)


def test_accepting_a_slice_adds_it_to_the_hidden_truth_and_rescores(slicing_submission, users):
    benchmark = slicing_submission.benchmark
    before = data_version(benchmark)
    client = APIClient()
    client.force_authenticate(users["organizer"])
    response = client.post(f"/api/submissions/{slicing_submission.pk}/accept-slice/", {"slice": "c0", "name": "found-by-alice"})
    assert response.status_code == 200, response.json()
    assert response.json()["rescored_submissions"] == 1
    assert data_version(benchmark) != before
    hidden = benchmark.artifacts.get(visibility="hidden")
    names = zipfile.ZipFile(hidden.file.path).namelist()
    assert "slices/extra_found-by-alice.csv" in names
    slicing_submission.refresh_from_db()
    assert slicing_submission.status == "queued" and not slicing_submission.scores.exists()
    # The new ground truth loads, with the accepted slice marked as an extra.
    problem = services.load_benchmark_problem(benchmark)
    assert problem.extra == frozenset({"extra_found-by-alice"})
    again = client.post(f"/api/submissions/{slicing_submission.pk}/accept-slice/", {"slice": "c0", "name": "found-by-alice"})
    assert again.status_code == 409


def test_bad_requests_name_the_problem(slicing_submission, users):
    client = APIClient()
    client.force_authenticate(users["organizer"])
    unknown = client.post(f"/api/submissions/{slicing_submission.pk}/accept-slice/", {"slice": "nope", "name": "x"})
    assert unknown.status_code == 400 and "nope" in unknown.json()["errors"]["slice"][0]
    bad_name = client.post(f"/api/submissions/{slicing_submission.pk}/accept-slice/", {"slice": "c0", "name": "a/b"})
    assert bad_name.status_code == 400 and "name" in bad_name.json()["errors"]
    client.force_authenticate(users["alice"])
    assert client.post(f"/api/submissions/{slicing_submission.pk}/accept-slice/",
                       {"slice": "c0", "name": "mine"}).status_code == 403
