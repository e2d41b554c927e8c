"""Hidden means hidden: on a hidden board a participant sees their own scores, but no rank and no count
of entrants, on every view (benchmark board API + CSV, challenge board API + CSV/JSON, the benchmark
page, my submissions, the submission page); a public board shows the same rank everywhere."""
import csv
import io
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from backend.challenges.models import Phase
from backend.submissions.models import Score, Submission
from tests.backend.helpers import publish_score

pytestmark = pytest.mark.django_db

BOARD = "/api/challenges/kws/benchmarks/en-25/leaderboard/"
CHALLENGE_BOARD = "/api/challenges/kws/leaderboard/"


def scored(benchmark, user, value, minutes_ago, *, baseline=""):
    submission = Submission.objects.create(
        phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user, status=Submission.Status.SCORED,
        original_name="s.json", sha256="0" * 64, file="submissions/x.json",
        is_baseline=bool(baseline), baseline_name=baseline)
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    Score.objects.create(submission=submission, metric="macro_f1", value=value)
    publish_score(submission, version=submission.pk)  # as the services do after storing scores
    return submission


@pytest.fixture
def board(speech_challenge, users):
    """alice is third of four entrants: bob 0.9, a baseline 0.8, alice 0.7, the organizer's 0.1."""
    benchmark = speech_challenge.benchmarks.get()
    return {
        "bob": scored(benchmark, users["bob"], 0.9, 40),
        "baseline": scored(benchmark, users["organizer"], 0.8, 30, baseline="random"),
        "alice": scored(benchmark, users["alice"], 0.7, 20),
        "org": scored(benchmark, users["other_organizer"], 0.1, 10),
    }


def hide():
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def page(user):
    client = Client()
    client.force_login(user)
    return client


def standing_cells(html: str) -> list[str]:
    """What the pages show where a rank would be (my submissions' column, the submission page's line)."""
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r'<(?:td class="rank"|dd id="standing")>(.*?)</(?:td|dd)>', html, re.S)]


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_hidden_benchmark_board_api_and_csv_have_no_rank_and_no_other_rows(board, users):
    hide()
    data = api(users["alice"]).get(BOARD).json()
    assert data["hidden"] is True
    assert [(r["entrant"], r["rank"], r["score"]) for r in data["rows"]] == [("alice", None, 0.7)]
    exported = csv_rows(api(users["alice"]).get(BOARD + "?export=csv"))
    assert [(r["entrant"], r["rank"], r["macro_f1"]) for r in exported] == [("alice", "", "0.7")]


def test_hidden_board_version_does_not_count_other_entrants_scores(board, users, speech_challenge):
    """The phase's counter moves with everyone's scores; a hidden board's viewer polls a version that
    moves with their own rows only."""
    hide()
    client = api(users["alice"])
    first = client.get(BOARD).json()
    assert str(first["version"]) != str(Phase.objects.get().leaderboard_version)
    scored(speech_challenge.benchmarks.get(), users["bob"], 0.95, 5)
    assert client.get(BOARD + f"?since={first['version']}").json() == {"changed": False, "version": first["version"]}
    assert client.get(CHALLENGE_BOARD).json()["version"] == client.get(CHALLENGE_BOARD).json()["version"]
    before = client.get(CHALLENGE_BOARD).json()["version"]
    scored(speech_challenge.benchmarks.get(), users["bob"], 0.97, 4)
    assert client.get(CHALLENGE_BOARD).json()["version"] == before
    scored(speech_challenge.benchmarks.get(), users["alice"], 0.99, 3)
    fresh = client.get(BOARD + f"?since={first['version']}").json()
    assert fresh["changed"] and [(r["rank"], r["score"]) for r in fresh["rows"]] == [(None, 0.99)]


def test_hidden_challenge_board_and_its_exports_have_no_rank_nor_relative_scores(board, users):
    hide()
    client = api(users["alice"])
    data = client.get(CHALLENGE_BOARD).json()
    assert data["hidden"] is True
    assert data["rows"] == [{"rank": None, "entrant": "alice", "is_baseline": False, "scores": {"en-25": 0.7},
                             "normalized": None, "aggregate": None}]
    assert [(r["rank"], r["entrant"], r["aggregate"], r["en-25"]) for r in csv_rows(client.get(CHALLENGE_BOARD + "?export=csv"))] \
        == [("", "alice", "", "0.7")]
    exported = client.get(CHALLENGE_BOARD + "?export=json")
    assert "attachment" in exported["Content-Disposition"]
    assert [r["entrant"] for r in exported.json()["rows"]] == ["alice"]


def test_hidden_pages_show_own_scores_without_rank(board, users):
    hide()
    client = page(users["alice"])
    benchmark_page = client.get("/challenges/kws/en-25/").content.decode()
    assert "bob" not in benchmark_page and "Baseline: random" not in benchmark_page
    assert standing_cells(client.get("/submissions/").content.decode()) == ["hidden"]
    detail = client.get(f"/submissions/{board['alice'].pk}/").content.decode()
    assert standing_cells(detail) == ["hidden"]
    assert "0.7" in detail  # her own score


def test_organizers_see_the_full_hidden_board_with_ranks(board, users):
    hide()
    data = api(users["organizer"]).get(BOARD).json()
    assert data["hidden"] is False
    assert [(r["entrant"], r["rank"]) for r in data["rows"]] == [
        ("bob", 1), ("Baseline: random", 2), ("alice", 3), ("org2", 4)]
    combined = api(users["organizer"]).get(CHALLENGE_BOARD).json()
    assert [(r["entrant"], r["rank"]) for r in combined["rows"]][:3] == [("bob", 1), ("Baseline: random", 2), ("alice", 3)]


def test_a_public_board_shows_the_same_rank_on_every_view(board, users):
    data = api(users["alice"]).get(BOARD).json()
    assert data["hidden"] is False
    assert {r["entrant"]: r["rank"] for r in data["rows"]}["alice"] == 3
    assert {r["entrant"]: r["rank"] for r in csv_rows(api(users["alice"]).get(BOARD + "?export=csv"))}["alice"] == "3"
    combined = api(users["alice"]).get(CHALLENGE_BOARD).json()
    assert {r["entrant"]: r["rank"] for r in combined["rows"]}["alice"] == 3
    client = page(users["alice"])
    assert standing_cells(client.get("/submissions/").content.decode()) == ["#3"]
    assert standing_cells(client.get(f"/submissions/{board['alice'].pk}/").content.decode()) == ["#3"]


def test_a_superseded_submission_is_not_the_ranked_row(board, users, speech_challenge):
    older = board["alice"]
    scored(speech_challenge.benchmarks.get(), users["alice"], 0.85, 1)  # best rule: this one ranks
    assert standing_cells(page(users["alice"]).get(f"/submissions/{older.pk}/").content.decode()) == ["not ranked"]
