"""Pushed live updates through a real ASGI server (uvicorn subprocess): a score recorded through the
service reaches an open leaderboard stream within a second, status and progress reach the submission
stream, streams are permission-checked like their pages, and hidden boards tell nothing about others."""
import os
import time

import pytest
from django.test import Client

import evaluation
from backend.challenges.models import Phase
from backend.submissions import services
from backend.submissions.models import Submission
from tests.conftest import make_challenge
from tests.live_helpers import SSE, AsgiServer

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = os.environ.get("LIVE_REDIS_URL") or os.environ.get("REDIS_CACHE_URL")
BACKENDS = ["poll", pytest.param("redis", marks=pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_CACHE_URL"))]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, django_db_setup, django_db_blocker):
    backend = request.param
    env = {"LIVE_BACKEND": backend, "LIVE_HEARTBEAT_SECONDS": "1", "LIVE_STREAM_MAX_SECONDS": "30"}
    process = AsgiServer(env)
    process.backend = backend
    yield process
    process.stop()


@pytest.fixture
def live_settings(server, settings):
    """The test process publishes through the transport the server listens on."""
    settings.LIVE_BACKEND = server.backend
    settings.LIVE_REDIS_URL = REDIS_URL or ""
    return server


def session_of(user) -> dict:
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def running_submission(benchmark, user, token="tok") -> Submission:
    return Submission.objects.create(
        phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user, status=Submission.Status.RUNNING,
        run_token=token, original_name="s.json", sha256="0" * 64, file="submissions/x.json")


def test_a_recorded_score_reaches_an_open_leaderboard_stream_within_a_second(live_settings, speech_challenge, users):
    phase = speech_challenge.phases.get()
    benchmark = speech_challenge.benchmarks.get()
    submission = running_submission(benchmark, users["alice"])
    stream = SSE(live_settings.url, f"/api/live/challenges/kws/phases/{phase.pk}/")
    try:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        first = stream.next_event()
        assert stream.retry == 3000
        before = Phase.objects.get(pk=phase.pk).leaderboard_version
        assert first["event"] == "leaderboard" and first["data"] == {"phase": phase.pk, "version": before}

        recorded = time.monotonic()
        assert services.complete_evaluation(submission.pk, "tok", evaluation.Result(scores={"macro_f1": 0.5}), "macro_f1")
        event = stream.next_event(timeout=3)
        assert event is not None, "no leaderboard event after the score was recorded"
        assert event["at"] - recorded < 1.0
        assert event["data"] == {"phase": phase.pk, "version": before + 1}
        assert event["id"] == str(before + 1)
        # Nothing else happens: a heartbeat comment keeps the idle connection open.
        assert stream.next_event(timeout=1.6) is None
        assert any(c.startswith(": keep-alive") for c in stream.comments)
    finally:
        stream.close()


def test_last_event_id_skips_the_state_the_page_already_has(live_settings, speech_challenge):
    phase = speech_challenge.phases.get()
    version = Phase.objects.get(pk=phase.pk).leaderboard_version
    stream = SSE(live_settings.url, f"/api/live/challenges/kws/phases/{phase.pk}/",
                 headers={"Last-Event-ID": str(version)})
    try:
        assert stream.status == 200
        assert stream.next_event(timeout=1.5) is None
        stale = SSE(live_settings.url, f"/api/live/challenges/kws/phases/{phase.pk}/",
                    headers={"Last-Event-ID": str(version - 1)})
        assert stale.next_event()["data"]["version"] == version
        stale.close()
    finally:
        stream.close()


def test_the_submission_stream_carries_status_and_progress(live_settings, speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    submission = running_submission(benchmark, users["alice"])
    stream = SSE(live_settings.url, f"/api/live/submissions/{submission.pk}/", cookies=session_of(users["alice"]))
    try:
        assert stream.status == 200
        assert stream.next_event()["data"] == {"submission": submission.pk, "status": "running", "progress": 0.0}
        changed = time.monotonic()
        services.record_progress(submission.pk, "tok", 0.5, "half way")
        event = stream.next_event(timeout=3)
        assert event["data"] == {"submission": submission.pk, "status": "running", "progress": 0.5}
        assert event["at"] - changed < 1.0
        services.complete_evaluation(submission.pk, "tok", evaluation.Result(scores={"macro_f1": 0.5}), "macro_f1")
        event = stream.next_event(timeout=3)
        assert event["data"] == {"submission": submission.pk, "status": "scored", "progress": 1.0}
    finally:
        stream.close()


def test_streams_are_refused_like_their_pages(live_settings, speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    submission = running_submission(benchmark, users["alice"])
    phase = speech_challenge.phases.get()
    # Someone else's submission, and a draft challenge's phase, do not exist for this viewer.
    bob = session_of(users["bob"])
    for path in (f"/api/live/submissions/{submission.pk}/", f"/api/live/submissions/{submission.pk + 999}/"):
        refused = SSE(live_settings.url, path, cookies=bob)
        assert refused.status == 404, path
        refused.close()
    draft = make_challenge(users["organizer"], slug="draft", status="draft")
    draft_phase = draft.phases.get()
    refused = SSE(live_settings.url, f"/api/live/challenges/draft/phases/{draft_phase.pk}/", cookies=bob)
    assert refused.status == 404
    refused.close()
    # A phase of another challenge under this slug is no phase.
    refused = SSE(live_settings.url, f"/api/live/challenges/kws/phases/{draft_phase.pk}/", cookies=bob)
    assert refused.status == 404
    refused.close()
    # Signed out: the submission stream needs an account; a participants-only board asks to sign in.
    anonymous = SSE(live_settings.url, f"/api/live/submissions/{submission.pk}/")
    assert anonymous.status == 403
    anonymous.close()
    Phase.objects.filter(pk=phase.pk).update(leaderboard_visibility=Phase.Visibility.PARTICIPANTS)
    anonymous = SSE(live_settings.url, f"/api/live/challenges/kws/phases/{phase.pk}/")
    assert anonymous.status == 403 and b"Sign in" in anonymous.body()
    anonymous.close()
    # The organizer sees the draft's stream.
    allowed = SSE(live_settings.url, f"/api/live/challenges/draft/phases/{draft_phase.pk}/",
                  cookies=session_of(users["organizer"]))
    assert allowed.status == 200
    allowed.close()


def test_a_hidden_board_tells_a_participant_only_of_their_own_rows(live_settings, speech_challenge, users):
    phase = speech_challenge.phases.get()
    Phase.objects.filter(pk=phase.pk).update(leaderboard_visibility=Phase.Visibility.HIDDEN)
    benchmark = speech_challenge.benchmarks.get()
    bobs = running_submission(benchmark, users["bob"], token="b")
    alices = running_submission(benchmark, users["alice"], token="a")
    stream = SSE(live_settings.url, f"/api/live/challenges/kws/phases/{phase.pk}/", cookies=session_of(users["alice"]))
    try:
        assert stream.status == 200
        first = stream.next_event()
        # No version (it moves with everyone's scores), no rows, no ranks: the phase id only.
        assert first["data"] == {"phase": phase.pk}
        services.complete_evaluation(bobs.pk, "b", evaluation.Result(scores={"macro_f1": 0.9}), "macro_f1")
        assert stream.next_event(timeout=2) is None, "alice learnt that someone else scored on a hidden board"
        services.complete_evaluation(alices.pk, "a", evaluation.Result(scores={"macro_f1": 0.4}), "macro_f1")
        event = stream.next_event(timeout=3)
        assert event is not None and event["data"] == {"phase": phase.pk}
        sent = str({key: value for key, value in event.items() if key != "at"})  # "at": the client's receive time
        assert "0.4" not in sent and "0.9" not in sent
    finally:
        stream.close()


def test_static_files_are_served_by_the_asgi_server(live_settings):
    import urllib.request

    with urllib.request.urlopen(f"{live_settings.url}/static/js/live.js", timeout=10) as response:
        assert response.status == 200
        assert b"DataperfLive" in response.read()


def test_under_wsgi_the_stream_answers_at_once_so_the_page_polls(client, speech_challenge):
    phase = speech_challenge.phases.get()
    started = time.monotonic()
    response = client.get(f"/api/live/challenges/kws/phases/{phase.pk}/")
    assert response.status_code == 503
    assert "polls instead" in response.json()["detail"]
    assert time.monotonic() - started < 5


def test_with_redis_down_scores_still_land_and_streams_answer_503(speech_challenge, users, settings):
    from tests.live_helpers import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.LIVE_BACKEND, settings.LIVE_REDIS_URL = "redis", dead
    submission = running_submission(speech_challenge.benchmarks.get(), users["alice"])
    assert services.complete_evaluation(submission.pk, "tok", evaluation.Result(scores={"macro_f1": 0.5}), "macro_f1")
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.SCORED

    server = AsgiServer({"LIVE_BACKEND": "redis", "LIVE_REDIS_URL": dead})
    try:
        phase = speech_challenge.phases.get()
        started = time.monotonic()
        stream = SSE(server.url, f"/api/live/challenges/kws/phases/{phase.pk}/")
        assert stream.status == 503
        assert "polls instead" in stream.body().decode()
        assert time.monotonic() - started < 5
        stream.close()
    finally:
        server.stop()
