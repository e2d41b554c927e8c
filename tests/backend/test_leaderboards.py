"""Ranking rules: one row per entrant, best or latest, missing scores last, earlier submission wins ties."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.models import Team
from backend.challenges.models import Phase
from backend.leaderboards import selectors
from backend.submissions.models import Score, Submission
from tests.backend.helpers import publish_score

pytestmark = pytest.mark.django_db

_clock = [timezone.now() - timedelta(hours=1)]


def scored(benchmark, user, value, *, team=None, baseline="", status=Submission.Status.SCORED):
    """A finished submission with its primary score (None: the metric is missing)."""
    _clock[0] += timedelta(seconds=10)
    submission = Submission.objects.create(
        phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user, team=team, status=status,
        original_name="s.json", sha256="0" * 64, is_baseline=bool(baseline), baseline_name=baseline,
        file="submissions/x.json",
    )
    Submission.objects.filter(pk=submission.pk).update(created_at=_clock[0])
    if value is not None:
        Score.objects.create(submission=submission, metric="macro_f1", value=value)
    publish_score(submission, version=submission.pk)  # as the services do after storing scores
    return submission


def board(challenge):
    phase = challenge.phases.get()
    return selectors.leaderboard_rows(phase, challenge.benchmarks.get())


def test_best_rule_ranks_each_entrant_once_with_missing_last(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    scored(benchmark, users["alice"], 0.5)
    best = scored(benchmark, users["alice"], 0.7)
    scored(benchmark, users["bob"], None)
    scored(benchmark, users["organizer"], 0.6, baseline="random")
    scored(benchmark, users["bob"], 0.9, status=Submission.Status.FAILED)
    rows = board(speech_challenge)
    assert [(r["entrant"], r["rank"], r["score"]) for r in rows] == [
        ("alice", 1, 0.7), ("Baseline: random", 2, 0.6), ("bob", None, None)]
    assert rows[0]["submission_id"] == best.pk


def test_ties_go_to_the_earlier_submission(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    scored(benchmark, users["bob"], 0.8)
    scored(benchmark, users["alice"], 0.8)
    rows = board(speech_challenge)
    assert [r["entrant"] for r in rows] == ["bob", "alice"]
    assert [r["rank"] for r in rows] == [1, 2]


def test_latest_rule_uses_the_newest_scored_submission(speech_challenge, users):
    Phase.objects.update(ranking_rule=Phase.RankingRule.LATEST)
    benchmark = speech_challenge.benchmarks.get()
    scored(benchmark, users["alice"], 0.9)
    scored(benchmark, users["alice"], 0.4)
    assert [r["score"] for r in board(speech_challenge)] == [0.4]


def test_a_team_is_one_entrant(speech_challenge, users):
    team = Team.objects.create(name="owls", created_by=users["alice"])
    team.members.add(users["alice"], users["bob"])
    benchmark = speech_challenge.benchmarks.get()
    scored(benchmark, users["alice"], 0.3, team=team)
    scored(benchmark, users["bob"], 0.6, team=team)
    scored(benchmark, users["bob"], 0.5)
    rows = board(speech_challenge)
    assert [(r["entrant"], r["score"]) for r in rows] == [("owls", 0.6), ("bob", 0.5)]


def test_lower_is_better_metrics_sort_ascending(users, speech_challenge, monkeypatch):
    from evaluation.benchmarks.speech_selection import SpeechSelection

    metric = SpeechSelection.metrics[0]
    monkeypatch.setattr(SpeechSelection, "metrics", (type(metric)(metric.key, metric.label, False),) + SpeechSelection.metrics[1:])
    benchmark = speech_challenge.benchmarks.get()
    scored(benchmark, users["alice"], 0.7)
    scored(benchmark, users["bob"], 0.2)
    assert [r["entrant"] for r in board(speech_challenge)] == ["bob", "alice"]


def test_the_api_answers_unchanged_when_the_version_is_current(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    scored(benchmark, users["alice"], 0.7)
    client = APIClient()
    first = client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").json()
    assert first["changed"] and first["rows"][0]["entrant"] == "alice"
    assert "user_id" not in first["rows"][0]
    again = client.get(f"/api/challenges/kws/benchmarks/en-25/leaderboard/?since={first['version']}").json()
    assert again == {"changed": False, "version": first["version"]}
    scored(benchmark, users["bob"], 0.9)  # a new score bumps the version: the cached board is not reused
    fresh = client.get(f"/api/challenges/kws/benchmarks/en-25/leaderboard/?since={first['version']}").json()
    # Only the rows changed since then, with their current ranks; the page itself shows the new order.
    assert fresh["changed"] and [(r["entrant"], r["rank"]) for r in fresh["rows"]] == [("bob", 1)]
    assert fresh["count"] == 2
    page = client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").json()
    assert [r["entrant"] for r in page["rows"]] == ["bob", "alice"]


def test_hidden_leaderboards_show_participants_only_their_rows(speech_challenge, users):
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)
    benchmark = speech_challenge.benchmarks.get()
    scored(benchmark, users["alice"], 0.7)
    scored(benchmark, users["bob"], 0.9)
    client = APIClient()
    client.force_authenticate(users["alice"])
    rows = client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").json()["rows"]
    assert [r["entrant"] for r in rows] == ["alice"]
    client.force_authenticate(users["organizer"])
    assert len(client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/").json()["rows"]) == 2
