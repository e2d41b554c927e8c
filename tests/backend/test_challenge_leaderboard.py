"""The combined challenge leaderboard: normalisation across directions, weights, CSV export."""
import csv
import io

import pytest
from rest_framework.test import APIClient

from backend.leaderboards import selectors
from backend.leaderboards.services import rebuild
from tests.conftest import add_benchmark

from .test_leaderboards import scored

pytestmark = pytest.mark.django_db


def test_normalisation_handles_direction_missing_and_ties():
    assert selectors.normalized_scores({"a": 0.2, "b": 0.6, "c": None}, True) == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert selectors.normalized_scores({"a": 0.2, "b": 0.6}, False) == {"a": 1.0, "b": 0.0}
    assert selectors.normalized_scores({"a": 0.5, "b": 0.5}, True) == {"a": 1.0, "b": 1.0}
    assert selectors.weighted_aggregate({"x": {"a": 1.0, "b": 0.0}, "y": {"a": 0.0, "b": 1.0}},
                                        {"x": 3.0, "y": 1.0}) == {"a": 0.75, "b": 0.25}
    assert selectors.weighted_aggregate({"x": {"a": 1.0}}, {"x": 0.0}) == {"a": 0.0}


def test_weights_decide_the_overall_ranking_and_csv_matches(speech_challenge, users, tmp_path):
    from fixtures import synthetic

    speech = speech_challenge.benchmarks.get()
    debug_dir = synthetic.write_debugging_data(tmp_path / "dbg", tasks=("t1",), seed=1)
    debugging = add_benchmark(speech_challenge, "debugging", debug_dir, slug="debug")
    speech.weight, debugging.weight = 1.0, 3.0
    speech.save(), debugging.save()
    scored(speech, users["alice"], 0.9)
    scored(speech, users["bob"], 0.5)
    # debugging: lower is better; bob inspects far fewer rows.
    from backend.submissions.models import Score, Submission

    for user, value in ((users["alice"], 0.6), (users["bob"], 0.1)):
        submission = scored(speech, user, None)
        Submission.objects.filter(pk=submission.pk).update(benchmark=debugging)
        Score.objects.create(submission=submission, metric="fraction_fixes", value=value)
        rebuild(submission.phase_id)  # the submission moved boards: rebuild the phase's ranked rows
    client = APIClient()
    board = client.get("/api/challenges/kws/leaderboard/").json()
    assert [r["entrant"] for r in board["rows"]] == ["bob", "alice"]  # weight 3 on debugging
    bob = board["rows"][0]
    assert bob["normalized"] == {"en-25": 0.0, "debug": 1.0} and bob["aggregate"] == pytest.approx(0.75)
    exported = list(csv.reader(io.StringIO(client.get("/api/challenges/kws/leaderboard/?export=csv").content.decode())))
    assert exported[0] == ["rank", "entrant", "baseline", "aggregate", "en-25", "debug"]
    assert exported[1][1] == "bob" and float(exported[1][5]) == 0.1
    per_benchmark = client.get("/api/challenges/kws/benchmarks/en-25/leaderboard/?export=csv")
    assert per_benchmark["Content-Type"].startswith("text/csv")
    assert "alice" in per_benchmark.content.decode().splitlines()[1]
