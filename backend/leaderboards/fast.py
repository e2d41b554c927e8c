"""The lean path for the hot leaderboard GETs: a signed-out viewer's page, ``?since=`` poll and combined
board of a published challenge's public board.

Thousands of open pages poll these. Through DRF each cost ~4 ms of CPU (three ORM queries to resolve
slugs, content negotiation, a throttle history pickled in Redis, the middleware chain); here a hit is one
SQL query (slugs -> ids, the current phase and its version), one Redis round trip (the rate limit), an
ETag compare, and bytes from a per-process cache keyed by everything the body depends on. The body is
the one the DRF views build and cache (``api.page_body`` & co.), with the same ETag.

Anything else — a session cookie or an API token (a signed-in viewer's body is personalised), a board
not public, an unpublished challenge, a parameter this path does not serve or one that is malformed,
HEAD, an unusual Accept — returns None and takes the full view, which decides (401/403/404/400 or
the personalised answer). So this path never decides access beyond "public board, published challenge".

Called by ``FastBoardMiddleware`` (first middleware: WSGI, the test client) and by ``backend.config.asgi``
before Django's ASGI handler (which would hop threads and open a database connection per request).
"""
from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from django.utils import timezone

log = logging.getLogger(__name__)
BOARD = re.compile(r"/api/challenges/(?P<slug>[-a-zA-Z0-9_]+)/(?:benchmarks/(?P<benchmark>[-a-zA-Z0-9_]+)/)?"
                   r"leaderboard/")
# Parameters this path answers; the others listed send the request to the full view; the rest are ignored
# there too (e.g. a cache-busting ``_=``).
SERVED = {"page", "page_size", "since", "phase"}
FULL_VIEW = {"around", "search", "export", "weights", "format"}
DIGITS = re.compile(r"[0-9]{1,19}")
ACCEPTED = ("application/json", "*/*", "application/*")
MAX_ENTRIES, MAX_BYTES = 512, 64 * 2**20


@dataclass
class LeanRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    remote_addr: str
    secure: bool
    host_ok: bool = True


@dataclass
class LeanResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


# --- a per-process cache of encoded bodies --------------------------------------------------------

class BodyCache:
    """LRU of (etag, body) by key, bounded in entries and bytes; entries expire with the shared cache's
    timeout. Keys carry the board's version, so a changed board is a miss, never a stale hit."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[str, tuple[float, str, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return item[1], item[2]

    def put(self, key: str, etag: str, body: bytes, seconds: float) -> None:
        if len(body) > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (time.monotonic() + seconds, etag, body)
            self._bytes += len(body)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))

    def _drop(self, key: str) -> None:
        self._bytes -= len(self._items.pop(key)[2])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


bodies = BodyCache()


# --- resolution: slugs -> ids, the current phase and its version, in one query ----------------------

@dataclass(frozen=True)
class Board:
    published: bool
    public_details: bool
    benchmark_id: int | None
    phase_id: int
    version: int
    visibility: str
    rule: str


def _resolve(slug: str, benchmark_slug: str | None, phase_id: int | None) -> Board | None:
    from backend.challenges.models import Benchmark, Challenge, Phase

    q = connection.ops.quote_name
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    join, params = "", [now, now, now]
    if benchmark_slug is not None:
        join = f"JOIN {q(Benchmark._meta.db_table)} b ON b.challenge_id = c.id AND b.slug = %s"
        params.append(benchmark_slug)
    params.append(slug)
    # 0 open, 1 upcoming, 2 closed: challenge_selectors.current_phase in SQL (no datetime parsing here).
    sql = (f"SELECT c.status, c.public_submission_details, {'b.id' if benchmark_slug is not None else 'NULL'}, "
           f"p.id, p.leaderboard_version, p.leaderboard_visibility, p.ranking_rule, "
           f"CASE WHEN p.starts_at <= %s AND (p.ends_at IS NULL OR %s < p.ends_at) THEN 0 "
           f"WHEN p.starts_at > %s THEN 1 ELSE 2 END "
           f"FROM {q(Challenge._meta.db_table)} c JOIN {q(Phase._meta.db_table)} p ON p.challenge_id = c.id {join} "
           f"WHERE c.slug = %s ORDER BY p.{q('order')}, p.starts_at, p.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    if phase_id is not None:
        chosen = next((r for r in rows if r[3] == phase_id), None)
    else:
        chosen = (next((r for r in rows if r[7] == 0), None) or next((r for r in rows if r[7] == 1), None)
                  or rows[-1])
    if chosen is None:
        return None
    return Board(published=chosen[0] == Challenge.Status.PUBLISHED, public_details=bool(chosen[1]),
                 benchmark_id=chosen[2], phase_id=chosen[3], version=chosen[4], visibility=chosen[5],
                 rule=chosen[6])


def resolve(slug: str, benchmark_slug: str | None, phase_id: int | None) -> Board | None:
    """One query; a persistent connection that broke (database restart) is reopened once."""
    try:
        return _resolve(slug, benchmark_slug, phase_id)
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        connection.close()
        return _resolve(slug, benchmark_slug, phase_id)


def answer_on_own_thread(request: LeanRequest) -> LeanResponse | None:
    """``answer`` on a thread of the ASGI entry point, outside any Django request: it does what Django's
    request signals would for the thread's persistent connection (closed after CONN_MAX_AGE, or after
    an error), without their per-request health-check query."""
    if connection.connection is not None and not connection.in_atomic_block and (
            connection.errors_occurred or (connection.close_at is not None and time.monotonic() >= connection.close_at)):
        connection.close()
    return answer(request)


# --- the rate limit -------------------------------------------------------------------------------

def _throttled(request: LeanRequest) -> int | None:
    """Seconds to wait when the client is over a limit (the API's ``anon`` and ``user`` rates, per
    client address as DRF tells them apart), else None. A fixed-window counter: one Redis round trip
    instead of DRF's pickled history of timestamps. Fails open when the cache is down, like the API."""
    from rest_framework.settings import api_settings
    from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

    rates = api_settings.DEFAULT_THROTTLE_RATES
    limits = [(scope, *SimpleRateThrottle.parse_rate(None, rates.get(scope))) for scope in ("anon", "user")
              if rates.get(scope)]
    if not limits:
        return None
    forwarded = {"x-forwarded-for": request.headers["x-forwarded-for"]} if "x-forwarded-for" in request.headers else {}
    ident = BaseThrottle().get_ident(SimpleNamespace(META={"REMOTE_ADDR": request.remote_addr}, headers=forwarded))
    now = time.time()
    keys = [(cache.make_key(f"lean-throttle:{scope}:{ident}:{int(now // duration)}"), number, duration)
            for scope, number, duration in limits]
    backend = caches["default"]
    try:
        if isinstance(backend, RedisCache):
            pipe = backend._cache.get_client(write=True).pipeline(transaction=False)
            for key, _, duration in keys:
                pipe.incr(key)
                pipe.expire(key, int(duration) + 1)
            counts = pipe.execute()[::2]
        else:  # the embedded mode's file cache, the tests' cache
            counts = []
            for key, _, duration in keys:
                cache.add(key, 0, duration + 1, version=None)
                counts.append(cache.incr(key))
    except Exception as error:  # noqa: BLE001 - the cache is down: let the request through, as the API does
        from backend.core.throttling import _log_outage

        _log_outage("lean", error)
        return None
    waits = [duration - now % duration for (_, number, duration), count in zip(keys, counts) if count > number]
    return max(1, math.ceil(max(waits))) if waits else None


# --- the answer -----------------------------------------------------------------------------------

def _query(request: LeanRequest) -> dict[str, str] | None:
    """The served parameters, each well-formed and given once; None sends the request to the full view."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        if name in FULL_VIEW or (name in SERVED and (name in params or not DIGITS.fullmatch(value))):
            return None
        if name in SERVED:
            params[name] = value
    return params


def _eligible(request: LeanRequest) -> bool:
    if request.method != "GET" or not request.host_ok or "authorization" in request.headers:
        return False
    if settings.SESSION_COOKIE_NAME + "=" in request.headers.get("cookie", ""):
        return False  # possibly signed in: the full view (a stale cookie costs only the slow path)
    if settings.SECURE_SSL_REDIRECT and not request.secure:
        return False  # the full stack redirects
    accept = request.headers.get("accept", "")
    return not accept or any(kind in accept for kind in ACCEPTED)


def answer(request: LeanRequest) -> LeanResponse | None:
    """The response for a hot GET, or None for the full view (also when this path fails: logged)."""
    try:
        return _answer(request)
    except Exception:  # noqa: BLE001 - the full view still answers; the error is logged
        log.exception("lean leaderboard path failed for %s; answered by the full view", request.path)
        return None


def _answer(request: LeanRequest) -> LeanResponse | None:
    match = BOARD.fullmatch(request.path)
    if match is None or not _eligible(request):
        return None
    params = _query(request)
    if params is None:
        return None
    combined = match["benchmark"] is None
    if combined and "since" in params:
        return None  # the combined board has no deltas: the full view says what it does with it
    page, page_size = int(params.get("page", 1)), int(params.get("page_size", 50))
    from . import api

    if not (1 <= page <= 10**6 and 1 <= page_size <= api.MAX_PAGE_SIZE):
        return None
    phase_id = int(params["phase"]) if "phase" in params else None
    if phase_id is not None and not 1 <= phase_id <= 2**63 - 1:
        return None
    board = resolve(match["slug"], match["benchmark"], phase_id)
    if board is None or not board.published or board.visibility != "public":
        return None  # 404, or a board for signed-in viewers: the full view answers
    since = params.get("since")
    if since is not None and int(since) > board.version:
        return None  # not a version of this board: the full view's 400
    wait = _throttled(request)
    if wait is not None:
        return LeanResponse(429, api._encode({"detail": f"Request was throttled. Expected available in {wait} "
                                                        f"seconds.", "errors": {}}),
                            [("Content-Type", "application/json"), ("Retry-After", str(wait))])
    links = "links1" if board.public_details else "links0"
    if combined:
        etag = api._etag("challenge", board.phase_id, board.rule, board.version)
        key = f"challenge:{board.phase_id}:{board.rule}:{board.version}"
    elif since is not None:
        etag = api._etag("delta", board.phase_id, board.benchmark_id, board.rule, board.version, since, links, "anon")
        key = f"delta:{board.phase_id}:{board.benchmark_id}:{board.rule}:{board.version}:{since}:{links}"
    else:
        etag = api._etag("page", board.phase_id, board.benchmark_id, board.rule, board.version, page, page_size,
                         None, links, "anon")
        key = f"page:{board.phase_id}:{board.benchmark_id}:{board.rule}:{board.version}:{page}:{page_size}:{links}"
    if _matches(request.headers.get("if-none-match", ""), etag):
        return _response(304, b"", etag)
    hit = bodies.get(key)
    if hit is None:
        with _building(key):  # one build per key in this process; the others wait for it
            hit = bodies.get(key)
            if hit is None:
                hit = etag, _build(board, combined, since, page, page_size)
                bodies.put(key, *hit, api.CACHE_SECONDS)
    return _response(200, hit[1], etag)


_build_locks: dict[str, threading.Lock] = {}
_build_locks_lock = threading.Lock()


@contextmanager
def _building(key: str):
    """Single flight: a new version of the combined board is a miss for every request that arrives
    while it is built (~60 ms at 2,000 entrants); they wait for one build instead of each building it."""
    with _build_locks_lock:
        lock = _build_locks.setdefault(key, threading.Lock())
    try:
        with lock:
            yield
    finally:
        with _build_locks_lock:
            if not lock.locked():
                _build_locks.pop(key, None)


def _build(board: Board, combined: bool, since: str | None, page: int, page_size: int) -> bytes:
    """A miss in this process: the shared cache's bytes, else built by the full view's code."""
    from django.contrib.auth.models import AnonymousUser

    from backend.challenges.models import Benchmark, Phase

    from . import api

    phase = Phase.objects.select_related("challenge").get(pk=board.phase_id)
    if combined:
        return api.combined_body(phase, board.version, AnonymousUser())
    benchmark = Benchmark.objects.select_related("challenge").get(pk=board.benchmark_id)
    if since is not None:
        if int(since) == board.version:
            return api.unchanged_body(board.version)
        return api.delta_body(phase, benchmark, board.version, int(since))
    return api.page_body(phase, benchmark, board.version, page, page_size)


def _matches(sent: str, etag: str) -> bool:
    return bool(sent) and any(tag.strip().removeprefix("W/") == etag for tag in sent.split(","))


_static: dict[bool, list[tuple[str, str]]] = {}


def static_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers the full stack adds to a JSON answer (security, framing, CSP), computed once per
    process by running a response through those middlewares' response phase."""
    headers = _static.get(secure)
    if headers is None:
        from django.http import HttpRequest
        from django.middleware.clickjacking import XFrameOptionsMiddleware
        from django.middleware.security import SecurityMiddleware

        fake = HttpRequest()
        fake.is_secure = lambda: secure
        response = HttpResponse(b"", content_type="application/json")
        middlewares = [SecurityMiddleware, XFrameOptionsMiddleware]
        if "csp.middleware.CSPMiddleware" in settings.MIDDLEWARE:
            from csp.middleware import CSPMiddleware

            middlewares.append(CSPMiddleware)
        for middleware in middlewares:
            instance = middleware(lambda request: response)
            if hasattr(instance, "process_request"):
                instance.process_request(fake)
            response = instance.process_response(fake, response) or response
        headers = [(k, v) for k, v in response.items() if k.lower() not in ("content-type", "content-length")]
        _static[secure] = headers
    return headers


def _response(status: int, body: bytes, etag: str) -> LeanResponse:
    headers = [("Content-Type", "application/json"), ("ETag", etag), ("Cache-Control", "public, no-cache"),
               ("Vary", "Cookie, Authorization, Accept"), ("Allow", "GET, HEAD, OPTIONS")]
    return LeanResponse(status, body, headers)


# --- adapters ---------------------------------------------------------------------------------------

def as_http_response(lean: LeanResponse, secure: bool) -> HttpResponse:
    response = HttpResponse(lean.body, status=lean.status)
    for name, value in lean.headers + static_headers(secure):
        response[name] = value
    response["Content-Length"] = str(len(lean.body))
    return response


class FastBoardMiddleware:
    """First in MIDDLEWARE: answers the hot GETs before the rest of the stack (WSGI; under ASGI,
    ``backend.config.asgi`` already tried them, so the async call passes through)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction

        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.get_response(request)  # a coroutine: awaited by the caller
        # (``_force_auth_user``: a test client signed in without credentials on the request.)
        if (request.method == "GET" and request.path_info.startswith("/api/challenges/")
                and getattr(request, "_force_auth_user", None) is None):
            try:
                request.get_host()
                host_ok = True
            except Exception:  # noqa: BLE001 - DisallowedHost: the full stack answers 400
                host_ok = False
            lean = answer(LeanRequest(
                "GET", request.path_info, request.META.get("QUERY_STRING", ""),
                {k[5:].replace("_", "-").lower(): v for k, v in request.META.items() if k.startswith("HTTP_")},
                request.META.get("REMOTE_ADDR", ""), request.is_secure(), host_ok))
            if lean is not None:
                return as_http_response(lean, request.is_secure())
        return self.get_response(request)


def from_asgi_scope(scope) -> LeanRequest:
    headers = {}
    for name, value in scope.get("headers", []):
        name = name.decode("latin-1").lower()
        value = value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    secure = scope.get("scheme") == "https"
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        secure = headers.get(proxy[0][5:].replace("_", "-").lower(), "").split(",")[0].strip() == proxy[1]
    host = headers.get("x-forwarded-host") if settings.USE_X_FORWARDED_HOST else None
    host = host or headers.get("host", "")
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    client = scope.get("client") or ("", 0)
    return LeanRequest(scope.get("method", ""), scope.get("path", ""), scope.get("query_string", b"").decode("latin-1"),
                       headers, client[0], secure, bool(domain) and validate_host(domain, allowed))
