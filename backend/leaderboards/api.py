"""Leaderboard API: ranked rows in pages, deltas since a version, ETags.

A page's JSON is the same for every viewer who may see the whole board, so it is encoded once per
(version, page) and cached as bytes; its ETag names the version and the page, and a client that sends it
back in ``If-None-Match`` gets a 304 before any row is read. Hidden boards are computed per viewer (their
own rows, no rank, no count) and never stored under a shared key.
"""
import csv
import hashlib
import io
import json
import math
import re
import time

from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.challenges import selectors as challenge_selectors
from backend.core.errors import Rejected
from backend.core.params import choice_param, id_param, int_param, text_param
from backend.submissions import selectors as submission_selectors
from backend.submissions.api import PublicSubmissionOutput

from . import selectors

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
MAX_SEARCH_CHARS = 100
CACHE_SECONDS = 600
BUILD_WAIT_SECONDS = 2
HIDDEN_FIELDS = ("user_id", "team_id", "entrant_key")


def resolve(user, slug: str, benchmark_slug: str, phase_id: int | None):
    benchmark = challenge_selectors.get_visible_benchmark(user, slug, benchmark_slug)
    phases = benchmark.challenge.phases.all()
    phase = phases.filter(pk=phase_id).first() if phase_id is not None else challenge_selectors.current_phase(benchmark.challenge)
    if phase is None:
        raise Http404("No such phase.")
    phase.challenge = benchmark.challenge
    return benchmark, phase


def _sign_in_required(request) -> Response:
    """A board for signed-in users only: 401 (with ``WWW-Authenticate: Token``) to a client that sent no
    credentials, 403 to a signed-in one who may not see it."""
    if not request.user.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) to see this leaderboard.")
    return Response({"detail": "You may not see this leaderboard.", "errors": {}}, status=403)


def _since_param(params) -> str | None:
    """A version the page has: an integer, or on a hidden board a digest of the viewer's own rows
    (``selectors.version_for_viewer``)."""
    since = text_param(params, "since", max_chars=64)
    if not since:
        return None
    if not re.fullmatch(r"[0-9]{1,19}|[0-9a-f]{16}", since):
        raise Rejected("since", "must be a leaderboard version returned by this endpoint")
    return since


def _page_size_param(params) -> int:
    size = int_param(params, "page_size", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=2**31)
    if size > MAX_PAGE_SIZE:
        raise Rejected("page_size", f"{size} is more than {MAX_PAGE_SIZE} rows per page")
    return size


def _detail_url(submission_id) -> str | None:
    return reverse("submission-detail", args=[submission_id]) if submission_id else None


def _public(row: dict, phase=None) -> dict:
    """A row as every viewer of a (non-hidden) board sees it: ``detail_url`` when the submission's
    public details are open to all of them (``selectors.publicly_detailed``), else None."""
    public = {k: v for k, v in row.items() if k not in HIDDEN_FIELDS}
    if phase is not None:
        public["detail_url"] = (_detail_url(row["submission_id"])
                                if selectors.publicly_detailed(phase, row["is_baseline"]) else None)
    return public


def _links_key(phase) -> str:
    """What the shared rows' links depend on besides the version (the organizer's setting)."""
    return "links1" if phase.challenge.public_submission_details else "links0"


def _viewer_key(user, phase) -> str:
    """Signed-in viewers also get links to their own rows (organizers: to every row)."""
    if not user.is_authenticated:
        return "anon"
    return f"org:{user.pk}" if challenge_selectors.organizes(user, phase.challenge) else f"user:{user.pk}"


def _link_own_rows(payload: dict, user, phase) -> dict:
    """Add ``detail_url`` to the rows the viewer may open in full: every row for the challenge's
    organizers, their own (and their teams') submissions for everyone else."""
    if not user.is_authenticated or not payload.get("rows"):
        return payload
    ids = [row["submission_id"] for row in payload["rows"] if row.get("submission_id") and not row.get("detail_url")]
    if not ids:
        return payload
    if challenge_selectors.organizes(user, phase.challenge):
        allowed = set(ids)
    else:
        allowed = set(submission_selectors.own_submissions(user).filter(pk__in=ids).values_list("pk", flat=True))
    for row in payload["rows"]:
        if row.get("submission_id") in allowed:
            row["detail_url"] = _detail_url(row["submission_id"])
    return payload


def _encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def _etag(*parts) -> str:
    return '"' + hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:24] + '"'


def _matches(request, etag: str) -> bool:
    sent = request.headers.get("If-None-Match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in sent.split(",")) if sent else False


def _json(body: bytes, etag: str, request, *, private: bool) -> HttpResponse:
    """The encoded body, or 304 when the client already has it."""
    if _matches(request, etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    # Revalidate every time (the board changes with every score); never share a per-viewer answer.
    response["Cache-Control"] = ("private" if private else "public") + ", no-cache"
    response["Vary"] = "Cookie, Authorization"
    return response


class LeaderboardApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=[
        OpenApiParameter("phase", int, description="phase id; default: the current phase"),
        OpenApiParameter("page", int, description="page number, from 1 (default 1)"),
        OpenApiParameter("page_size", int, description=f"rows per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE})"),
        OpenApiParameter("around", str, enum=["me"], description="the page holding your own row"),
        OpenApiParameter("since", str, description="a version you have: only the rows changed since then "
                                                   "(`changed: false` when none); ranks of other rows may have shifted"),
        OpenApiParameter("export", str, enum=["csv"], description="download all ranked rows as CSV"),
        OpenApiParameter("search", str, description=f"only entrants whose name contains this text (case-insensitive, "
                         f"at most {MAX_SEARCH_CHARS} characters); pages count the matches, ranks stay the board's. "
                         "On a hidden board it matches among your own rows only."),
    ])
    def get(self, request, slug: str, benchmark: str):
        params = request.query_params
        phase_id, since = id_param(params, "phase"), _since_param(params)
        export = choice_param(params, "export", ["csv"])
        page = int_param(params, "page", default=1, minimum=1, maximum=10**6)
        page_size = _page_size_param(params)
        around = choice_param(params, "around", ["me"])
        search = text_param(params, "search", max_chars=MAX_SEARCH_CHARS).strip()
        if search and around:
            raise Rejected("search", "cannot be combined with around=me (the page of your own row)")
        benchmark, phase = resolve(request.user, slug, benchmark, phase_id)
        if not selectors.can_view_leaderboard(request.user, phase):
            return _sign_in_required(request)
        version = phase.leaderboard_version
        if selectors.is_hidden_for(request.user, phase):
            return self._hidden(request, phase, benchmark, since, export, search)
        if export == "csv":
            return _csv_export(benchmark, phase, selectors.leaderboard_rows(phase, benchmark))
        if since is not None:
            return self._delta(request, phase, benchmark, version, since)
        if search:
            return self._search(request, phase, benchmark, version, search, page, page_size)
        # Only a public board's pages may be kept by shared caches (they still revalidate every time).
        private = around is not None or phase.leaderboard_visibility != phase.Visibility.PUBLIC
        position = None
        if around == "me":
            position = selectors.position_of_viewer(phase, benchmark, request.user)
            page = 1 if position is None else (position - 1) // page_size + 1
        links = _links_key(phase)
        etag = _etag("page", phase.pk, benchmark.pk, phase.ranking_rule, version, page, page_size,
                     around and f"me:{position}", links, _viewer_key(request.user, phase))
        if _matches(request, etag):
            return _json(b"", etag, request, private=private)
        body = page_body(phase, benchmark, version, page, page_size)
        if around is not None or request.user.is_authenticated:
            payload = _link_own_rows(json.loads(body), request.user, phase)
            if around is not None:
                # Where the viewer's own row is (None: they have none, and this is the first page).
                payload["my_position"] = position
            body = _encode(payload)
        return _json(body, etag, request, private=private or request.user.is_authenticated)

    def _search(self, request, phase, benchmark, version: int, search: str, page: int, page_size: int):
        """The matching rows, a page at a time; computed per request (not cached: searches rarely repeat)."""
        private = phase.leaderboard_visibility != phase.Visibility.PUBLIC or request.user.is_authenticated
        etag = _etag("search", phase.pk, benchmark.pk, phase.ranking_rule, version, page, page_size, search,
                     _links_key(phase), _viewer_key(request.user, phase))
        if _matches(request, etag):
            return _json(b"", etag, request, private=private)
        count, rows = selectors.search_page(phase, benchmark, search, page, page_size)
        payload = {**_head(phase, benchmark, version, hidden=False), "search": search, "count": count, "page": page,
                   "page_size": page_size, "pages": max(1, -(-count // page_size)),
                   "rows": [_public(row, phase) for row in rows]}
        return _json(_encode(_link_own_rows(payload, request.user, phase)), etag, request, private=private)

    def _delta(self, request, phase, benchmark, version: int, since: str):
        if not since.isdigit() or int(since) > version:
            # Not a version of this board (e.g. a hidden board's digest, or from a restored database).
            raise Rejected("since", "is not a version of this leaderboard; load the board without since")
        etag = _etag("delta", phase.pk, benchmark.pk, phase.ranking_rule, version, since, _links_key(phase),
                     _viewer_key(request.user, phase))
        private = phase.leaderboard_visibility != phase.Visibility.PUBLIC
        if int(since) == version:
            return _json(unchanged_body(version), etag, request, private=private)
        body = delta_body(phase, benchmark, version, int(since))
        if request.user.is_authenticated:
            body = _encode(_link_own_rows(json.loads(body), request.user, phase))
        return _json(body, etag, request, private=private or request.user.is_authenticated)

    def _hidden(self, request, phase, benchmark, since, export, search=""):
        """The viewer's own rows, without rank; no count, no pages, no other rows, in any answer (a search
        matches among them only). Their own rows link to their own (full) submission pages."""
        rows = selectors.own_rows(phase, benchmark, request.user)
        if search:
            rows = [row for row in rows if search.casefold() in row["entrant"].casefold()]
        if export == "csv":
            return _csv_export(benchmark, phase, rows)
        version = selectors.version_for_viewer(rows, phase, request.user, phase.leaderboard_version)
        etag = _etag("hidden", request.user.pk, phase.pk, benchmark.pk, version, search)
        if since is not None and since == str(version):
            return _json(_encode({"changed": False, "version": version}), etag + "-u", request, private=True)
        body = _encode({**_head(phase, benchmark, version, hidden=True), "count": None, "page": 1, "pages": 1,
                        **({"search": search} if search else {}),
                        "rows": [{**_public(row), "detail_url": _detail_url(row["submission_id"])} for row in rows]})
        return _json(body, etag, request, private=True)


# --- bodies shared by every viewer of a non-hidden board: encoded once per version, cached as bytes ---
# (the DRF views above and the lean path in ``fast``; signed-in viewers' own-row links are added on top)

def page_key(phase, benchmark, version: int, page: int, page_size: int) -> str:
    return (f"leaderboard-page:{phase.pk}:{benchmark.pk}:{phase.ranking_rule}:{version}:{page}:{page_size}:"
            f"{_links_key(phase)}")


def page_body(phase, benchmark, version: int, page: int, page_size: int) -> bytes:
    key = page_key(phase, benchmark, version, page, page_size)
    body = cache.get(key)
    if body is None:
        count = selectors.board_count(phase, benchmark)
        rows = selectors.board_page(phase, benchmark, page, page_size)
        body = _encode({**_head(phase, benchmark, version, hidden=False), "count": count, "page": page,
                        "page_size": page_size, "pages": max(1, -(-count // page_size)),
                        "rows": [_public(row, phase) for row in rows]})
        cache.set(key, body, timeout=CACHE_SECONDS)
    return body


def delta_body(phase, benchmark, version: int, since: int) -> bytes:
    """The rows changed after ``since`` (which is below ``version``)."""
    key = f"leaderboard-delta:{phase.pk}:{benchmark.pk}:{phase.ranking_rule}:{version}:{since}:{_links_key(phase)}"
    body = cache.get(key)
    if body is None:
        rows, removed = selectors.changed_rows(phase, benchmark, since)
        count = selectors.board_count(phase, benchmark)
        body = _encode({**_head(phase, benchmark, version, hidden=False), "since": since, "count": count,
                        "rows": [_public(row, phase) for row in rows], "removed": removed})
        cache.set(key, body, timeout=CACHE_SECONDS)
    return body


def unchanged_body(version) -> bytes:
    return _encode({"changed": False, "version": version})


def combined_body(phase, version: int, user) -> bytes:
    """The combined board with the organizer's weights: the same for every viewer to whom the board is
    not hidden (``user`` is one of them)."""
    key = f"challenge-board-json:{phase.pk}:{phase.ranking_rule}:{version}"
    body = cache.get(key)
    if body is None and not cache.add(f"{key}:building", 1, timeout=BUILD_WAIT_SECONDS):
        # Another process builds this version (~60 ms at 2,000 entrants): wait for its bytes rather than
        # build them again; while the marker is there (a cache that is down has none: build at once).
        deadline = time.monotonic() + BUILD_WAIT_SECONDS
        while body is None and time.monotonic() < deadline and cache.get(f"{key}:building") is not None:
            time.sleep(0.005)
            body = cache.get(key)
    if body is None:
        try:
            body = _encode({**selectors.challenge_leaderboard(phase, user), "version": version})
            cache.set(key, body, timeout=CACHE_SECONDS)
        finally:
            cache.delete(f"{key}:building")
    return body


def _head(phase, benchmark, version, *, hidden: bool) -> dict:
    columns = selectors.columns_for(benchmark, phase)
    return {
        "changed": True,
        "version": version,
        "hidden": hidden,
        "phase": {"id": phase.pk, "name": phase.name, "ranking_rule": phase.ranking_rule},
        "columns": [{"key": c.key, "label": c.label, "higher_is_better": c.higher_is_better, "integer": c.integer,
                     "decimals": 0 if c.integer else c.decimals}
                    for c in columns],
    }


def _csv_export(benchmark, phase, rows) -> HttpResponse:
    columns = selectors.columns_for(benchmark)
    keys = [c.key for c in columns]
    integer = {c.key for c in columns if c.integer}
    return _csv_response(
        f"{benchmark.challenge.slug}-{benchmark.slug}-leaderboard.csv",
        ["rank", "entrant", "baseline", "division", "submitted_at", *keys, "environment"],
        [[r["rank"], r["entrant"], r["is_baseline"], r["division"], r["submitted_at"],
          *[_count(r["metrics"][k]) if k in integer else r["metrics"][k] for k in keys],
          r.get("environment", "")] for r in rows])


def _count(value):
    """A count column's value as a whole number (scores are stored as floats)."""
    return None if value is None else int(round(value))


def _csv_response(filename: str, header: list[str], rows: list[list]) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


MAX_WEIGHT = 1000.0


def weights_param(params, name: str, slugs: list[str]) -> dict[str, float]:
    """``?weights=slug:number,slug:number`` (what the page's sliders set): the weight of each named
    benchmark; a 400 naming the parameter for an unknown benchmark, a repeated one, or a weight that is
    not a number in [0, MAX_WEIGHT]. The aggregate then normalises them exactly as the page does
    (``selectors.weighted_aggregate``)."""
    raw = text_param(params, name, max_chars=2000).strip()
    if not raw:
        return {}
    weights: dict[str, float] = {}
    for item in raw.split(","):
        slug, sep, number = item.partition(":")
        slug, number = slug.strip(), number.strip()
        if not sep or not slug:
            raise Rejected(name, f"{item[:40]!r} is not benchmark:weight (e.g. {slugs[0] if slugs else 'slug'}:1.5)")
        if slug not in slugs:
            raise Rejected(name, f"{slug[:40]!r} is not a benchmark of this challenge (benchmarks: {', '.join(slugs)})")
        if slug in weights:
            raise Rejected(name, f"{slug!r} is given twice")
        try:
            value = float(number)
        except ValueError:
            raise Rejected(name, f"the weight of {slug!r}, {number[:40]!r}, is not a number") from None
        if not math.isfinite(value) or not 0 <= value <= MAX_WEIGHT:
            raise Rejected(name, f"the weight of {slug!r} must be between 0 and {MAX_WEIGHT:g}, not {number[:40]}")
        weights[slug] = value
    return weights


class ChallengeLeaderboardApi(APIView):
    """All benchmarks of a challenge combined: raw and normalised primary scores, default weights,
    aggregate ranking. ``?weights=`` re-weights it (the page's sliders); ``?export=csv|json`` downloads it.
    The default-weight board's JSON is encoded once per version (cached bytes, ETag); a hidden board's
    viewer gets their own rows, never cached."""

    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=[
        OpenApiParameter("phase", int, description="phase id; default: the current phase"),
        OpenApiParameter("export", str, enum=["csv", "json"], description="download as a file"),
        OpenApiParameter("weights", str, description="benchmark weights for the aggregate, e.g. `en-25:1,debug:3` "
                         "(each between 0 and 1000; benchmarks not named keep the organizer's weight)"),
    ])
    def get(self, request, slug: str):
        phase_id = id_param(request.query_params, "phase")
        export = choice_param(request.query_params, "export", ["csv", "json"])
        challenge = challenge_selectors.get_visible_challenge(request.user, slug)
        weights = weights_param(request.query_params, "weights", list(challenge.benchmarks.values_list("slug", flat=True)))
        phase = challenge.phases.filter(pk=phase_id).first() if phase_id is not None else challenge_selectors.current_phase(challenge)
        if phase is None:
            raise Http404("No such phase.")
        phase.challenge = challenge
        if not selectors.can_view_leaderboard(request.user, phase):
            return _sign_in_required(request)
        hidden = selectors.is_hidden_for(request.user, phase)
        if export is None and not hidden and not weights:
            version = phase.leaderboard_version
            etag = _etag("challenge", phase.pk, phase.ranking_rule, version)
            private = phase.leaderboard_visibility != phase.Visibility.PUBLIC
            if _matches(request, etag):
                return _json(b"", etag, request, private=private)
            return _json(combined_body(phase, version, request.user), etag, request, private=private)
        board = selectors.challenge_leaderboard(phase, request.user, weights)
        board = {**board, "version": selectors.version_for_viewer(board["rows"], phase, request.user,
                                                                  phase.leaderboard_version)}
        if export == "csv":
            slugs = [b["slug"] for b in board["benchmarks"]]
            return _csv_response(
                f"{challenge.slug}-leaderboard.csv", ["rank", "entrant", "baseline", "aggregate", *slugs],
                [[r["rank"], r["entrant"], r["is_baseline"], r["aggregate"], *[r["scores"][s] for s in slugs]]
                 for r in board["rows"]])
        if export is None:  # a hidden board's viewer: their own rows, computed for them
            return _json(_encode(board), _etag("challenge-hidden", request.user.pk, phase.pk, board["version"]),
                         request, private=True)
        response = Response(board)
        if export == "json":
            response["Content-Disposition"] = f'attachment; filename="{challenge.slug}-leaderboard.json"'
        return response


class PublicSubmissionApi(APIView):
    """A baseline's (or, where the organizer allows it, a participant's) scored submission as the
    leaderboard's viewers may see it; 404 for anything they may not."""

    permission_classes = [AllowAny]

    @extend_schema(responses=PublicSubmissionOutput)
    def get(self, request, pk: int):
        return Response(PublicSubmissionOutput(selectors.get_public_submission(request.user, pk)).data)
