"""Leaderboard API: ranked rows, and a cheap version check for live pages."""
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.challenges import selectors as challenge_selectors

from . import selectors


def resolve(user, slug: str, benchmark_slug: str, phase_id: str | None):
    benchmark = challenge_selectors.get_visible_benchmark(user, slug, benchmark_slug)
    phases = benchmark.challenge.phases.all()
    phase = phases.filter(pk=phase_id).first() if phase_id else challenge_selectors.current_phase(benchmark.challenge)
    if phase is None:
        raise Http404("No such phase.")
    return benchmark, phase


class LeaderboardApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[
        OpenApiParameter("phase", int, description="phase id; default: the current phase"),
        OpenApiParameter("since", int, description="a version you have; if unchanged, only {changed: false} is returned"),
    ])
    def get(self, request, slug: str, benchmark: str):
        benchmark, phase = resolve(request.user, slug, benchmark, request.query_params.get("phase"))
        if not selectors.can_view_leaderboard(request.user, phase):
            return Response({"detail": "Sign in to see this leaderboard.", "errors": {}}, status=403)
        version = selectors.leaderboard_version(phase)
        since = request.query_params.get("since")
        if since is not None and since == str(version):
            return Response({"changed": False, "version": version})
        phase.leaderboard_version = version
        rows = selectors.rows_for_viewer(selectors.leaderboard_rows(phase, benchmark), phase, request.user)
        columns = selectors.columns_for(benchmark)
        return Response({
            "changed": True,
            "version": version,
            "phase": {"id": phase.pk, "name": phase.name, "ranking_rule": phase.ranking_rule},
            "columns": [{"key": c.key, "label": c.label, "higher_is_better": c.higher_is_better} for c in columns],
            "rows": [{k: v for k, v in row.items() if k not in ("user_id", "team_id", "entrant_key")} for row in rows],
        })
