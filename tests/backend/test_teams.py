"""Teams in the browser: create → invitation link → join → uploads count against the team's limits and
rank under its name → leave (the submissions stay with the team); revoked, replaced and expired links
are refused; one team per challenge."""
import html
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import strip_tags

from backend.accounts.models import Team, User
from backend.submissions import services
from backend.submissions.models import Submission
from tests.conftest import add_benchmark, make_challenge

from .helpers import speech_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited_challenge(users, speech_data_dir):
    """Two submissions per entrant in the phase."""
    challenge = make_challenge(users["organizer"], slug="kws", max_submissions_total=2)
    add_benchmark(challenge, "speech-selection", speech_data_dir, slug="en-25", config={"train_size": 25})
    return challenge


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return html.unescape(response.content.decode())


def words(response) -> str:
    """The page's text as a reader sees it (no tags)."""
    return " ".join(strip_tags(text(response)).split())


def score(submission: Submission) -> Submission:
    """What a worker does with the queued submission (the embedded way): claim, evaluate, store."""
    claimed = services.claim_for_evaluation(submission.pk)
    assert claimed is not None
    _, token = claimed
    benchmark = submission.benchmark
    problem = services.load_benchmark_problem(benchmark)
    solution = services.validate_submission_file(benchmark, Path(submission.file.path))
    result = benchmark.benchmark_type.evaluate(problem, solution, benchmark.effective_config)
    assert services.complete_evaluation(submission.pk, token, result, benchmark.benchmark_type.primary_metric)
    submission.refresh_from_db()
    return submission


def create_team(client, name="Alpha") -> Team:
    response = client.post("/teams/new/kws/", {"name": name})
    assert response.status_code == 302, text(response)
    return Team.objects.get(name=name)


def invite_link(client, team) -> str:
    page = text(client.get(f"/teams/{team.pk}/"))
    start = page.index("/teams/join/")
    return page[start:page.index('"', start)]


def test_team_create_invite_join_upload_against_the_team_limit_then_leave(limited_challenge, users, speech_data_dir):
    alice, bob = signed_in(users["alice"]), signed_in(users["bob"])
    assert "Create a team" in text(alice.get("/challenges/kws/"))
    team = create_team(alice)
    assert team.challenge == limited_challenge and list(team.members.all()) == [users["alice"]]
    link = invite_link(alice, team)

    join_page = text(bob.get(link))
    assert "Join team Alpha" in join_page and "alice" in join_page
    assert bob.post(link).status_code == 302
    assert set(team.members.values_list("username", flat=True)) == {"alice", "bob"}
    assert "You submit as team Alpha" in words(bob.get("/challenges/kws/"))
    assert "You submit as team Alpha" in words(bob.get("/challenges/kws/en-25/"))

    # Both members upload in the page; both uploads are the team's, and the team's limit (2) is reached.
    for client, seed in ((alice, 1), (bob, 2)):
        response = client.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir, seed=seed)})
        assert response.status_code == 302 and response.url.startswith("/submissions/")
    assert list(Submission.objects.values_list("team__name", flat=True)) == ["Alpha", "Alpha"]
    refused = text(bob.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir, seed=3)}, follow=True))
    assert "Team Alpha already made 2 submissions" in refused  # a sentence of its own
    api = bob.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25",
                                         "file": speech_upload(speech_data_dir, seed=3)})
    assert api.status_code == 429 and "team Alpha" in api.json()["detail"] + str(api.json().get("errors"))
    assert Submission.objects.count() == 2

    # Scored, the team ranks under its name (one row for both members' submissions).
    for submission in Submission.objects.all():
        score(submission)
    rows = Client().get("/api/challenges/kws/benchmarks/en-25/leaderboard/").json()["rows"]
    assert [row["entrant"] for row in rows] == ["Alpha"]
    assert "Alpha" in text(alice.get(f"/teams/{team.pk}/"))

    # Bob leaves: the team keeps its submissions; his next upload is his own, with his own limit.
    response = bob.post(f"/teams/{team.pk}/action/", {"action": "leave"})
    assert response.status_code == 302
    assert not team.members.filter(username="bob").exists()
    assert Submission.objects.filter(team=team).count() == 2
    assert bob.get(f"/teams/{team.pk}/").status_code == 404
    response = bob.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir, seed=4)})
    assert response.status_code == 302 and response.url.startswith("/submissions/")
    solo = Submission.objects.latest("created_at")
    assert solo.user == users["bob"] and solo.team is None
    assert "You submit on your own" in text(bob.get("/challenges/kws/"))


def test_revoked_replaced_and_expired_links_are_refused(speech_challenge, users):
    alice, carol = signed_in(users["alice"]), signed_in(User.objects.create_user("carol", password="pw"))
    team = create_team(alice)
    first = invite_link(alice, team)
    alice.post(f"/teams/{team.pk}/action/", {"action": "new-link"})
    second = invite_link(alice, team)
    assert first != second
    replaced = carol.get(first)
    assert replaced.status_code == 404 and "not valid" in text(replaced)
    assert carol.post(first).status_code == 404

    alice.post(f"/teams/{team.pk}/action/", {"action": "revoke-link"})
    assert "No invitation link is active" in text(alice.get(f"/teams/{team.pk}/"))
    assert carol.get(second).status_code == 404 and carol.post(second).status_code == 404
    assert not team.members.filter(username="carol").exists()

    alice.post(f"/teams/{team.pk}/action/", {"action": "new-link"})
    third = invite_link(alice, team)
    Team.objects.filter(pk=team.pk).update(invite_created_at=timezone.now() - timedelta(days=8))
    expired = carol.post(third)
    assert expired.status_code == 410 and "expired" in text(expired)
    assert not team.members.filter(username="carol").exists()


def test_one_team_per_challenge_and_team_pages_are_for_members(speech_challenge, users):
    alice, bob = signed_in(users["alice"]), signed_in(users["bob"])
    alpha, beta = create_team(alice, "Alpha"), create_team(bob, "Beta")
    refused = bob.post(invite_link(alice, alpha))
    assert refused.status_code == 409 and "already in team 'Beta'" in text(refused)
    assert not alpha.members.filter(username="bob").exists()
    # A second team for the same person in the same challenge: they are sent to the one they have.
    assert alice.post("/teams/new/kws/", {"name": "Gamma"}).url == f"/teams/{alpha.pk}/"
    assert not Team.objects.filter(name="Gamma").exists()
    # Names are unique, blank names are refused, with the problem named.
    carol = signed_in(User.objects.create_user("carol", password="pw"))
    taken = carol.post("/teams/new/kws/", {"name": "alpha"})
    assert taken.status_code == 409 and "already exists" in text(taken)
    blank = carol.post("/teams/new/kws/", {"name": "  "})
    assert blank.status_code == 400 and "give the team a name" in text(blank)
    # Someone else's team page (with its invitation link) is not theirs to see.
    assert bob.get(f"/teams/{alpha.pk}/").status_code == 404
    assert bob.post(f"/teams/{alpha.pk}/action/", {"action": "new-link"}).status_code == 404
    assert Client().get(f"/teams/{alpha.pk}/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_by_team_members_cannot_exceed_the_team_limit(speech_challenge, users, speech_data_dir):
    """Four members upload at once against a team limit of 2: the user rows and the team row are locked
    in one order, so exactly two pass and the others get 429."""
    import threading

    from django.db import connection

    phase = speech_challenge.phases.get()
    phase.max_submissions_total = 2
    phase.save()
    benchmark = speech_challenge.benchmarks.get()
    members = [users["alice"], users["bob"]] + [User.objects.create_user(f"m{i}", password="pw") for i in range(2)]
    team = Team.objects.create(name="Quad", challenge=speech_challenge, created_by=members[0])
    team.members.add(*members)
    results, barrier = [], threading.Barrier(len(members))

    def submit(member, seed):
        try:
            barrier.wait()
            services.create_submission(user=member, benchmark=benchmark, uploaded_file=speech_upload(speech_data_dir, seed=seed))
            results.append("ok")
        except services.SubmissionRejected as rejected:
            results.append(rejected.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(member, seed)) for seed, member in enumerate(members)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [429, 429, "ok", "ok"]
    assert Submission.objects.filter(team=team).count() == 2 and Submission.objects.count() == 2


def test_a_newcomer_follows_an_invitation_link_signs_up_and_lands_back_on_it(speech_challenge, users):
    alice = signed_in(users["alice"])
    team = create_team(alice)
    link = invite_link(alice, team)
    visitor = Client()
    login = visitor.get(link, follow=True)
    assert login.redirect_chain[-1][0].startswith("/accounts/login/?next=")
    signup_href = "/accounts/signup/?next=" + link
    assert f'href="{signup_href}"' in login.content.decode(), (signup_href, [l for l in login.content.decode().splitlines() if "signup" in l])
    response = visitor.post(f"/accounts/signup/?next={link}", {
        "username": "erin", "email": "", "password1": "a-long-pass-123", "password2": "a-long-pass-123", "next": link})
    assert response.status_code == 302 and response.url == link
    assert visitor.post(link).status_code == 302
    assert team.members.filter(username="erin").exists()
    # Somewhere else is not a place to be sent after signing up.
    other = Client().post("/accounts/signup/", {"username": "finn", "email": "", "password1": "a-long-pass-123",
                                                "password2": "a-long-pass-123", "next": "https://evil.example/"})
    assert other.url == "/"
