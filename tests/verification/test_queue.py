"""The annotator queue: least-verified first, never your own items, never the same item twice."""
import pytest

from backend.verification import selectors, services

from .conftest import fooling_pairs, make_annotators, plain_pairs, propose, target_of, verify

pytestmark = pytest.mark.django_db


def served(annotator, benchmark):
    target = selectors.next_target(annotator, benchmark)
    return None if target is None else (target.item_id, target.label)


def test_least_verified_items_come_first(ts_benchmark, users, truth):
    first, second, third = fooling_pairs(ts_benchmark, truth, 3)
    propose(users["alice"], ts_benchmark, [first, second, third])
    verify(target_of(ts_benchmark, *first), make_annotators(2))
    verify(target_of(ts_benchmark, *second), make_annotators(1))
    fresh = make_annotators(1)[0]
    assert served(fresh, ts_benchmark) == third
    services.record_vote(user=fresh, target=target_of(ts_benchmark, *third), verdict="correct")
    assert served(fresh, ts_benchmark) == second
    services.record_vote(user=fresh, target=target_of(ts_benchmark, *second), verdict="incorrect")
    assert served(fresh, ts_benchmark) == first


def test_never_the_same_item_twice_and_resolved_items_leave(ts_benchmark, users, truth):
    pairs = fooling_pairs(ts_benchmark, truth, 2)
    propose(users["alice"], ts_benchmark, pairs)
    annotator, *others = make_annotators(4)
    seen = []
    while (pair := served(annotator, ts_benchmark)) is not None:
        seen.append(pair)
        services.record_vote(user=annotator, target=target_of(ts_benchmark, *pair), verdict="correct")
    assert sorted(seen) == sorted(pairs)
    verify(target_of(ts_benchmark, *pairs[0]), others)   # resolved by consensus
    assert served(others[0], ts_benchmark) == pairs[1]
    assert selectors.queue_counts(annotator, ts_benchmark) == {"remaining": 0, "verified_by_you": 2, "pending": 1}


def test_never_your_own_items_or_your_teams(ts_benchmark, users, truth):
    from backend.accounts.models import Team

    own, teams, others = fooling_pairs(ts_benchmark, truth, 3)
    users["annotator"].role = "annotator"
    team = Team.objects.create(name="t", created_by=users["bob"])
    team.members.add(users["bob"], users["annotator"])
    propose(users["annotator"], ts_benchmark, [own])
    propose(users["bob"], ts_benchmark, [teams], team=team)
    propose(users["alice"], ts_benchmark, [others, own])
    assert [t.item_id for t in selectors.queue(users["annotator"], ts_benchmark)] == [others[0]]


def test_items_that_fool_no_majority_are_not_queued_unless_configured(ts_benchmark, users, truth):
    plain = plain_pairs(ts_benchmark, 1)
    propose(users["alice"], ts_benchmark, plain)
    annotator = make_annotators(1)[0]
    assert served(annotator, ts_benchmark) is None
    ts_benchmark.config = {**ts_benchmark.config, "verify_non_fooling": True}
    ts_benchmark.save()
    assert served(annotator, ts_benchmark) == plain[0]
