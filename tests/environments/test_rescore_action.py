"""Provenance of in-process scores, and the admin action that re-scores a benchmark after its
environment changed."""
from __future__ import annotations

from pathlib import Path

import pytest

from backend.submissions import services
from backend.submissions.models import Submission
from tests.backend.helpers import speech_upload

from .conftest import PINNED

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/challenges/benchmark/"


@pytest.fixture(autouse=True)
def organizer_permissions(users):
    from fixtures.demo import grant_organizer_permissions

    for name in ("organizer", "other_organizer"):
        grant_organizer_permissions(users[name])


def scored_submission(benchmark, user, data_dir, seed):
    """Uploaded, claimed and scored by the same service calls a worker makes (in this process)."""
    submission = services.create_submission(user=user, benchmark=benchmark, uploaded_file=speech_upload(data_dir, seed=seed))
    submission, token = services.claim_for_evaluation(submission.pk)
    benchmark_type = benchmark.benchmark_type
    problem = services.load_benchmark_problem(benchmark)
    solution = benchmark_type.load_submission(problem, Path(submission.file.path), benchmark.effective_config)
    result = benchmark_type.evaluate(problem, solution, benchmark.effective_config)
    assert services.complete_evaluation(submission.pk, token, result, benchmark_type.primary_metric)
    submission.refresh_from_db()
    return submission


@pytest.fixture
def scored(speech_challenge, users, speech_data_dir):
    benchmark = speech_challenge.benchmarks.get()
    return [scored_submission(benchmark, users[name], speech_data_dir, seed)
            for seed, name in enumerate(("alice", "bob"))]


def test_in_process_scores_record_the_platform_environment(scored, client, users):
    record = scored[0].environment
    assert record["environment"] == "current" and record["scikit-learn"] == "1.8.0" and record["numpy"] == "2.4.6"
    client.force_login(users["alice"])
    body = client.get(f"/api/submissions/{scored[0].pk}/").json()
    assert body["environment"] == record
    board = client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").json()
    assert {row["environment"] for row in board["rows"]} == {"current (scikit-learn 1.8.0)"}
    assert client.get("/api/challenges/kws/").json()["benchmarks"][0]["environment"] == "current"


def _job_messages(callbacks) -> list:
    """The after-commit callbacks that publish a job (live-update notices are sent after commit too)."""
    return [callback for callback in callbacks if callback.__qualname__.startswith("enqueue.")]


def test_pinning_and_rescoring_is_one_admin_action(scored, client, users, speech_challenge,
                                                   django_capture_on_commit_callbacks):
    benchmark = speech_challenge.benchmarks.get()
    client.force_login(users["organizer"])
    form = client.get(f"{CHANGELIST}{benchmark.pk}/change/").content.decode()
    assert 'name="environment"' in form and PINNED in form
    benchmark.environment = PINNED
    benchmark.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(CHANGELIST, {"action": "rescore_benchmarks", "_selected_action": [benchmark.pk]},
                               follow=True)
    assert response.status_code == 200
    assert "queued 2 scored submission(s) again, to be scored in the dataperf-2023 environment" in response.content.decode()
    assert len(_job_messages(callbacks)) == 2  # one Celery message per submission, sent after commit
    for submission in scored:
        submission.refresh_from_db()
        assert submission.status == Submission.Status.QUEUED
        assert submission.environment == {} and not submission.scores.exists()
        assert "re-run requested by org" in submission.log
    # A second click finds nothing scored: nothing is queued twice.
    with django_capture_on_commit_callbacks(execute=False) as again:
        client.post(CHANGELIST, {"action": "rescore_benchmarks", "_selected_action": [benchmark.pk]})
    assert len(_job_messages(again)) == 0


def test_another_organizer_cannot_rescore_the_benchmark(scored, client, users, speech_challenge,
                                                        django_capture_on_commit_callbacks):
    benchmark = speech_challenge.benchmarks.get()
    client.force_login(users["other_organizer"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(CHANGELIST, {"action": "rescore_benchmarks", "_selected_action": [benchmark.pk]})
    assert len(_job_messages(callbacks)) == 0
    assert all(Submission.objects.get(pk=s.pk).status == Submission.Status.SCORED for s in scored)


def test_saving_a_benchmark_pinned_to_an_unbuilt_environment_warns(client, users, speech_challenge,
                                                                  unbuilt_environments):
    benchmark = speech_challenge.benchmarks.get()
    client.force_login(users["organizer"])
    response = client.get(f"{CHANGELIST}{benchmark.pk}/change/")
    form = response.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(environment=PINNED, config="{\"train_size\": 25}", challenge=speech_challenge.pk)
    for prefix in ("artifacts",):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(f"{CHANGELIST}{benchmark.pk}/change/", data, follow=True)
    page = response.content.decode()
    benchmark.refresh_from_db()
    assert benchmark.environment == PINNED, page[:3000]
    assert "python manage.py build_environment dataperf-2023" in page
    assert "Re-score scored submissions" in page


def test_a_damaged_file_fails_in_the_pinned_environment_with_the_validators_sentence(
        dataperf_2023, speech_challenge, users, speech_data_dir, tmp_path):
    from backend.submissions import environment_runner, runner

    benchmark = speech_challenge.benchmarks.get()
    benchmark.environment = PINNED
    benchmark.save()
    submission = services.create_submission(user=users["alice"], benchmark=benchmark,
                                            uploaded_file=speech_upload(speech_data_dir))
    Path(submission.file.path).write_bytes(b"{broken")  # damaged in storage after it was accepted
    submission, token = services.claim_for_evaluation(submission.pk)
    environment_runner.score(submission, token, tmp_path, lambda fraction, message: None, runner._complete)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert submission.failure_reason.startswith("invalid submission:") and "JSON" in submission.failure_reason
    assert "exit status 2" in submission.log and "-m evaluation score speech-selection" in submission.log
    assert submission.environment == {} and not submission.scores.exists()


# --- a torch benchmark is refused the torch-less dataperf-2023 environment at once ------------------------
@pytest.fixture
def torch_debugging(speech_challenge):
    """A debugging benchmark whose config names no model: DataPerf's torch model (the type's default)."""
    from backend.challenges.models import Benchmark

    return Benchmark.objects.create(challenge=speech_challenge, slug="cleaning", title="Cleaning",
                                    type_slug="debugging", config={})


def test_the_admin_refuses_to_pin_a_torch_benchmark_to_an_environment_without_torch(client, users, torch_debugging):
    from tests.backend.test_journey_bugs import _benchmark_form

    client.force_login(users["organizer"])
    url = f"{CHANGELIST}{torch_debugging.pk}/change/"
    response = client.post(url, {**_benchmark_form(torch_debugging, []), "environment": PINNED})
    assert response.status_code == 200   # the form again, with the reason
    page = response.content.decode()
    assert "the dataperf-2023 environment has no torch, which this debugging benchmark needs for its model " \
           "dataperf-torch" in page and "set model to knn" in page
    torch_debugging.refresh_from_db()
    assert torch_debugging.environment == "current"
    # the k-NN stand-in needs scikit-learn only: that pin is accepted
    response = client.post(url, {**_benchmark_form(torch_debugging, []), "environment": PINNED,
                                 "config": '{"model": "knn"}'}, follow=True)
    torch_debugging.refresh_from_db()
    assert torch_debugging.environment == PINNED and torch_debugging.config == {"model": "knn"}
    # switching the pinned benchmark back to the torch model is refused the same way
    response = client.post(url, {**_benchmark_form(torch_debugging, []), "config": '{"model": "dataperf-torch"}'})
    assert "has no torch" in response.content.decode()
    torch_debugging.refresh_from_db()
    assert torch_debugging.config == {"model": "knn"}
    # and a misspelt key is named, not saved
    response = client.post(url, {**_benchmark_form(torch_debugging, []), "config": '{"modle": "knn"}'})
    assert "unknown config keys for debugging: modle" in response.content.decode()


def _scored_row(benchmark, user):
    return Submission.objects.create(phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user,
                                     status=Submission.Status.SCORED, original_name="r.txt", sha256="0" * 64,
                                     file="submissions/r.txt")


def test_rescoring_a_torch_benchmark_pinned_without_torch_is_refused_before_anything_is_queued(
        client, users, torch_debugging, django_capture_on_commit_callbacks):
    from backend.challenges.models import Benchmark

    scored = _scored_row(torch_debugging, users["alice"])
    Benchmark.objects.filter(pk=torch_debugging.pk).update(environment=PINNED)  # pinned outside the admin
    torch_debugging.refresh_from_db()
    with pytest.raises(services.SubmissionRejected, match="has no torch.*nothing was re-queued"):
        services.rescore_benchmark(torch_debugging, by=users["organizer"])
    client.force_login(users["organizer"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(CHANGELIST, {"action": "rescore_benchmarks", "_selected_action": [torch_debugging.pk]},
                               follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "the dataperf-2023 environment has no torch" in page
    assert "queued" not in page.replace("re-queued", "")
    assert len(_job_messages(callbacks)) == 0
    scored.refresh_from_db()
    assert scored.status == Submission.Status.SCORED


def test_a_worker_fails_such_a_submission_at_once_with_the_reason(dataperf_2023, users, speech_challenge, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from backend.challenges.models import Benchmark
    from backend.submissions import environment_runner, runner
    from fixtures import synthetic
    from tests.conftest import add_benchmark

    data = synthetic.write_debugging_data(tmp_path / "data", tasks=("t1",), n_train=40, dim=8, seed=1)
    benchmark = add_benchmark(speech_challenge, "debugging", data, slug="cleaning")
    ranking = synthetic.debugging_submission(data, tmp_path / "ranking", seed=1)
    submission = services.create_submission(user=users["alice"], benchmark=benchmark,
                                            uploaded_file=SimpleUploadedFile(ranking.name, ranking.read_bytes()))
    Benchmark.objects.filter(pk=benchmark.pk).update(environment=PINNED)  # pinned outside the admin
    submission, token = services.claim_for_evaluation(submission.pk)
    environment_runner.score(submission, token, tmp_path, lambda fraction, message: None, runner._complete)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.FAILED
    assert submission.failure_reason == (
        "this benchmark cannot be scored yet: the dataperf-2023 environment has no torch, which this debugging "
        "benchmark needs for its model dataperf-torch (DataPerf's own); keep it in an environment with torch "
        "(current), or set model to knn (the fast stand-in), logreg or random_forest")
