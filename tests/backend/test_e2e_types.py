"""Every algorithm benchmark type end to end through a real worker: upload, validate, score, leaderboard."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from backend.submissions.models import Submission, SubmissionPart
from fixtures import synthetic
from tests.conftest import Worker, add_benchmark, make_challenge, wait_for_status

from .test_e2e_worker import offline_score

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TYPES = ["debugging", "valuation", "slicing", "training-set", "data-acquisition"]


@pytest.fixture(scope="module")
def worker():
    w = Worker(concurrency=2)
    yield w
    w.stop()


@pytest.mark.parametrize("type_slug", TYPES)
def test_type_is_scored_through_the_worker(type_slug, users, tmp_path, worker):
    name = type_slug.replace("-", "_")
    data_dir = getattr(synthetic, f"write_{name}_data")(tmp_path / "data", seed=2)
    path = getattr(synthetic, f"{name}_submission")(data_dir, tmp_path / "submission", seed=2)
    challenge = make_challenge(users["organizer"], slug=f"c-{type_slug}")
    add_benchmark(challenge, type_slug, data_dir, slug="b")
    client = APIClient()
    client.force_authenticate(users["alice"])
    created = client.post("/api/submissions/", {"challenge": challenge.slug, "benchmark": "b",
                                                "file": SimpleUploadedFile(path.name, path.read_bytes())}, format="multipart")
    assert created.status_code == 201, created.json()
    submission = wait_for_status(Submission.objects.get(pk=created.json()["id"]), {"scored", "failed"})
    assert submission.status == "scored", submission.failure_reason
    expected = offline_score(type_slug, data_dir, path)
    row = client.get(f"/api/challenges/{challenge.slug}/benchmarks/b/leaderboard/").json()["rows"][0]
    assert row["entrant"] == "alice" and row["score"] == pytest.approx(expected, abs=1e-12)
    # A malformed file of the same type is refused at upload with a reason, never a 500.
    bad = client.post("/api/submissions/", {"challenge": challenge.slug, "benchmark": "b",
                                            "file": SimpleUploadedFile(path.name, b"garbage\x00\x01")}, format="multipart")
    assert bad.status_code == 400 and bad.json()["errors"]["file"]


def test_debugging_tasks_fan_out_and_curves_follow(users, tmp_path, worker):
    data_dir = synthetic.write_debugging_data(tmp_path / "data", tasks=("t1", "t2", "t3"), seed=4)
    path = synthetic.debugging_submission(data_dir, tmp_path / "ranking", seed=4)
    challenge = make_challenge(users["organizer"], slug="dbg")
    benchmark = add_benchmark(challenge, "debugging", data_dir, slug="b")   # config names no model
    assert benchmark.data_summary["model"] == "dataperf-torch"   # DataPerf's own model by default
    # The benchmark page's facts: noisy vs clean accuracy per task, computed when the data was attached.
    assert set(benchmark.data_summary["tasks"]) == {"t1", "t2", "t3"}
    assert all(t["clean_accuracy"] > t["noisy_accuracy"] for t in benchmark.data_summary["tasks"].values())
    from backend.submissions import services

    with open(path, "rb") as fh:
        submission = services.create_submission(user=users["bob"], benchmark=benchmark,
                                                uploaded_file=SimpleUploadedFile(path.name, fh.read()))
    submission = wait_for_status(submission, {"scored", "failed"})
    assert submission.status == "scored", submission.failure_reason
    assert SubmissionPart.objects.filter(submission=submission).count() == 3
    assert submission.details["model"] == "dataperf-torch"
    assert {t["model"] for t in submission.details["tasks"].values()} == {"dataperf-torch"}
    assert submission.scores.get(metric="fraction_fixes").value == pytest.approx(offline_score("debugging", data_dir, path))
    import time

    deadline = time.time() + 60
    while "curves" not in submission.details and time.time() < deadline:
        time.sleep(0.5)
        submission.refresh_from_db()
    curves = submission.details["curves"]
    assert set(curves) == {"t1", "t2", "t3"}
    assert set(curves["t1"]) == {"submission", "random", "oracle"}
    assert len(curves["t1"]["submission"]["accuracy"]) <= 31  # downsampled: no per-row label leak
