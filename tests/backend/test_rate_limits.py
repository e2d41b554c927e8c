"""Rate limits: login lock-out per account and per address with recovery, 429 + Retry-After on the
API, the token endpoint and uploads (page and API), and throttles that fail open when the cache is down."""
import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.views import APIView

from backend.core import throttling

from .helpers import raw_upload

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def sign_in(client, username, password, ip):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def rates(**overrides):
    """REST_FRAMEWORK settings with some rates lowered for one test."""
    from django.conf import settings

    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **overrides}
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged})


def expire_lockouts():
    """The cool-off passing (15 minutes), without waiting for it."""
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))


# --- login lock-out --------------------------------------------------------------------------------

def test_ten_wrong_passwords_lock_the_account_then_it_recovers(client, users):
    for attempt in range(9):
        response = sign_in(client, "alice", "wrong", "10.0.0.1")
        assert response.status_code == 200, attempt  # the form again, with its error
    locked = sign_in(client, "alice", "wrong", "10.0.0.1")
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins" in locked.content.decode()
    # The right password does not get in while locked, not from another address either.
    assert sign_in(client, "alice", "alice-password", "10.0.0.1").status_code == 429
    assert sign_in(client, "alice", "alice-password", "10.9.9.9").status_code == 429
    # Another account from a fresh address is not affected.
    assert sign_in(client, "bob", "bob-password", "10.0.0.2").status_code == 302

    expire_lockouts()
    assert sign_in(client, "alice", "alice-password", "10.0.0.1").status_code == 302


def test_failures_during_a_lockout_do_not_extend_it(client, users):
    for _ in range(10):
        sign_in(client, "alice", "wrong", "10.0.1.1")
    locked_at = AccessAttempt.objects.order_by("-attempt_time").values_list("attempt_time", flat=True).first()
    for _ in range(20):  # an attacker keeps hammering
        assert sign_in(client, "alice", "wrong", "10.0.1.1").status_code == 429
    assert AccessAttempt.objects.order_by("-attempt_time").values_list("attempt_time", flat=True).first() == locked_at
    expire_lockouts()
    assert sign_in(client, "alice", "alice-password", "10.0.1.2").status_code == 302


def test_one_address_guessing_many_accounts_is_locked_out(client, users):
    for number in range(10):
        sign_in(client, f"nobody{number}", "guess", "10.0.2.1")
    # The address is locked, even for a correct password ...
    assert sign_in(client, "bob", "bob-password", "10.0.2.1").status_code == 429
    # ... but bob's account is not: he signs in from elsewhere.
    assert sign_in(client, "bob", "bob-password", "10.0.2.2").status_code == 302


def test_many_addresses_guessing_one_account_lock_the_account(client, users):
    for number in range(10):
        sign_in(client, "alice", "guess", f"10.0.3.{number + 1}")
    assert sign_in(client, "alice", "alice-password", "10.0.3.200").status_code == 429
    assert sign_in(client, "bob", "bob-password", "10.0.3.1").status_code == 302


def test_a_success_does_not_wipe_the_address_count(client, users):
    """An attacker signing in to their own account between guesses keeps their failures counted."""
    for number in range(9):
        sign_in(client, "alice", "guess", "10.0.4.1")
    assert sign_in(client, "bob", "bob-password", "10.0.4.1").status_code == 302
    client.logout()
    assert sign_in(client, "alice", "guess", "10.0.4.1").status_code == 429


def test_an_attacker_elsewhere_cannot_keep_a_user_out_of_a_browser_she_used_before(users):
    from django.test import Client

    from backend.accounts.lockout import DEVICE_COOKIE

    her_browser = Client()
    assert sign_in(her_browser, "alice", "alice-password", "10.0.5.1").status_code == 302
    assert her_browser.cookies[DEVICE_COOKIE]["httponly"]
    her_browser.post("/accounts/logout/")  # signing out keeps the device cookie
    attacker = Client()
    for number in range(10):
        sign_in(attacker, "alice", "guess", f"10.0.6.{number + 1}")
    assert sign_in(Client(), "alice", "alice-password", "10.0.5.1").status_code == 429  # a new browser: locked
    forged = Client()
    forged.cookies[DEVICE_COOKIE] = "alice"
    assert sign_in(forged, "alice", "alice-password", "10.0.5.1").status_code == 429
    bobs_browser = Client()
    sign_in(bobs_browser, "bob", "bob-password", "10.0.5.1")
    bobs_browser.post("/accounts/logout/")
    assert sign_in(bobs_browser, "alice", "alice-password", "10.0.5.1").status_code == 429  # remembers bob only
    assert sign_in(her_browser, "alice", "alice-password", "10.0.5.1").status_code == 302


def test_a_known_browser_still_counts_its_own_failures(client, users):
    from backend.accounts.lockout import DEVICE_COOKIE

    assert sign_in(client, "alice", "alice-password", "10.0.7.1").status_code == 302
    client.post("/accounts/logout/")
    assert client.cookies[DEVICE_COOKIE].value
    for _ in range(9):
        assert sign_in(client, "alice", "guess", "10.0.7.1").status_code == 200
    assert sign_in(client, "alice", "guess", "10.0.7.1").status_code == 429
    assert sign_in(client, "alice", "alice-password", "10.0.7.1").status_code == 429


# --- the API token endpoint --------------------------------------------------------------------------

def test_token_endpoint_is_rate_limited_with_retry_after(users):
    client = APIClient()
    with rates(auth="3/min"):
        for _ in range(3):
            response = client.post("/api/auth/token/", {"username": "alice", "password": "alice-password"},
                                   REMOTE_ADDR="10.1.0.1")
            assert response.status_code == 200 and response.json()["token"]
        refused = client.post("/api/auth/token/", {"username": "alice", "password": "alice-password"},
                              REMOTE_ADDR="10.1.0.1")
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 60
        assert "throttled" in refused.json()["detail"].lower()
        # Per address: another client is still served.
        assert client.post("/api/auth/token/", {"username": "bob", "password": "bob-password"},
                           REMOTE_ADDR="10.1.0.2").status_code == 200


def test_token_endpoint_honours_the_login_lockout(users):
    client = APIClient()
    for _ in range(9):
        response = client.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.1.1.1")
        assert response.status_code == 400
        assert "Unable to log in" in response.json()["detail"]
    client.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.1.1.1")
    locked = client.post("/api/auth/token/", {"username": "alice", "password": "alice-password"},
                         REMOTE_ADDR="10.1.1.1")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Too many failed sign-ins" in locked.json()["detail"]
    # Sign-in page and API share the count: the page refuses alice too.
    assert sign_in(APIClient(), "alice", "alice-password", "10.1.1.9").status_code == 429
    expire_lockouts()
    assert client.post("/api/auth/token/", {"username": "alice", "password": "alice-password"},
                       REMOTE_ADDR="10.1.1.1").status_code == 200


def test_token_endpoint_answers_malformed_requests_with_400(users):
    client = APIClient()
    empty = client.post("/api/auth/token/", {}, format="json")
    assert empty.status_code == 400 and set(empty.json()["errors"]) == {"username", "password"}
    assert client.post("/api/auth/token/", [1, 2], format="json").status_code == 400
    assert client.post("/api/auth/token/", "{oops", content_type="application/json").status_code == 400


# --- the API in general ----------------------------------------------------------------------------

def _api_view_classes():
    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns)
            else:
                view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
                if view_class is not None and issubclass(view_class, APIView):
                    yield pattern.pattern, view_class

    return list(walk(get_resolver().url_patterns))


def test_every_api_view_is_throttled():
    assert [c.__name__ for c in api_settings.DEFAULT_THROTTLE_CLASSES] == ["AnonRateThrottle", "UserRateThrottle"]
    views = _api_view_classes()
    assert len(views) > 20
    for pattern, view_class in views:
        classes = view_class().get_throttles()
        assert any(isinstance(t, (throttling.AnonRateThrottle, throttling.AuthTokenRateThrottle)) for t in classes), pattern
        assert all(isinstance(t, throttling.FailOpenMixin) for t in classes), pattern


def test_api_answers_429_with_retry_after_per_user_and_per_address(users):
    alice, bob = APIClient(), APIClient()
    alice.force_authenticate(users["alice"])
    bob.force_authenticate(users["bob"])
    with rates(user="3/min", anon="2/min"):
        for _ in range(3):
            assert alice.get("/api/me/").status_code == 200
        refused = alice.get("/api/me/")
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 60
        assert "Request was throttled" in refused.json()["detail"]
        assert bob.get("/api/me/").status_code == 200  # per account

        anonymous = APIClient()
        assert [anonymous.get("/api/challenges/", REMOTE_ADDR="10.2.0.1").status_code for _ in range(3)] == [200, 200, 429]
        assert anonymous.get("/api/challenges/", REMOTE_ADDR="10.2.0.2").status_code == 200  # per address


def test_uploads_have_their_own_rate_shared_by_page_and_api(users, speech_challenge):
    api = APIClient()
    api.force_authenticate(users["alice"])
    with rates(uploads="2/min"):
        for _ in range(2):  # rejected files count too: the limit is on upload attempts
            response = api.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25",
                                                      "file": raw_upload(b"{oops")}, format="multipart")
            assert response.status_code == 400
        refused = api.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25",
                                                 "file": raw_upload(b"{oops")}, format="multipart")
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert api.get("/api/submissions/").status_code == 200  # listing is not an upload

        from django.test import Client

        page = Client()
        page.force_login(users["alice"])
        refused_page = page.post("/challenges/kws/en-25/submit/", {"file": raw_upload(b"{oops")})
        assert refused_page.status_code == 429
        assert int(refused_page["Retry-After"]) > 0
        assert "Too many requests" in refused_page.content.decode()

        bob = Client()
        bob.force_login(users["bob"])
        response = bob.post("/challenges/kws/en-25/submit/", {"file": raw_upload(b"{oops")}, follow=True)
        assert response.status_code == 200 and "Submission rejected" in response.content.decode()


def test_signups_are_limited_per_address(client, db):
    def signup(name, ip):
        return client.post("/accounts/signup/", {"username": name, "password1": "a-long-pass-123",
                                                 "password2": "a-long-pass-123"}, REMOTE_ADDR=ip)

    with rates(signup="2/min"):
        assert client.get("/accounts/signup/", REMOTE_ADDR="10.3.0.1").status_code == 200
        assert [signup(f"new{n}", "10.3.0.1").status_code for n in range(3)] == [302, 302, 429]
        refused = signup("new9", "10.3.0.1")
        assert int(refused["Retry-After"]) > 0 and "Too many requests" in refused.content.decode()
        assert client.get("/accounts/signup/", REMOTE_ADDR="10.3.0.1").status_code == 200  # the form still shows
        assert signup("other", "10.3.0.2").status_code == 302


def test_throttles_fail_open_when_the_cache_is_down(users, caplog, monkeypatch):
    monkeypatch.setattr(throttling, "_last_outage_log", -1e9)
    client = APIClient()
    client.force_authenticate(users["alice"])
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                               "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens on port 1
    with rates(user="1/min"), override_settings(CACHES=unreachable), caplog.at_level(logging.ERROR):
        assert [client.get("/api/me/").status_code for _ in range(3)] == [200, 200, 200]
    assert any("cache is unavailable" in record.getMessage() for record in caplog.records)
