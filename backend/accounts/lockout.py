"""Login lock-out (django-axes): the authentication backend that refuses locked-out sign-ins, and
the 429 answer they get (the sign-in page, or JSON for the API token endpoint).

Policy (settings ``AXES_*``; docs/operations.md, "Security"): ``LOGIN_FAILURE_LIMIT`` failures for one
account or from one client address lock that account / address for ``LOGIN_LOCKOUT_MINUTES``. Failures
during the lock-out are not counted, so it ends on time however hard someone keeps trying; sessions
and API tokens already issued keep working throughout. A browser the user has signed in from before
carries a signed "known device" cookie: there the account-wide count does not apply (only the address's
and this account-from-this-address's), so an attacker elsewhere cannot keep the user out.
"""
from __future__ import annotations

import math

from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_ip_address, get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.core import signing
from django.db.models import Max, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from backend.core.throttling import too_many_requests_page

LOCKED_MESSAGE = "Too many failed sign-ins for this account or from your address."
DEVICE_COOKIE = "known_device"
DEVICE_SALT = "backend.accounts.lockout.known-device"
DEVICE_MAX_AGE = timedelta(days=365)
DEVICE_MAX_USERS = 5  # accounts remembered per browser


def known_device_users(request) -> list[str]:
    """Usernames that signed in from this browser before (the signed cookie; [] if absent, forged or old)."""
    value = getattr(request, "COOKIES", {}).get(DEVICE_COOKIE)
    if not value:
        return []
    try:
        users = signing.loads(value, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return []
    return [u for u in users if isinstance(u, str)] if isinstance(users, list) else []


def lockout_parameters(request_or_attempt, credentials: dict | None) -> list:
    """``AXES_LOCKOUT_PARAMETERS``: what failures count against this sign-in. Everywhere: the client
    address. Then the account as a whole, except from a browser this account signed in from before,
    where only the account's failures from this address count."""
    if isinstance(request_or_attempt, HttpRequest) or hasattr(request_or_attempt, "_request"):
        username = get_client_username(request_or_attempt, credentials)
        if username and username in known_device_users(request_or_attempt):
            return ["ip_address", ["username", "ip_address"]]
    return ["ip_address", "username"]


def remember_device(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: mark the request; the middleware sets the cookie on the response."""
    if request is not None:
        request.known_device_username = user.get_username()


class KnownDeviceMiddleware:
    """Sets the signed "known device" cookie after a successful sign-in in the browser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        username = getattr(request, "known_device_username", None)
        if username:
            users = [username] + [u for u in known_device_users(request) if u != username]
            response.set_cookie(
                DEVICE_COOKIE, signing.dumps(users[:DEVICE_MAX_USERS], salt=DEVICE_SALT),
                max_age=int(DEVICE_MAX_AGE.total_seconds()), httponly=True, samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE)
        return response


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check, for every authentication that comes with a request (sign-in page, admin, API
    token). Authentication without a request (the test client's ``login``, scripts) has no client
    to lock out and is left to the next backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def seconds_until_unlocked(request, credentials: dict | None) -> int:
    """Upper bound on the lock-out left: the cool-off counted from the latest recorded failure of
    this account or address (failures during a lock-out are not recorded)."""
    cool_off = get_cool_off(request)
    username = get_client_username(request, credentials)
    ip_address = get_client_ip_address(request)
    match = Q(ip_address=ip_address)
    if username:
        match |= Q(username=username)
    latest = AccessAttempt.objects.filter(match).aggregate(latest=Max("attempt_time"))["latest"]
    if cool_off is None:
        return 0
    if latest is None:
        return math.ceil(cool_off.total_seconds())
    return max(1, math.ceil((latest + cool_off - timezone.now()).total_seconds()))


def lockout_response(request, original_response=None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: 429 with ``Retry-After`` and a sentence saying when to try again."""
    wait = seconds_until_unlocked(request, credentials)
    sentence = (f"{LOCKED_MESSAGE} Signing in is blocked for {math.ceil(wait / 60)} more minute(s); "
                "the lock-out ends by itself.")
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": sentence, "errors": {}}, status=429)
        response["Retry-After"] = str(wait)
        return response
    return too_many_requests_page(request, wait, message=LOCKED_MESSAGE)
