"""Through a real Celery worker: a test-set submission lands, its items reach the annotators' queue and
its credit reaches the leaderboard without anyone else touching it."""
import time

import pytest

from backend.submissions import services as submission_services
from backend.verification import selectors
from backend.verification.models import ProposedItem
from tests.conftest import Worker, wait_for_status

from .conftest import csv_upload, fooling_pairs, make_annotators, scores, target_of, verify

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_landed_submission_is_ingested_by_the_worker(ts_benchmark, users, truth):
    pairs = fooling_pairs(ts_benchmark, truth, 2)
    worker = Worker()
    try:
        submission = submission_services.create_submission(user=users["alice"], benchmark=ts_benchmark,
                                                           uploaded_file=csv_upload(pairs))
        submission = wait_for_status(submission, {"scored", "failed"})
        assert submission.status == "scored", submission.failure_reason
        deadline = time.time() + 30
        while ProposedItem.objects.filter(submission=submission).count() < 2 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        worker.stop()
    assert ProposedItem.objects.filter(submission=submission, model_fooled=True).count() == 2
    assert scores(submission)["credit"] == 0.0 and scores(submission)["fooled"] == 2.0
    annotator = make_annotators(1)[0]
    assert selectors.next_target(annotator, ts_benchmark) is not None
    verify(target_of(ts_benchmark, *pairs[0]), make_annotators(3))
    assert scores(submission)["credit"] == 1.0


def test_the_worker_trains_the_suite_when_test_set_data_is_attached(ts_benchmark):
    """Attaching the data queues a background training of the suite, so the pool's first visitor
    reads the predictions from the shared cache instead of waiting for the models."""
    from django.core.cache import cache

    from backend.challenges.services import data_version
    from evaluation.benchmarks import test_set

    key = f"suite-predictions:{data_version(ts_benchmark)}:{test_set.predictions_key(ts_benchmark.effective_config)}"
    worker = Worker()
    try:
        deadline = time.time() + 60
        while cache.get(key) is None and time.time() < deadline:
            time.sleep(0.3)
    finally:
        worker.stop()
    stored = cache.get(key)
    assert stored is not None, "the worker did not store the suite's predictions"
    problem = submission_services.load_benchmark_problem(ts_benchmark)
    expected = test_set.model_suite_predictions(problem, problem.ratchet, seed=0)
    assert stored["members"] == expected.members
    assert (stored["matrix"] == expected.matrix).all()
