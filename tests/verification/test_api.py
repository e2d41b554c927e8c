"""Every verification endpoint, for every role: who may see and do what; bad input is a 400 naming the field."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.challenges.models import Phase
from backend.submissions.models import Submission
from backend.verification.models import Target, Verification

from .conftest import fooling_pairs, make_annotators, propose, target_of, verify

pytestmark = pytest.mark.django_db
BASE = "/api/verify/shapes/adversarial"


def client(user=None):
    c = APIClient()
    if user is not None:
        c.force_authenticate(user)
    return c


@pytest.fixture
def proposed(ts_benchmark, users, truth):
    pairs = fooling_pairs(ts_benchmark, truth, 2)
    propose(users["alice"], ts_benchmark, pairs)
    return [target_of(ts_benchmark, *p) for p in pairs]


ROLES = ("anonymous", "alice", "bob", "annotator", "organizer", "other_organizer")


def as_role(users, role):
    return client(None if role == "anonymous" else users[role])


@pytest.mark.parametrize("role,expected", [
    ("anonymous", {401, 403}), ("alice", {403}), ("bob", {403}), ("annotator", {200}), ("organizer", {200}),
    ("other_organizer", {403, 404}),   # annotators and organizers verify per challenge
])
def test_queue_is_for_annotators_and_organizers(proposed, users, role, expected):
    response = as_role(users, role).get(f"{BASE}/queue/next/")
    assert response.status_code in expected
    if response.status_code == 200:
        item = response.json()["item"]
        assert set(item) == {"id", "label", "item_id", "display", "display_kind"}   # no proposer, no votes
        assert item["display"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("role,expected", [
    ("anonymous", {401, 403}), ("alice", {403}), ("bob", {403}), ("annotator", {201}), ("organizer", {201}),
    ("other_organizer", {403, 404}),   # annotators and organizers verify per challenge
])
def test_votes_are_for_annotators_and_organizers(proposed, users, role, expected):
    response = as_role(users, role).post(f"{BASE}/items/{proposed[0].pk}/vote/", {"verdict": "correct"}, format="json")
    assert response.status_code in expected
    assert Verification.objects.count() == (1 if 201 in expected else 0)


@pytest.mark.parametrize("role,expected", [
    ("anonymous", {401, 403}), ("alice", {403}), ("annotator", {403}), ("other_organizer", {403}), ("organizer", {200}),
])
def test_overrides_are_for_the_challenges_organizers(proposed, users, role, expected):
    response = as_role(users, role).post(f"{BASE}/items/{proposed[0].pk}/override/", {"verdict": "incorrect"}, format="json")
    assert response.status_code in expected
    proposed[0].refresh_from_db()
    assert proposed[0].status == ("incorrect" if 200 in expected else "pending")


@pytest.mark.parametrize("role,expected", [
    ("anonymous", {401, 403}), ("alice", {403}), ("annotator", {403}), ("other_organizer", {403}), ("organizer", {200}),
])
def test_agreement_is_for_the_challenges_organizers(proposed, users, role, expected):
    verify(proposed[0], make_annotators(2), "correct")
    response = as_role(users, role).get(f"{BASE}/agreement/")
    assert response.status_code in expected
    if 200 in expected:
        body = response.json()
        assert body["votes"] == 2 and body["pairwise_agreement"] == 1.0 and body["fleiss_kappa"] == 1.0


@pytest.mark.parametrize("role,expected", [
    ("anonymous", {401, 403}), ("alice", {403}), ("annotator", {403}), ("other_organizer", {403}), ("organizer", {201}),
])
def test_starting_a_round_is_for_the_challenges_organizers(proposed, users, role, expected):
    response = as_role(users, role).post(f"{BASE}/rounds/", {}, format="json")
    assert response.status_code in expected


@pytest.mark.parametrize("role,expected", [
    ("anonymous", {401, 403}), ("alice", {403}), ("annotator", {403}), ("other_organizer", {403}), ("organizer", {200}),
])
def test_refreshing_the_suite_is_for_the_challenges_organizers(ts_benchmark, users, role, expected):
    assert as_role(users, role).post(f"{BASE}/suite/refresh/").status_code in expected


def test_the_ratchet_chart_follows_leaderboard_visibility(ts_benchmark, users):
    assert client().get(f"{BASE}/rounds/").status_code == 200
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)
    assert client(users["alice"]).get(f"{BASE}/rounds/").status_code == 403
    assert client(users["organizer"]).get(f"{BASE}/rounds/").status_code == 200


def test_annotator_pages_and_nav_link_are_for_annotators(proposed, users):
    from django.test import Client

    for role, status in (("alice", 403), ("annotator", 200), ("organizer", 200)):
        browser = Client()
        browser.force_login(users[role])
        assert browser.get("/verify/").status_code == status
        assert browser.get("/verify/shapes/adversarial/").status_code == status
        has_link = 'href="/verify/"' in browser.get("/").content.decode()
        assert has_link == (status == 200)
    anonymous = Client().get("/verify/shapes/adversarial/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    manager = Client()
    manager.force_login(users["annotator"])
    assert manager.get("/verify/shapes/adversarial/manage/").status_code == 403
    manager.force_login(users["other_organizer"])
    assert manager.get("/verify/shapes/adversarial/manage/").status_code == 403
    assert manager.post("/verify/shapes/adversarial/manage/action/", {"action": "start_round"}).status_code == 403
    manager.force_login(users["organizer"])
    page = manager.get("/verify/shapes/adversarial/manage/")
    assert page.status_code == 200 and "Fleiss" in page.content.decode()


def test_vote_errors_are_400_or_409_with_the_field(proposed, users):
    annotator = client(users["annotator"])
    url = f"{BASE}/items/{proposed[0].pk}/vote/"
    missing = annotator.post(url, {}, format="json")
    assert missing.status_code == 400 and "verdict" in missing.json()["errors"]
    flag = annotator.post(url, {"verdict": "flag"}, format="json")
    assert flag.status_code == 400 and "reason" in flag.json()["errors"]
    label = annotator.post(url, {"verdict": "flag", "corrected_label": "hexagon"}, format="json")
    assert label.status_code == 400 and "hexagon" in label.json()["errors"]["corrected_label"][0]
    assert annotator.post(url, {"verdict": "correct"}, format="json").status_code == 201
    again = annotator.post(url, {"verdict": "correct"}, format="json")
    assert again.status_code == 409 and "already verified" in again.json()["detail"]
    assert annotator.post(f"{BASE}/items/999999/vote/", {"verdict": "correct"}, format="json").status_code == 404


def test_pool_shows_items_with_the_suites_predictions(ts_benchmark, users):
    response = client(users["alice"]).get(f"{BASE}/pool/", {"q": "item-001", "page": 1})
    body = response.json()
    assert response.status_code == 200 and body["max_items"] == 10
    assert body["members"] == ["logreg", "knn", "random_forest"]
    assert all("item-001" in item["item_id"] for item in body["items"]) and body["total"] == 10
    item = body["items"][0]
    assert set(item["predictions"]) == set(body["members"]) and item["majority"] in body["class_names"]
    narrowed = client(users["alice"]).get(f"{BASE}/pool/", {"predicted": "circle", "disagree": "1"}).json()
    assert all(i["majority"] == "circle" and len(set(i["predictions"].values())) > 1 for i in narrowed["items"])
    assert client().get(f"{BASE}/pool/").status_code in (401, 403)
    assert client(users["alice"]).get(f"{BASE}/pool/", {"page": "x"}).status_code == 400
    assert client(users["alice"]).get("/api/verify/shapes/nope/pool/").status_code == 404


def test_submitting_my_set_creates_a_csv_submission(ts_benchmark, users, truth):
    pairs = fooling_pairs(ts_benchmark, truth, 2)
    response = client(users["alice"]).post(f"{BASE}/submit/", {
        "items": [{"item_id": i, "label": label} for i, label in pairs], "description": "found by hand"}, format="json")
    assert response.status_code == 201, response.json()
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.status == "queued" and submission.original_name == "test-set.csv"
    assert submission.file.read().decode().splitlines() == ["item_id,label"] + [f"{i},{label}" for i, label in pairs]


@pytest.mark.parametrize("items,message", [
    ([], "items"),
    ([{"item_id": "nope", "label": "circle"}], "item 1: unknown item_id 'nope'"),
    ([{"item_id": "item-0001", "label": "Circle"}], "did you mean 'circle'"),
    ([{"item_id": "item-0001", "label": "circle"}, {"item_id": "item-0001", "label": "square"}], "appears twice"),
    ([{"item_id": f"item-{i:04d}", "label": "circle"} for i in range(11)], "11 items, the limit is 10"),
])
def test_a_bad_set_is_a_400_naming_the_items(ts_benchmark, users, items, message):
    response = client(users["alice"]).post(f"{BASE}/submit/", {"items": items}, format="json")
    assert response.status_code == 400
    assert "items" in response.json()["errors"] and message in response.json()["detail"]
    assert not Submission.objects.exists()


def test_participants_see_only_their_own_proposals_until_the_phase_ends(ts_benchmark, users, truth, proposed):
    bob_pair = fooling_pairs(ts_benchmark, truth, 3)[2]
    propose(users["bob"], ts_benchmark, [bob_pair])
    verify(proposed[0], make_annotators(3))
    alice = client(users["alice"]).get(f"{BASE}/proposals/").json()
    assert alice["scope"] == "own"
    assert {(r["item_id"], r["status"]) for r in alice["items"]} == {
        (proposed[0].item_id, "correct"), (proposed[1].item_id, "pending")}
    bob = client(users["bob"]).get(f"{BASE}/proposals/").json()
    assert [r["item_id"] for r in bob["items"]] == [bob_pair[0]]
    organizer = client(users["organizer"]).get(f"{BASE}/proposals/").json()
    assert organizer["scope"] == "all" and {r["entrant"] for r in organizer["items"]} == {"alice", "bob"}
    phase = Phase.objects.get()
    Phase.objects.filter(pk=phase.pk).update(starts_at=timezone.now() - timedelta(days=3),
                                             ends_at=timezone.now() - timedelta(minutes=1))
    ended = client(users["bob"]).get(f"{BASE}/proposals/").json()
    assert ended["scope"] == "ended" and len(ended["items"]) == 3
    assert {r["submission_id"] is None for r in ended["items"] if r["item_id"] != bob_pair[0]} == {True}
    assert "entrant" not in ended["items"][0]
    assert Target.objects.count() == 3
