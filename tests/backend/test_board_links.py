"""Leaderboards people can use: search by entrant (paged, ranks of the whole board, a hidden board's
search never reaches anyone else's rows), rows that link to submission details only where the viewer may
open them, a public view of baselines (and, where the organizer allows it, participants) that never shows
the file, log or failure, and numbers formatted per metric."""
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from backend.challenges.models import Challenge, Phase
from backend.submissions.models import Score, Submission
from tests.backend.helpers import publish_score

pytestmark = pytest.mark.django_db

BOARD = "/api/challenges/kws/benchmarks/en-25/leaderboard/"


def scored(benchmark, user, value, minutes_ago, *, baseline=""):
    submission = Submission.objects.create(
        phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user, status=Submission.Status.SCORED,
        original_name="secret-upload.json", sha256="0" * 64, file="submissions/x.json",
        is_baseline=bool(baseline), baseline_name=baseline, log="worker log: /srv/hidden/path",
        details={"per_seed": [0.1, 0.2]}, environment={"python": "3.12.1", "scikit-learn": "1.6.1"},
        description="my private notes")
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    Score.objects.create(submission=submission, metric="macro_f1", value=value)
    publish_score(submission, version=submission.pk)
    return submission


@pytest.fixture
def board(speech_challenge, users):
    """bob 0.9, baseline "Baseline: random" 0.8, alice 0.7123456, org2 (a participant here) 0.1."""
    benchmark = speech_challenge.benchmarks.get()
    return {
        "bob": scored(benchmark, users["bob"], 0.9, 40),
        "baseline": scored(benchmark, users["organizer"], 0.8, 30, baseline="random"),
        "alice": scored(benchmark, users["alice"], 0.7123456, 20),
        "org2": scored(benchmark, users["other_organizer"], 0.1, 10),
    }


def api(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def page(user=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def allow_public_details(on=True):
    Challenge.objects.update(public_submission_details=on)


def hide():
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)


def links(data) -> dict[str, str | None]:
    return {row["entrant"]: row["detail_url"] for row in data["rows"]}


# --- search ---------------------------------------------------------------------------------------

def test_search_is_a_case_insensitive_substring_with_board_ranks_and_paging(board, users):
    data = api().get(BOARD + "?search=O").json()  # bob, random, org2 — not alice
    assert [(r["entrant"], r["rank"]) for r in data["rows"]] == [("bob", 1), ("Baseline: random", 2), ("org2", 4)]
    assert (data["count"], data["pages"], data["search"]) == (3, 1, "O")
    second = api().get(BOARD + "?search=o&page=2&page_size=2").json()
    assert [(r["entrant"], r["rank"]) for r in second["rows"]] == [("org2", 4)]
    assert (second["count"], second["pages"]) == (3, 2)
    assert api().get(BOARD + "?search=nobody").json()["rows"] == []
    # Like-wildcards are plain characters.
    assert api().get(BOARD + "?search=%25").json()["count"] == 0


def test_search_longer_than_100_characters_is_a_400_naming_it(board):
    response = api().get(BOARD + "?search=" + "a" * 101)
    assert response.status_code == 400
    assert "search" in response.json()["errors"]
    assert api().get(BOARD + "?search=" + "a" * 100).status_code == 200


def test_search_with_around_me_is_a_400(board, users):
    response = api(users["alice"]).get(BOARD + "?search=a&around=me")
    assert response.status_code == 400 and "search" in response.json()["errors"]


def test_search_on_a_hidden_board_only_ever_matches_the_viewers_own_rows(board, users):
    hide()
    for term in ("o", "bob", "random", "org2", ""):
        data = api(users["alice"]).get(BOARD + f"?search={term}").json()
        assert data["hidden"] is True and data["count"] is None
        assert all(r["entrant"] == "alice" for r in data["rows"]), term
    assert [r["entrant"] for r in api(users["alice"]).get(BOARD + "?search=LIC").json()["rows"]] == ["alice"]
    assert api(users["alice"]).get(BOARD + "?search=bob").json()["rows"] == []


# --- row links --------------------------------------------------------------------------------------

def test_rows_link_to_baselines_only_by_default_and_owners_to_their_own(board, users):
    anonymous = links(api().get(BOARD).json())
    assert anonymous == {"bob": None, "Baseline: random": f"/submissions/{board['baseline'].pk}/", "alice": None, "org2": None}
    mine = links(api(users["alice"]).get(BOARD).json())
    assert mine["alice"] == f"/submissions/{board['alice'].pk}/" and mine["bob"] is None
    assert mine["Baseline: random"] == f"/submissions/{board['baseline'].pk}/"
    organizer = links(api(users["organizer"]).get(BOARD).json())
    assert all(organizer.values())


def test_organizer_setting_opens_participants_details_and_links(board, users):
    allow_public_details()
    anonymous = links(api().get(BOARD).json())
    assert anonymous["bob"] == f"/submissions/{board['bob'].pk}/" and all(anonymous.values())
    assert api().get(f"/api/submissions/{board['bob'].pk}/public/").status_code == 200
    allow_public_details(False)
    assert links(api().get(BOARD).json())["bob"] is None  # the cached page follows the setting
    assert api().get(f"/api/submissions/{board['bob'].pk}/public/").status_code == 404


def test_search_rows_carry_the_same_links(board, users):
    data = api(users["alice"]).get(BOARD + "?search=a").json()  # random, alice
    assert links(data) == {"Baseline: random": f"/submissions/{board['baseline'].pk}/",
                           "alice": f"/submissions/{board['alice'].pk}/"}


def test_hidden_board_links_nothing_but_own_rows_and_baselines_are_not_public(board, users):
    hide()
    allow_public_details()
    data = api(users["alice"]).get(BOARD).json()
    assert links(data) == {"alice": f"/submissions/{board['alice'].pk}/"}
    for viewer in (None, users["alice"], users["bob"]):
        for key in ("baseline", "bob") if viewer is not users["bob"] else ("baseline", "alice"):
            assert api(viewer).get(f"/api/submissions/{board[key].pk}/public/").status_code == 404
            if viewer is not None:
                assert page(viewer).get(f"/submissions/{board[key].pk}/").status_code == 404


def test_participants_only_board_is_not_public_to_signed_out_visitors(board, users):
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.PARTICIPANTS)
    assert api().get(f"/api/submissions/{board['baseline'].pk}/public/").status_code == 404
    assert api(users["bob"]).get(f"/api/submissions/{board['baseline'].pk}/public/").status_code == 200


def test_unscored_and_draft_challenge_submissions_are_not_public(board, users):
    Submission.objects.filter(pk=board["baseline"].pk).update(status=Submission.Status.FAILED, failure_reason="boom")
    assert api().get(f"/api/submissions/{board['baseline'].pk}/public/").status_code == 404
    Submission.objects.filter(pk=board["baseline"].pk).update(status=Submission.Status.SCORED)
    Challenge.objects.update(status=Challenge.Status.DRAFT)
    assert api(users["bob"]).get(f"/api/submissions/{board['baseline'].pk}/public/").status_code == 404


# --- the public view ----------------------------------------------------------------------------------

SECRETS = ("secret-upload.json", "worker log", "/srv/hidden/path", "my private notes", "/file/", "sha256")


def test_public_api_shows_scores_environment_and_details_never_file_or_log(board, users):
    allow_public_details()
    data = api(users["bob"]).get(f"/api/submissions/{board['alice'].pk}/public/").json()
    assert data["entrant"] == "alice" and data["benchmark"] == "en-25"
    assert data["scores"] == {"macro_f1": 0.7123456}
    assert data["score_rows"][0]["text"] == "0.7123"
    assert data["environment"]["scikit-learn"] == "1.6.1" and data["details"] == {"per_seed": [0.1, 0.2]}
    text = str(data)
    for secret in SECRETS:
        assert secret not in text, secret
    for key in ("log", "original_name", "file", "failure_reason", "user", "description", "size_bytes"):
        assert key not in data


def test_public_page_shows_formatted_scores_and_never_the_file_or_log(board, users):
    html = page().get(f"/submissions/{board['baseline'].pk}/").content.decode()
    assert "random" in html and "0.8000" in html and "scikit-learn" in html and "1.6.1" in html
    for secret in SECRETS:
        assert secret not in html, secret
    # ...and the file itself stays the owner's and organizers': 404 signed in, 401 signed out.
    assert api(users["bob"]).get(f"/api/submissions/{board['baseline'].pk}/file/").status_code == 404
    assert api().get(f"/api/submissions/{board['baseline'].pk}/file/").status_code == 401
    assert api(users["bob"]).get(f"/api/submissions/{board['baseline'].pk}/").status_code == 404


def test_owner_and_organizer_keep_the_full_page(board, users):
    own = page(users["alice"]).get(f"/submissions/{board['alice'].pk}/").content.decode()
    assert "secret-upload.json" in own and "0.7123" in own
    organizer = page(users["organizer"]).get(f"/submissions/{board['bob'].pk}/").content.decode()
    assert "worker log" in organizer


def test_not_public_submission_page_is_404_signed_in_and_sign_in_signed_out(board, users):
    assert page(users["bob"]).get(f"/submissions/{board['alice'].pk}/").status_code == 404
    response = page().get(f"/submissions/{board['alice'].pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- numbers --------------------------------------------------------------------------------------

def test_columns_say_how_to_format_their_numbers(board):
    data = api().get(BOARD).json()
    assert data["columns"][0]["key"] == "macro_f1" and data["columns"][0]["decimals"] == 4
    combined = api().get("/api/challenges/kws/leaderboard/").json()
    assert combined["benchmarks"][0]["decimals"] == 4 and combined["benchmarks"][0]["integer"] is False


def test_a_metric_may_declare_its_own_decimals_and_counts_are_whole(board, monkeypatch):
    from evaluation import base

    benchmark_type = type(board["alice"].benchmark.benchmark_type)
    original = benchmark_type.metrics_for

    def metrics_for(self, config):
        return [base.Metric(m.key, m.label, m.higher_is_better, m.spread_key, m.integer, decimals=2)
                for m in original(self, config)]

    monkeypatch.setattr(benchmark_type, "metrics_for", metrics_for)
    assert api().get(BOARD + "?search=bob").json()["columns"][0]["decimals"] == 2
    html = page().get(f"/submissions/{board['baseline'].pk}/").content.decode()
    assert "0.80<" in html


def test_organizer_turns_public_details_on_in_the_admin(board, users):
    from fixtures.demo import grant_organizer_permissions

    grant_organizer_permissions(users["organizer"])
    challenge = Challenge.objects.get()
    html = page(users["organizer"]).get(f"/admin/challenges/challenge/{challenge.pk}/change/").content.decode()
    assert 'name="public_submission_details"' in html
    assert Challenge._meta.get_field("public_submission_details").default is False


def test_public_view_leaves_out_details_that_echo_the_submission(speech_challenge, users):
    from backend.challenges.models import Benchmark

    benchmark = Benchmark.objects.create(challenge=speech_challenge, slug="ts", title="Test set", type_slug="test-set")
    submission = Submission.objects.create(
        phase=speech_challenge.phases.get(), benchmark=benchmark, user=users["organizer"],
        status=Submission.Status.SCORED, original_name="items.csv", sha256="0" * 64, file="submissions/x.csv",
        is_baseline=True, baseline_name="random items",
        details={"items": [{"item_id": "pool-secret-17", "label": "cat"}], "suite": ["m1"], "n_items": 1,
                 "fooled": 1})
    Score.objects.create(submission=submission, metric="credit", value=0.0)
    Score.objects.create(submission=submission, metric="fooled", value=1.0)
    publish_score(submission)
    data = api().get(f"/api/submissions/{submission.pk}/public/").json()
    assert data["details"] == {"n_items": 1, "fooled": 1}
    assert {row["key"]: row["text"] for row in data["score_rows"]} == {"credit": "0.0000", "fooled": "1"}
    html = page().get(f"/submissions/{submission.pk}/").content.decode()
    assert "pool-secret-17" not in html and "n_items" in html
    # The owner (organizer) still sees them.
    assert "pool-secret-17" in page(users["organizer"]).get(f"/submissions/{submission.pk}/").content.decode()
