"""The incremental ranking state (leaderboards.EntrantRow) and the paged, cacheable board API.

The entrant rows are refreshed in the transactions that record scores, re-run submissions and settle
closed-division reproductions; whatever sequence of those happens, the board read from them must equal
a ranking computed from scratch from the Submission and Score rows (the reference below, written
independently of the services)."""
import random
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

import evaluation
from backend.accounts.models import Team, User
from backend.challenges.models import Phase
from backend.closed_division import services as closed_services
from backend.closed_division.models import CodeRun
from backend.leaderboards import selectors
from backend.leaderboards.models import EntrantRow
from backend.submissions import services
from backend.submissions.models import Score, Submission

pytestmark = pytest.mark.django_db

BOARD = "/api/challenges/kws/benchmarks/en-25/leaderboard/"
S = Submission.Status


def _new(benchmark, user, *, team=None, baseline="", division="open", at=None):
    """A submission a worker has claimed (running, with its run token)."""
    submission = Submission.objects.create(
        phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user, team=team, division=division,
        status=S.RUNNING, run_token="tok", original_name="s.json", sha256="0" * 64, file="submissions/x.json",
        is_baseline=bool(baseline), baseline_name=baseline)
    if at is not None:
        Submission.objects.filter(pk=submission.pk).update(created_at=at)
    if division == "closed":
        CodeRun.objects.create(submission=submission, code="code/x.zip", code_name="x.zip", code_sha256="0" * 64,
                               status=CodeRun.Status.RUNNING, run_token="run")
    return submission


def _score(submission, value):
    assert services.complete_evaluation(submission.pk, "tok", evaluation.Result(
        scores={"macro_f1": value, "macro_f1_std": 0.01}), "macro_f1")


def _claim_again(submission):
    """A re-run submission claimed by a worker again."""
    Submission.objects.filter(pk=submission.pk).update(status=S.RUNNING, run_token="tok")


def reference_board(phase, benchmark) -> list[tuple]:
    """(entrant key, submission id, rank, score) in board order, from the Submission/Score rows only."""
    subs = list(Submission.objects.filter(phase=phase, benchmark=benchmark, status=S.SCORED).select_related("code_run"))
    primary = {s.submission_id: s.value for s in Score.objects.filter(submission__in=subs, metric="macro_f1")}

    def key(s):
        if s.is_baseline:
            return f"baseline:{s.baseline_name}"
        return f"team:{s.team_id}" if s.team_id else f"user:{s.user_id}"

    def rankable(s):
        return s.division == "open" or (hasattr(s, "code_run") and s.code_run.status == "reproduced")

    by_entrant = {}
    for s in subs:
        by_entrant.setdefault(key(s), []).append(s)
    chosen = []
    for entrant, mine in by_entrant.items():
        if phase.ranking_rule == Phase.RankingRule.LATEST:
            pick = sorted(mine, key=lambda s: (rankable(s), s.created_at, s.pk))[-1]
        else:
            pick = min(mine, key=lambda s: (not rankable(s), primary.get(s.pk) is None,
                                            -(primary.get(s.pk) or 0.0), s.created_at, s.pk))
        chosen.append((entrant, pick))
    ranked = sorted([c for c in chosen if rankable(c[1]) and primary.get(c[1].pk) is not None],
                    key=lambda c: (-primary[c[1].pk], c[1].created_at, c[1].pk))
    rest = sorted([c for c in chosen if not (rankable(c[1]) and primary.get(c[1].pk) is not None)],
                  key=lambda c: (primary.get(c[1].pk) is None, -(primary.get(c[1].pk) or 0.0), c[1].created_at, c[1].pk))
    return ([(e, s.pk, i, primary[s.pk]) for i, (e, s) in enumerate(ranked, start=1)]
            + [(e, s.pk, None, primary.get(s.pk)) for e, s in rest])


def stored_board(phase, benchmark) -> list[tuple]:
    phase.refresh_from_db()
    return [(r["entrant_key"], r["submission_id"], r["rank"], r["score"])
            for r in selectors.leaderboard_rows(phase, benchmark)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_entrant_rows_match_a_ranking_from_scratch_after_random_events(speech_challenge, users, seed):
    rng = random.Random(seed)
    phase = speech_challenge.phases.get()
    phase.closed_division = True
    phase.save()
    benchmark = speech_challenge.benchmarks.get()
    people = [User.objects.create_user(username=f"p{i}", password="x") for i in range(6)]
    team = Team.objects.create(name="owls", created_by=people[0])
    team.members.add(people[0], people[1])
    start = timezone.now() - timedelta(days=1)
    submissions = []
    for step in range(70):
        action = rng.random()
        scored = [s for s in submissions if Submission.objects.get(pk=s.pk).status == S.SCORED]
        if action < 0.5 or not scored:
            user = rng.choice(people)
            submission = _new(benchmark, user, team=team if user in people[:2] and rng.random() < 0.5 else None,
                              baseline="random" if rng.random() < 0.1 else "",
                              division="closed" if rng.random() < 0.3 else "open",
                              at=start + timedelta(seconds=rng.choice([step, 5])))  # equal times happen
            _score(submission, rng.choice([0.1, 0.5, 0.5, 0.9, rng.random()]))  # ties happen
            submissions.append(submission)
        elif action < 0.7:
            submission = rng.choice(scored)
            services.rerun_submission(submission, by=users["organizer"])
            if rng.random() < 0.7:
                _claim_again(submission)
                _score(submission, rng.random())
        else:
            closed = [s for s in scored if s.division == "closed"]
            if not closed:
                continue
            run = CodeRun.objects.get(submission=rng.choice(closed))
            if run.status == CodeRun.Status.RUNNING:
                closed_services.finish_verification(run.pk, "run", rng.choice(["reproduced", "not_reproduced"]), "")
            else:
                closed_services.reverify(run.submission, by=users["organizer"])
                CodeRun.objects.filter(pk=run.pk).update(status=CodeRun.Status.RUNNING, run_token="run")
        if rng.random() < 0.2:
            Phase.objects.filter(pk=phase.pk).update(ranking_rule=rng.choice(["best", "latest"]))
        phase.refresh_from_db()
        assert stored_board(phase, benchmark) == reference_board(phase, benchmark), f"step {step}"
    for rule in ("best", "latest"):  # both rules are kept up to date, whichever is shown
        Phase.objects.filter(pk=phase.pk).update(ranking_rule=rule)
        phase.refresh_from_db()
        assert stored_board(phase, benchmark) == reference_board(phase, benchmark)


def test_best_and_latest_rules_each_pick_their_row(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    start = timezone.now() - timedelta(hours=1)
    first, second = (_new(benchmark, users["alice"], at=start + timedelta(minutes=m)) for m in (1, 2))
    _score(first, 0.9)
    _score(second, 0.4)
    phase = speech_challenge.phases.get()
    assert stored_board(phase, benchmark) == [(f"user:{users['alice'].pk}", first.pk, 1, 0.9)]
    Phase.objects.update(ranking_rule=Phase.RankingRule.LATEST)  # no rebuild needed
    assert stored_board(phase, benchmark) == [(f"user:{users['alice'].pk}", second.pk, 1, 0.4)]


def test_rebuild_command_restores_the_ranking_state(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    for user, value in (("alice", 0.3), ("bob", 0.8), ("alice", 0.6)):
        _score(_new(benchmark, users[user]), value)
    phase = speech_challenge.phases.get()
    before = stored_board(phase, benchmark)
    EntrantRow.objects.all().delete()  # e.g. a restore of the scores only
    call_command("rebuild_leaderboards", "--phase", str(phase.pk))
    assert stored_board(phase, benchmark) == before == reference_board(phase, benchmark)
    EntrantRow.objects.all().delete()
    call_command("rebuild_leaderboards")
    assert stored_board(phase, benchmark) == before
    with pytest.raises(CommandError, match="no phase with id"):
        call_command("rebuild_leaderboards", "--phase", "999999")


@pytest.fixture
def crowd(speech_challenge, users):
    """Seven entrants with scores 0.7, 0.6, ... 0.1 (alice is the fifth), one page of three rows at a time."""
    benchmark = speech_challenge.benchmarks.get()
    people = [User.objects.create_user(username=f"e{i}", password="x") for i in range(6)]
    people.insert(4, users["alice"])
    start = timezone.now() - timedelta(hours=1)
    for i, person in enumerate(people):
        _score(_new(benchmark, person, at=start + timedelta(minutes=i)), round(0.7 - i / 10, 2))
    return benchmark


def test_pages_count_and_ranks(crowd, users):
    client = APIClient()
    first = client.get(BOARD, {"page_size": 3}).json()
    assert (first["count"], first["page"], first["pages"]) == (7, 1, 3)
    assert [r["rank"] for r in first["rows"]] == [1, 2, 3]
    last = client.get(BOARD, {"page_size": 3, "page": 3}).json()
    assert [(r["rank"], r["score"]) for r in last["rows"]] == [(7, 0.1)]
    assert client.get(BOARD, {"page_size": 3, "page": 9}).json()["rows"] == []
    assert len(client.get(BOARD).json()["rows"]) == 7  # default: 50 a page


def test_around_me_is_the_page_holding_my_row(crowd, users):
    client = APIClient()
    client.force_authenticate(users["alice"])
    mine = client.get(BOARD, {"page_size": 3, "around": "me"}).json()
    assert mine["page"] == 2 and [r["rank"] for r in mine["rows"]] == [4, 5, 6]
    assert "alice" in [r["entrant"] for r in mine["rows"]]
    own = client.get(BOARD, {"page_size": 1, "around": "me"}).json()
    assert [(r["entrant"], r["rank"]) for r in own["rows"]] == [("alice", 5)] and own["my_position"] == 5
    client.force_authenticate(users["bob"])  # no row: the first page, and no position
    nothing = client.get(BOARD, {"page_size": 3, "around": "me"}).json()
    assert nothing["page"] == 1 and nothing["my_position"] is None


@pytest.mark.parametrize("params, field", [
    ({"page_size": "201"}, "page_size"), ({"page_size": "0"}, "page_size"), ({"page_size": "x"}, "page_size"),
    ({"page": "0"}, "page"), ({"page": "-1"}, "page"), ({"around": "you"}, "around"), ({"since": "99999"}, "since"),
])
def test_bad_paging_parameters_are_a_400_naming_them(crowd, params, field):
    response = APIClient().get(BOARD, params)
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]
    assert APIClient().get(BOARD, {"page_size": 200}).status_code == 200


def test_etag_answers_304_until_the_board_changes(crowd, users):
    client = APIClient()
    first = client.get(BOARD, {"page_size": 3})
    etag = first["ETag"]
    assert etag and first.status_code == 200
    again = client.get(BOARD, {"page_size": 3}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert client.get(BOARD, {"page_size": 3, "page": 2}, HTTP_IF_NONE_MATCH=etag).status_code == 200
    _score(_new(crowd, users["bob"]), 0.95)
    changed = client.get(BOARD, {"page_size": 3}, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["rows"][0]["entrant"] == "bob"
    challenge = client.get("/api/challenges/kws/leaderboard/")
    assert client.get("/api/challenges/kws/leaderboard/", HTTP_IF_NONE_MATCH=challenge["ETag"]).status_code == 304


def test_since_returns_only_changed_rows_and_removals(crowd, users):
    client = APIClient()
    version = client.get(BOARD).json()["version"]
    assert client.get(BOARD, {"since": version}).json() == {"changed": False, "version": version}
    bob = _new(crowd, users["bob"])
    _score(bob, 0.65)
    delta = client.get(BOARD, {"since": version}).json()
    assert delta["changed"] and delta["count"] == 8 and delta["removed"] == []
    assert [(r["entrant"], r["rank"]) for r in delta["rows"]] == [("bob", 2)]
    version = delta["version"]
    services.rerun_submission(bob, by=users["organizer"])  # bob's only score is gone
    delta = client.get(BOARD, {"since": version}).json()
    assert delta["rows"] == [] and delta["removed"] == ["bob"] and delta["count"] == 7
    # an unrelated score elsewhere changes nothing for alice's own row, which she can still fetch
    alice_row = EntrantRow.objects.get(entrant_key=f"user:{users['alice'].pk}", rule="best")
    assert alice_row.changed_version < delta["version"]


def test_hidden_boards_page_and_delta_only_the_viewers_rows(crowd, users):
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)
    client = APIClient()
    client.force_authenticate(users["alice"])
    for params in ({}, {"page_size": 1}, {"page": 2, "page_size": 3}, {"around": "me", "page_size": 3},
                   {"since": "1"}):
        body = client.get(BOARD, params).json()
        assert body["count"] is None and body["pages"] == 1, params
        assert [(r["entrant"], r["rank"]) for r in body["rows"]] == [("alice", None)], params
        assert "removed" not in body
    version = client.get(BOARD).json()["version"]
    _score(_new(crowd, users["bob"]), 0.99)  # someone else's score does not move alice's version
    assert client.get(BOARD, {"since": version}).json() == {"changed": False, "version": version}
    organizer = APIClient()
    organizer.force_authenticate(users["organizer"])
    assert organizer.get(BOARD).json()["count"] == 8


def test_the_combined_board_is_cached_per_version_and_hidden_viewers_get_their_own(crowd, users):
    client = APIClient()
    public = client.get("/api/challenges/kws/leaderboard/").json()
    assert len(public["rows"]) == 7 and public["rows"][0]["rank"] == 1
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)
    client.force_authenticate(users["alice"])
    hidden = client.get("/api/challenges/kws/leaderboard/").json()
    assert [(r["entrant"], r["rank"]) for r in hidden["rows"]] == [("alice", None)]
    organizer = APIClient()
    organizer.force_authenticate(users["organizer"])  # the same version: the full board, not alice's
    assert len(organizer.get("/api/challenges/kws/leaderboard/").json()["rows"]) == 7


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scores_of_one_entrant_end_with_the_right_row(speech_challenge, users):
    if connection.vendor != "postgresql":
        pytest.skip("row locks between two connections: PostgreSQL (DATABASE_URL)")
    benchmark = speech_challenge.benchmarks.get()
    phase = speech_challenge.phases.get()
    for attempt in range(5):
        subs = [_new(benchmark, users["alice"]) for _ in range(2)]
        values = [0.2 + attempt / 10, 0.25 + attempt / 10]
        barrier = threading.Barrier(2)
        errors = []

        def score(submission, value):
            try:
                barrier.wait()
                _score(submission, value)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=score, args=(s, v)) for s, v in zip(subs, values)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert stored_board(phase, benchmark) == reference_board(phase, benchmark)
        row = EntrantRow.objects.get(entrant_key=f"user:{users['alice'].pk}", rule="best")
        assert row.submission_id == subs[1].pk and row.primary_value == values[1]
        latest = EntrantRow.objects.get(entrant_key=f"user:{users['alice'].pk}", rule="latest")
        assert latest.submission_id == subs[1].pk  # created last


def test_a_renamed_team_or_user_is_renamed_on_the_board(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    team = Team.objects.create(name="owls", created_by=users["alice"])
    _score(_new(benchmark, users["alice"], team=team), 0.8)
    _score(_new(benchmark, users["bob"]), 0.5)
    client = APIClient()
    version = client.get(BOARD).json()["version"]
    team.name = "hawks"
    team.save()
    users["bob"].username = "robert"
    users["bob"].save()
    assert [r["entrant"] for r in client.get(BOARD).json()["rows"]] == ["hawks", "robert"]
    assert sorted(r["entrant"] for r in client.get(BOARD, {"since": version}).json()["rows"]) == ["hawks", "robert"]


def test_only_public_boards_may_be_kept_by_shared_caches(crowd, users):
    assert APIClient().get(BOARD)["Cache-Control"] == "public, no-cache"
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)
    organizer = APIClient()
    organizer.force_authenticate(users["organizer"])
    for url in (BOARD, "/api/challenges/kws/leaderboard/"):
        assert organizer.get(url)["Cache-Control"] == "private, no-cache"
