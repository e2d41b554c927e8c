"""Leaderboard API: ranked rows, and a cheap version check for live pages."""
import csv
import io
import math
import re

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.challenges import selectors as challenge_selectors
from backend.core.errors import Rejected
from backend.core.params import choice_param, id_param, text_param

from . import selectors


def resolve(user, slug: str, benchmark_slug: str, phase_id: int | None):
    benchmark = challenge_selectors.get_visible_benchmark(user, slug, benchmark_slug)
    phases = benchmark.challenge.phases.all()
    phase = phases.filter(pk=phase_id).first() if phase_id is not None else challenge_selectors.current_phase(benchmark.challenge)
    if phase is None:
        raise Http404("No such phase.")
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


class LeaderboardApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=[
        OpenApiParameter("phase", int, description="phase id; default: the current phase"),
        OpenApiParameter("since", str, description="a version you have; if unchanged, only {changed: false} is returned"),
        OpenApiParameter("export", str, enum=["csv"], description="download the ranked rows as CSV"),
    ])
    def get(self, request, slug: str, benchmark: str):
        params = request.query_params
        phase_id, since = id_param(params, "phase"), _since_param(params)
        export = choice_param(params, "export", ["csv"])
        benchmark, phase = resolve(request.user, slug, benchmark, phase_id)
        if not selectors.can_view_leaderboard(request.user, phase):
            return _sign_in_required(request)
        version = selectors.leaderboard_version(phase)
        hidden = selectors.is_hidden_for(request.user, phase)
        if export == "csv":
            phase.leaderboard_version = version
            rows = selectors.rows_for_viewer(selectors.leaderboard_rows(phase, benchmark), phase, request.user)
            columns = selectors.columns_for(benchmark)
            keys = [c.key for c in columns]
            integer = {c.key for c in columns if c.integer}
            return _csv_response(
                f"{benchmark.challenge.slug}-{benchmark.slug}-leaderboard.csv",
                ["rank", "entrant", "baseline", "division", "submitted_at", *keys, "environment"],
                [[r["rank"], r["entrant"], r["is_baseline"], r["division"], r["submitted_at"], *[_count(r["metrics"][k]) if k in integer else r["metrics"][k] for k in keys],
                  r.get("environment", "")] for r in rows])
        if not hidden and since is not None and since == str(version):
            return Response({"changed": False, "version": version})
        phase.leaderboard_version = version
        rows = selectors.rows_for_viewer(selectors.leaderboard_rows(phase, benchmark), phase, request.user)
        version = selectors.version_for_viewer(rows, phase, request.user, version)
        if hidden and since is not None and since == str(version):
            return Response({"changed": False, "version": version})
        columns = selectors.columns_for(benchmark, phase)
        return Response({
            "changed": True,
            "version": version,
            "hidden": hidden,
            "phase": {"id": phase.pk, "name": phase.name, "ranking_rule": phase.ranking_rule},
            "columns": [{"key": c.key, "label": c.label, "higher_is_better": c.higher_is_better, "integer": c.integer}
                        for c in columns],
            "rows": [{k: v for k, v in row.items() if k not in ("user_id", "team_id", "entrant_key")} for row in rows],
        })


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
    aggregate ranking. ``?weights=`` re-weights it (the page's sliders); ``?export=csv|json`` downloads it."""

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
        if not selectors.can_view_leaderboard(request.user, phase):
            return _sign_in_required(request)
        board = selectors.challenge_leaderboard(phase, request.user, weights)
        board["version"] = selectors.version_for_viewer(board["rows"], phase, request.user,
                                                        selectors.leaderboard_version(phase))
        if export == "csv":
            slugs = [b["slug"] for b in board["benchmarks"]]
            return _csv_response(
                f"{challenge.slug}-leaderboard.csv", ["rank", "entrant", "baseline", "aggregate", *slugs],
                [[r["rank"], r["entrant"], r["is_baseline"], r["aggregate"], *[r["scores"][s] for s in slugs]]
                 for r in board["rows"]])
        response = Response(board)
        if export == "json":
            response["Content-Disposition"] = f'attachment; filename="{challenge.slug}-leaderboard.json"'
        return response
