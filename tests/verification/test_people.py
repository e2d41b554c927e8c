"""Organizers manage their challenge's people: annotators and co-organizers per challenge, and who
verified what. The demo's three annotators reach consensus without an override."""
import pytest
from django.test import Client

from backend.accounts.models import User
from backend.challenges.models import Challenge
from backend.orchestration.management.commands.load_demo import DEMO_ACCOUNTS, DEMO_ANNOTATORS, Command
from backend.verification.models import Target
from tests.conftest import make_challenge

from .conftest import fooling_pairs, propose, target_of

pytestmark = pytest.mark.django_db

PEOPLE = "/organize/shapes/people/"
QUEUE_PAGE = "/verify/shapes/adversarial/"
NEXT = "/api/verify/shapes/adversarial/queue/next/"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def outsider(db):
    """An annotator account that belongs to no challenge's annotators (made after the challenges)."""
    return User.objects.create_user(username="freelancer", password="pw", role=User.Role.ANNOTATOR)


def test_organizer_adds_an_annotator_who_then_sees_the_queue_while_a_non_member_gets_404(
        ts_benchmark, users, truth, outsider):
    pairs = fooling_pairs(ts_benchmark, truth, 2)
    propose(users["alice"], ts_benchmark, pairs)
    newcomer = User.objects.create_user(username="newcomer", password="pw", role=User.Role.ANNOTATOR)
    assert signed_in(newcomer).get(QUEUE_PAGE).status_code == 404          # not yet this challenge's annotator

    organizer = signed_in(users["organizer"])
    response = organizer.post(PEOPLE, {"action": "add", "role": "annotator", "username": "newcomer"}, follow=True)
    assert "newcomer is now an annotator" in response.content.decode()
    assert "newcomer" in organizer.get(PEOPLE).content.decode()

    member = signed_in(newcomer)
    assert member.get(QUEUE_PAGE).status_code == 200
    item = member.get(NEXT).json()["item"]
    assert item is not None and (item["item_id"], item["label"]) in set(pairs)
    assert "Verify" in member.get("/verify/").content.decode() and "Start verifying" in member.get("/verify/").content.decode()

    verify_link = 'href="/verify/shapes/adversarial/"'
    assert verify_link in member.get("/challenges/shapes/adversarial/").content.decode()

    stranger = signed_in(outsider)
    assert verify_link not in stranger.get("/challenges/shapes/adversarial/").content.decode()
    assert stranger.get(QUEUE_PAGE).status_code == 404
    assert stranger.get(NEXT).status_code in (403, 404)
    vote = stranger.post(f"/api/verify/shapes/adversarial/items/{target_of(ts_benchmark, *pairs[0]).pk}/vote/",
                         {"verdict": "correct"}, content_type="application/json")
    assert vote.status_code in (403, 404)
    assert not target_of(ts_benchmark, *pairs[0]).votes.exists()

    # Removed again: the queue is gone for them.
    organizer.post(PEOPLE, {"action": "remove", "role": "annotator", "user": newcomer.pk})
    assert member.get(QUEUE_PAGE).status_code == 404


def test_another_challenges_organizer_cannot_see_or_change_the_people(ts_challenge, users, outsider):
    other = signed_in(users["other_organizer"])
    assert other.get(PEOPLE).status_code == 403
    response = other.post(PEOPLE, {"action": "add", "role": "annotator", "username": outsider.username})
    assert response.status_code == 403
    assert not ts_challenge.annotators.filter(pk=outsider.pk).exists()
    assert signed_in(users["alice"]).get(PEOPLE).status_code == 403
    assert Client().get(PEOPLE).status_code == 302                          # to the sign-in page
    # A draft challenge of someone else is not even visible.
    make_challenge(users["organizer"], slug="secret", status="draft")
    assert other.get("/organize/secret/people/").status_code == 404


def test_co_organizer_is_added_and_manages_people_and_the_last_organizer_stays(ts_challenge, users):
    organizer = signed_in(users["organizer"])
    organizer.post(PEOPLE, {"action": "add", "role": "organizer", "username": "bob"})
    bob = User.objects.get(username="bob")
    assert ts_challenge.organizers.filter(pk=bob.pk).exists() and bob.role == User.Role.ORGANIZER
    co = signed_in(bob)
    assert co.get(PEOPLE).status_code == 200
    assert co.get("/verify/shapes/adversarial/manage/").status_code == 200     # organizer tools of this challenge
    co.post(PEOPLE, {"action": "remove", "role": "organizer", "user": users["organizer"].pk})
    assert list(ts_challenge.organizers.all()) == [bob]
    response = co.post(PEOPLE, {"action": "remove", "role": "organizer", "user": bob.pk})
    assert response.status_code == 409 and "at least one organizer" in response.content.decode()
    assert list(ts_challenge.organizers.all()) == [bob]


def test_bad_people_input_is_refused_with_the_problem_named(ts_challenge, users):
    organizer = signed_in(users["organizer"])
    page = organizer.post(PEOPLE, {"action": "add", "role": "annotator", "username": "nobody-here"})
    assert page.status_code == 404 and "no active account is named &#x27;nobody-here&#x27;" in page.content.decode()
    page = organizer.post(PEOPLE, {"action": "add", "role": "judge", "username": "bob"})
    assert page.status_code == 400 and "unknown role &#x27;judge&#x27;" in page.content.decode()
    page = organizer.post(PEOPLE, {"action": "remove", "role": "annotator", "user": "x"})
    assert page.status_code == 400 and "no user was chosen" in page.content.decode()
    page = organizer.post(PEOPLE, {"action": "add", "role": "annotator", "username": "ann"})
    assert page.status_code == 409 and "already an annotator" in page.content.decode()
    assert not ts_challenge.annotators.filter(username__in=["bob"]).exists()


def test_the_demos_three_annotators_reach_consensus_and_the_people_page_shows_who_verified_what(
        ts_benchmark, users, truth):
    demo = Command()
    accounts = demo.accounts()
    assert len(DEMO_ANNOTATORS) >= 3
    demo.add_people(ts_benchmark.challenge, accounts)               # what load_demo does for every demo challenge
    pair = fooling_pairs(ts_benchmark, truth, 1)[0]
    propose(users["alice"], ts_benchmark, [pair])
    target = target_of(ts_benchmark, *pair)
    threshold = ts_benchmark.effective_config["consensus_threshold"]
    assert threshold == 3
    passwords = {name: password for name, _, password, _ in DEMO_ACCOUNTS}
    for name in DEMO_ANNOTATORS[:threshold]:
        client = Client()
        assert client.login(username=name, password=passwords[name])           # the demo credentials work
        served = client.get(NEXT).json()["item"]
        assert served["id"] == target.pk
        vote = client.post(f"/api/verify/shapes/adversarial/items/{target.pk}/vote/", {"verdict": "correct"},
                           content_type="application/json")
        assert vote.status_code == 201, vote.content
    target.refresh_from_db()
    assert target.status == Target.Status.CORRECT and target.resolved_by == Target.ResolvedBy.CONSENSUS

    page = signed_in(accounts["organizer"]).get("/organize/shapes/people/").content.decode()
    for name in DEMO_ANNOTATORS[:threshold]:
        assert f"<td>{name}</td>" in page
    assert page.count(f"<td>{pair[0]}</td>") == threshold                     # each vote on the item is listed
    assert Challenge.objects.get(slug="shapes").annotators.count() >= 3
