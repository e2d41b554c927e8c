"""Login lock-out (django-axes): the authentication backend that refuses locked-out sign-ins, and
the 429 answer they get (the sign-in page, or JSON for the API token endpoint).

Policy (settings ``AXES_*``; docs/operations.md, "Security"): ``LOGIN_FAILURE_LIMIT`` failures for one
account or from one client address lock that account / address for ``LOGIN_LOCKOUT_MINUTES``. Failures
during the lock-out are not counted, so it ends on time however hard someone keeps trying; sessions
and API tokens already issued keep working throughout.
"""
from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_ip_address, get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max, Q
from django.http import JsonResponse
from django.utils import timezone

from backend.core.throttling import too_many_requests_page

LOCKED_MESSAGE = "Too many failed sign-ins for this account or from your address."


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
