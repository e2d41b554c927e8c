"""Request rate limits: DRF throttle classes (applied to every API view through
``DEFAULT_THROTTLE_CLASSES``) and a decorator that applies the same limits to pages.

Counts live in the cache (Redis in production). A limit that cannot be checked because the cache
is down lets the request through and logs it: an outage of the cache must not take the site down.
Rates are read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` on every request, so a change of
settings (or a test's override) applies at once.
"""
from __future__ import annotations

import functools
import logging
import math
import time

from django.shortcuts import render
from rest_framework import throttling
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)

_last_outage_log = 0.0


def _log_outage(scope: str, error: Exception) -> None:
    """At most one log line a minute: during an outage every request would log otherwise."""
    global _last_outage_log
    now = time.monotonic()
    if now - _last_outage_log >= 60:
        _last_outage_log = now
        logger.error("Rate limit %r not checked, the cache is unavailable (%s); letting requests through.",
                     scope, error)


class FailOpenMixin:
    """Reads rates at request time and lets the request through when the cache fails."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception as error:  # any cache client error: connection refused, timeout, ...
            _log_outage(self.scope, error)
            return True


class AnonRateThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    """Signed-out clients, per address (``anon`` rate)."""


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    """Signed-in users per account, others per address (``user`` rate)."""


class AuthTokenRateThrottle(FailOpenMixin, throttling.SimpleRateThrottle):
    """Requests for an API token, per client address (``auth`` rate): password guessing over the API."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UploadRateThrottle(FailOpenMixin, throttling.SimpleRateThrottle):
    """Submission uploads (POST only), per account, shared by the upload page and the API (``uploads``)."""

    scope = "uploads"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PredictRateThrottle(FailOpenMixin, throttling.SimpleRateThrottle):
    """Live predictions for created items, per account (``predict``): each one runs the featurizer
    (MiniLM for text) and the whole suite."""

    scope = "predict"

    def get_cache_key(self, request, view):
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignupRateThrottle(FailOpenMixin, throttling.SimpleRateThrottle):
    """Account creation (POST), per client address (``signup``): new accounts would reset per-account limits."""

    scope = "signup"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttled_page(*throttle_classes):
    """Applies throttle classes to a page view: over the limit, the page answers 429 with
    ``Retry-After`` and a sentence saying when to try again."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            waits = []
            for throttle_class in throttle_classes:
                throttle = throttle_class()
                if not throttle.allow_request(request, None):
                    waits.append(throttle.wait() or 1)
            if waits:
                return too_many_requests_page(request, max(waits))
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def too_many_requests_page(request, wait_seconds: float, message: str | None = None):
    seconds = max(1, math.ceil(wait_seconds))
    response = render(request, "429.html", {
        "message": message or "Too many requests in a short time.",
        "wait_seconds": seconds,
        "wait_minutes": math.ceil(seconds / 60),
    }, status=429)
    response["Retry-After"] = str(seconds)
    return response
