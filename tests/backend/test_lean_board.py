"""The lean path of the hot leaderboard GETs (backend/leaderboards/fast.py): a signed-out viewer's page,
``?since=`` poll and combined board of a public board, answered from per-process cached bytes. It must
answer exactly what the full view answers (body, ETag, headers), see every change at once, and never
serve anything personalised, hidden or not public: those take the full view."""
import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import connections
from django.test import Client, override_settings

from backend.challenges.models import Challenge, Phase
from backend.leaderboards import fast
from tests.backend.test_hidden_leaderboards import BOARD, CHALLENGE_BOARD, api, board, scored  # noqa: F401

pytestmark = pytest.mark.django_db

# A cookie named like the session cookie sends a request to the full view (it may be signed in); a
# stale one leaves it signed out, so the full view answers what a signed-out viewer gets there.
FULL_VIEW = {"HTTP_COOKIE": "sessionid=stale"}


def lean_keys():
    return list(fast.bodies._items)


def test_a_signed_out_page_is_the_full_views_answer_from_cached_bytes(board):
    lean = Client().get(BOARD, {"page_size": 3})
    assert lean.status_code == 200 and lean_keys(), "the lean path answered (and kept the body)"
    full = Client().get(BOARD, {"page_size": 3}, **FULL_VIEW)
    assert lean.content == full.content and lean["ETag"] == full["ETag"]
    same = {"Content-Type", "ETag", "Cache-Control", "Vary", "X-Frame-Options", "X-Content-Type-Options",
            "Referrer-Policy", "Cross-Origin-Opener-Policy", "Content-Security-Policy"}
    assert {k: lean[k] for k in same} == {k: full[k] for k in same}
    assert int(lean["Content-Length"]) == len(lean.content)
    assert [r["entrant"] for r in lean.json()["rows"]] == ["bob", "Baseline: random", "alice"]


def test_a_new_score_changes_the_cached_page_at_once_and_its_etag(board, users, speech_challenge):
    client = Client()
    first = client.get(BOARD)
    assert client.get(BOARD, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    scored(speech_challenge.benchmarks.get(), users["annotator"], 0.95, 1)
    second = client.get(BOARD, HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and second["ETag"] != first["ETag"]
    assert second.json()["rows"][0]["entrant"] == "ann" and second.json()["count"] == 5
    assert client.get(BOARD).content == second.content == client.get(BOARD, **FULL_VIEW).content


def test_304_for_any_matching_etag_in_the_list_and_weak_ones(board):
    client = Client()
    etag = client.get(BOARD)["ETag"]
    for sent in (etag, f"W/{etag}", f'"other", {etag}'):
        answer = client.get(BOARD, HTTP_IF_NONE_MATCH=sent)
        assert answer.status_code == 304 and answer.content == b"" and answer["ETag"] == etag, sent
    assert client.get(BOARD, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_since_polls(board, users, speech_challenge):
    client = Client()
    version = client.get(BOARD).json()["version"]
    unchanged = client.get(BOARD, {"since": version})
    assert unchanged.json() == {"changed": False, "version": version}
    assert client.get(BOARD, {"since": version}, HTTP_IF_NONE_MATCH=unchanged["ETag"]).status_code == 304
    scored(speech_challenge.benchmarks.get(), users["annotator"], 0.5, 1)
    delta = client.get(BOARD, {"since": version})
    assert [(r["entrant"], r["rank"]) for r in delta.json()["rows"]] == [("ann", 4)]
    assert delta.content == client.get(BOARD, {"since": version}, **FULL_VIEW).content
    later = client.get(BOARD, {"since": delta.json()["version"] + 1})  # not a version yet: the full view's 400
    assert later.status_code == 400 and list(later.json()["errors"]) == ["since"]


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=x", "page"), ("page_size=201", "page_size"), ("page_size=0", "page_size"),
    ("since=abc", "since"), ("around=you", "around"), ("page=-1", "page"), ("since=", None),
    ("page=1&page=2", None), ("phase=1x", "phase"),
])
def test_malformed_or_unusual_parameters_get_the_full_views_answer(board, query, field):
    response = Client().get(BOARD + "?" + query)
    if field is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 400 and list(response.json()["errors"]) == [field], query


def test_hidden_boards_are_never_served_from_the_shared_bytes_and_bodies_are_per_viewer(board, users):
    assert Client().get(BOARD).status_code == 200 and Client().get(CHALLENGE_BOARD).status_code == 200
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)  # no version bump
    signed_out = Client().get(BOARD)
    assert signed_out.status_code == 401 and "rows" not in signed_out.json()
    assert Client().get(CHALLENGE_BOARD).status_code == 401
    assert Client().get(BOARD, {"since": 1}).status_code == 401
    alice, bob = api(users["alice"]).get(BOARD).json(), api(users["bob"]).get(BOARD).json()
    assert [(r["entrant"], r["rank"]) for r in alice["rows"]] == [("alice", None)] and alice["count"] is None
    assert [(r["entrant"], r["rank"]) for r in bob["rows"]] == [("bob", None)]
    # Signed in through the browser (a session cookie): still the viewer's own rows only.
    browser = Client()
    browser.force_login(users["bob"])
    assert [r["entrant"] for r in browser.get(BOARD).json()["rows"]] == ["bob"]
    assert [r["entrant"] for r in browser.get(CHALLENGE_BOARD).json()["rows"]] == ["bob"]


def test_participants_only_and_unpublished_boards_are_not_served_to_signed_out_viewers(board, users):
    assert Client().get(BOARD).status_code == 200
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.PARTICIPANTS)
    assert Client().get(BOARD).status_code == 401
    assert api(users["bob"]).get(BOARD).status_code == 200
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.PUBLIC)
    Challenge.objects.update(status=Challenge.Status.DRAFT)
    assert Client().get(BOARD).status_code == 404 and Client().get(CHALLENGE_BOARD).status_code == 404
    assert Client().get("/api/challenges/nope/benchmarks/en-25/leaderboard/").status_code == 404
    assert Client().get("/api/challenges/kws/benchmarks/nope/leaderboard/").status_code == 404


def test_signed_in_viewers_get_links_to_their_own_rows_not_the_signed_out_body(board, users):
    signed_out = Client().get(BOARD).json()
    assert [r["detail_url"] is not None for r in signed_out["rows"]] == [False, True, False, False]  # the baseline
    mine = api(users["alice"]).get(BOARD).json()
    alice = next(r for r in mine["rows"] if r["entrant"] == "alice")
    assert alice["detail_url"]
    assert Client().get(BOARD).content == json.dumps(signed_out, separators=(",", ":")).encode()


def test_the_combined_board_is_cached_per_version(board, users, speech_challenge):
    client = Client()
    first = client.get(CHALLENGE_BOARD)
    assert first.content == client.get(CHALLENGE_BOARD, **FULL_VIEW).content and lean_keys()
    assert client.get(CHALLENGE_BOARD, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    scored(speech_challenge.benchmarks.get(), users["annotator"], 0.99, 1)
    second = client.get(CHALLENGE_BOARD, HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and second.json()["rows"][0]["entrant"] == "ann"
    weighted = client.get(CHALLENGE_BOARD, {"weights": "en-25:x"})  # the full view's checks
    assert weighted.status_code == 400 and list(weighted.json()["errors"]) == ["weights"]


def test_the_signed_out_rate_limit_holds_on_the_lean_path(board):
    rates = {"anon": "3/min", "user": "100000/min"}
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": rates}):
        from rest_framework.settings import api_settings

        api_settings.reload()
        try:
            answers = [Client().get(BOARD, REMOTE_ADDR="10.1.1.1").status_code for _ in range(4)]
            assert answers == [200, 200, 200, 429]
            refused = Client().get(BOARD, REMOTE_ADDR="10.1.1.1")
            assert 1 <= int(refused["Retry-After"]) <= 60 and "throttled" in refused.json()["detail"]
            assert Client().get(BOARD, REMOTE_ADDR="10.1.1.2").status_code == 200
        finally:
            api_settings.reload()


def test_a_body_cache_bounded_in_entries_and_bytes():
    cache = fast.BodyCache(max_entries=3, max_bytes=40)
    for i in range(5):
        cache.put(f"k{i}", f"e{i}", b"x" * 8, 60)
    assert list(cache._items) == ["k2", "k3", "k4"]
    cache.put("big", "e", b"x" * 11, 60)  # more than a quarter of the bytes: not kept
    assert cache.get("big") is None and cache.get("k4") == ("e4", b"x" * 8)
    cache.put("k5", "e5", b"x" * 10, 60)
    cache.put("k6", "e6", b"x" * 10, 60)
    assert cache._bytes <= 40 and cache.get("k6") == ("e6", b"x" * 10)
    cache.put("old", "e", b"x", -1)
    assert cache.get("old") is None


@pytest.mark.django_db(transaction=True)
def test_the_asgi_entry_point_answers_from_the_lean_path_and_falls_back(board, monkeypatch):
    from backend.config import asgi

    threads, django_thread = ThreadPoolExecutor(max_workers=1), ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(asgi, "_lean_threads", threads)
    monkeypatch.setattr(asgi, "_request_threads", [django_thread])  # the full view's (long-lived) thread
    monkeypatch.setattr(asgi, "_busy", [0])
    full = Client().get(BOARD, **FULL_VIEW)

    async def get(path, query=b"", headers=()):
        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": query,
                 "headers": [(b"host", b"localhost"), *headers], "scheme": "http", "client": ("10.2.2.2", 5000),
                 "server": ("localhost", 80), "http_version": "1.1", "asgi": {"version": "3.0"}, "root_path": ""}
        communicator = ApplicationCommunicator(asgi.application, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(10)
        body = await communicator.receive_output(10)
        return start["status"], dict(start["headers"]), body.get("body", b"")

    try:
        status, headers, body = asyncio.run(get(BOARD))
        assert status == 200 and body == full.content and headers[b"etag"] == full["ETag"].encode()
        assert headers[b"x-content-type-options"] == b"nosniff" and int(headers[b"content-length"]) == len(body)
        status, _, _ = asyncio.run(get(BOARD, headers=[(b"if-none-match", full["ETag"].encode())]))
        assert status == 304
        status, _, body = asyncio.run(get(BOARD, b"page_size=999"))  # Django's answer
        assert status == 400 and b"page_size" in body
        Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)
        assert asyncio.run(get(BOARD))[0] == 401
        # The full view's thread keeps its database connection from one request to the next.
        ids = [asyncio.run(get("/api/challenges/kws/benchmarks/en-25/leaderboard/", b"around=me")) for _ in range(2)]
        assert [status for status, _, _ in ids] == [401, 401]
        from django.conf import settings

        kept = django_thread.submit(lambda: connections["default"].connection is not None).result()
        assert kept or settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    finally:
        for executor in (threads, django_thread):
            executor.submit(connections.close_all).result()
            executor.shutdown()


def test_a_combined_board_being_built_elsewhere_is_waited_for_not_built_again(board, monkeypatch):
    import threading

    from django.contrib.auth.models import AnonymousUser
    from django.core.cache import cache

    from backend.leaderboards import api as board_api

    phase = Phase.objects.select_related("challenge").get()
    key = f"challenge-board-json:{phase.pk}:{phase.ranking_rule}:{phase.leaderboard_version}"
    cache.set(f"{key}:building", 1)  # another process is building this version ...
    threading.Timer(0.1, cache.set, [key, b'{"built": "elsewhere"}']).start()  # ... and stores it
    assert board_api.combined_body(phase, phase.leaderboard_version, AnonymousUser()) == b'{"built": "elsewhere"}'
    # A marker left by a process that died: the wait ends, and this process builds the board itself.
    cache.delete(key)
    monkeypatch.setattr(board_api, "BUILD_WAIT_SECONDS", 0.2)
    cache.set(f"{key}:building", 1)
    body = json.loads(board_api.combined_body(phase, phase.leaderboard_version, AnonymousUser()))
    assert [r["entrant"] for r in body["rows"]][:1] == ["bob"] and cache.get(f"{key}:building") is None
    assert cache.get(key) is not None


def test_credentials_a_bad_host_https_redirects_and_head_take_the_full_stack(board, users, settings):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=users["alice"])
    mine = Client().get(BOARD, HTTP_AUTHORIZATION=f"Token {token.key}").json()
    assert next(r for r in mine["rows"] if r["entrant"] == "alice")["detail_url"]  # her own row links
    assert Client().get(BOARD, HTTP_AUTHORIZATION="Token wrong").status_code == 401
    assert Client().get(BOARD, HTTP_HOST="evil.example").status_code == 400
    assert Client().head(BOARD).status_code == 200
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get(BOARD).status_code == 301
    assert Client().get(BOARD, secure=True).status_code == 200
    assert Client().get(BOARD, secure=True, HTTP_ACCEPT="image/png").status_code == 406  # DRF negotiates


def test_a_phase_of_another_challenge_or_none_at_all_is_a_404(board, users, speech_challenge):
    from tests.conftest import make_challenge

    other = make_challenge(users["organizer"], slug="other")
    other_phase = other.phases.get()
    assert Client().get(BOARD, {"phase": other_phase.pk}).status_code == 404
    assert Client().get(BOARD, {"phase": 999999}).status_code == 404
    own = speech_challenge.phases.get()
    assert Client().get(BOARD, {"phase": own.pk}).content == Client().get(BOARD).content


def test_the_body_cache_under_concurrent_threads():
    import threading

    cache = fast.BodyCache(max_entries=50, max_bytes=10_000)
    errors = []

    def hammer(n):
        try:
            for i in range(2000):
                key = f"k{(i * 7 + n) % 120}"
                cache.put(key, key, key.encode() * 3, 60)
                hit = cache.get(key)
                assert hit is None or hit == (key, key.encode() * 3)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache._items) <= 50
    assert cache._bytes == sum(len(body) for _, _, body in cache._items.values())
