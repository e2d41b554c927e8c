"""Concurrent votes: the last needed vote cast by two annotators at once resolves the item exactly once,
and no vote or counter update is lost."""
import threading

import pytest
from django.db import connection

from backend.verification import services
from backend.verification.models import Target, Verification

from .conftest import fooling_pairs, make_annotators, propose, scores, target_of, verify

pytestmark = pytest.mark.django_db(transaction=True)


def race(calls):
    """Run the calls in threads released together; returns (results, errors)."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []

    def run(call):
        try:
            barrier.wait(timeout=10)
            results.append(call())
        except Exception as error:  # noqa: BLE001 - collected for the assertions
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_two_annotators_casting_the_last_needed_vote_at_once(ts_benchmark, users, truth):
    pair = fooling_pairs(ts_benchmark, truth, 1)[0]
    submission = propose(users["alice"], ts_benchmark, [pair])
    target = target_of(ts_benchmark, *pair)
    verify(target, make_annotators(2))          # 2 of the 3 matching votes
    first, second = make_annotators(2)
    results, errors = race([
        lambda: services.record_vote(user=first, target=target, verdict="correct"),
        lambda: services.record_vote(user=second, target=target, verdict="correct"),
    ])
    assert not errors, errors
    assert sorted(r.resolved_now for r in results) == [False, True]   # exactly one resolution
    target.refresh_from_db()
    assert target.status == Target.Status.CORRECT and target.resolved_by == "consensus"
    assert target.correct_count == target.vote_count == 4 == Verification.objects.filter(target=target).count()
    assert scores(submission)["credit"] == 1.0


def test_a_double_submitted_vote_is_recorded_once(ts_benchmark, users, truth):
    pair = fooling_pairs(ts_benchmark, truth, 1)[0]
    propose(users["alice"], ts_benchmark, [pair])
    target = target_of(ts_benchmark, *pair)
    annotator = make_annotators(1)[0]
    results, errors = race([lambda: services.record_vote(user=annotator, target=target, verdict="correct")] * 2)
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], services.VerificationRejected) and errors[0].status_code == 409
    target.refresh_from_db()
    assert target.vote_count == 1 == Verification.objects.count()
