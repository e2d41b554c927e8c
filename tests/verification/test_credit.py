"""The credit split on the leaderboard: verified fooling items only, shared between the entrants who found them."""
import pytest

from backend.accounts.models import Team
from backend.challenges.models import Phase
from backend.leaderboards import selectors as leaderboard_selectors
from backend.submissions.models import Submission
from backend.verification import services

from .conftest import fooling_pairs, make_annotators, plain_pairs, propose, scores, target_of, verify

pytestmark = pytest.mark.django_db


def board(benchmark):
    phase = benchmark.challenge.phases.get()
    phase.refresh_from_db()
    return {row["entrant"]: row for row in leaderboard_selectors.leaderboard_rows(phase, benchmark)}


def test_an_item_in_three_submissions_gives_each_one_third(ts_benchmark, users, truth):
    shared, alone = fooling_pairs(ts_benchmark, truth, 2)
    carol = users["annotator"].__class__.objects.create_user(username="carol", password="pw")
    alice = propose(users["alice"], ts_benchmark, [shared, alone])
    bob = propose(users["bob"], ts_benchmark, [shared])
    carol_sub = propose(carol, ts_benchmark, [shared])
    assert scores(alice)["credit"] == 0.0 and scores(alice)["fooled"] == 2.0   # nothing verified yet
    verify(target_of(ts_benchmark, *shared), make_annotators(3))
    assert scores(alice)["credit"] == pytest.approx(1 / 3)
    assert scores(bob)["credit"] == pytest.approx(1 / 3) and scores(carol_sub)["credit"] == pytest.approx(1 / 3)
    verify(target_of(ts_benchmark, *alone), make_annotators(3))
    assert scores(alice)["credit"] == pytest.approx(1 + 1 / 3)
    assert scores(alice)["verified"] == 2.0 and scores(bob)["verified"] == 1.0
    rows = board(ts_benchmark)
    assert [rows[n]["rank"] for n in ("alice", "bob", "carol")] == [1, 2, 3]
    assert rows["alice"]["score"] == pytest.approx(4 / 3)


def test_a_new_submission_with_a_verified_item_divides_the_credit_live(ts_benchmark, users, truth):
    pair = fooling_pairs(ts_benchmark, truth, 1)[0]
    alice = propose(users["alice"], ts_benchmark, [pair])
    verify(target_of(ts_benchmark, *pair), make_annotators(3))
    assert scores(alice)["credit"] == 1.0
    version = Phase.objects.get().leaderboard_version
    bob = propose(users["bob"], ts_benchmark, [pair])
    assert scores(alice)["credit"] == 0.5 and scores(bob)["credit"] == 0.5
    assert Phase.objects.get().leaderboard_version > version   # open leaderboards refresh


def test_only_items_that_fool_the_models_and_are_verified_score(ts_benchmark, users, truth):
    fooling = fooling_pairs(ts_benchmark, truth, 2)
    plain = plain_pairs(ts_benchmark, 1)
    alice = propose(users["alice"], ts_benchmark, fooling + plain)
    assert scores(alice)["fooled"] == 2.0
    verify(target_of(ts_benchmark, *plain[0]), make_annotators(3))        # verified, but the models agree
    verify(target_of(ts_benchmark, *fooling[0]), make_annotators(3), "incorrect")   # fools them, label wrong
    assert scores(alice)["credit"] == 0.0
    verify(target_of(ts_benchmark, *fooling[1]), make_annotators(3))
    assert scores(alice)["credit"] == 1.0


def test_an_organizer_override_takes_credit_back(ts_benchmark, users, truth):
    pair = fooling_pairs(ts_benchmark, truth, 1)[0]
    alice = propose(users["alice"], ts_benchmark, [pair])
    target = target_of(ts_benchmark, *pair)
    verify(target, make_annotators(3))
    assert scores(alice)["credit"] == 1.0
    services.override(user=users["organizer"], target=target, verdict="incorrect", reason="mislabelled")
    assert scores(alice)["credit"] == 0.0


def test_an_entrants_resubmission_does_not_divide_its_own_credit(ts_benchmark, users, truth):
    pair = fooling_pairs(ts_benchmark, truth, 1)[0]
    first = propose(users["alice"], ts_benchmark, [pair])
    second = propose(users["alice"], ts_benchmark, [pair])
    team = Team.objects.create(name="shapes-team", created_by=users["bob"])
    team.members.add(users["bob"])
    team_sub = propose(users["bob"], ts_benchmark, [pair], team=team)
    verify(target_of(ts_benchmark, *pair), make_annotators(3))
    assert [scores(s)["credit"] for s in (first, second, team_sub)] == [0.5, 0.5, 0.5]
    assert list(board(ts_benchmark)) == ["alice", "shapes-team"]


def test_unscored_submissions_do_not_share_credit(ts_benchmark, users, truth):
    from backend.submissions import services as submission_services

    from .conftest import csv_upload

    pair = fooling_pairs(ts_benchmark, truth, 1)[0]
    alice = propose(users["alice"], ts_benchmark, [pair])
    queued = submission_services.create_submission(user=users["bob"], benchmark=ts_benchmark,
                                                   uploaded_file=csv_upload([pair]))
    verify(target_of(ts_benchmark, *pair), make_annotators(3))
    assert queued.status == Submission.Status.QUEUED
    assert scores(alice)["credit"] == 1.0


def test_ingestion_is_idempotent_and_catches_up(ts_benchmark, users, truth):
    pair = fooling_pairs(ts_benchmark, truth, 1)[0]
    alice = propose(users["alice"], ts_benchmark, [pair])
    assert services.ingest_submission(alice.pk)
    assert alice.proposed_items.count() == 1
    alice.proposed_items.all().delete()   # as if the ingestion after the worker's run had been lost
    assert services.ingest_missing(ts_benchmark) == 1
    assert alice.proposed_items.get().model_fooled
