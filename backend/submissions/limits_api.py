"""How many submissions the caller has left on a benchmark in its current phase (the same figures
the benchmark page shows, from ``selectors.allowance``)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import services as account_services
from backend.accounts.models import Team
from backend.challenges import selectors as challenge_selectors
from backend.core.errors import Rejected
from backend.core.params import text_param

from . import selectors


class DayOutput(serializers.Serializer):
    limit = serializers.IntegerField(allow_null=True, help_text="per rolling 24 hours; null: no daily limit")
    used = serializers.IntegerField()
    left = serializers.IntegerField(allow_null=True)
    next_at = serializers.DateTimeField(allow_null=True, help_text="UTC; when the daily limit is used up, the "
                                                                   "time the oldest counted submission stops counting")


class TotalOutput(serializers.Serializer):
    limit = serializers.IntegerField(allow_null=True)
    used = serializers.IntegerField()
    left = serializers.IntegerField(allow_null=True)


class AllowanceOutput(serializers.Serializer):
    phase = serializers.CharField(allow_null=True)
    phase_open = serializers.BooleanField()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    entrant = serializers.CharField()
    today = DayOutput(allow_null=True)
    total = TotalOutput(allow_null=True)
    can_submit = serializers.BooleanField()


def allowance_data(user, benchmark, team=None) -> dict:
    """The figures for the entrant an upload would count against: a member of a team in this
    challenge always submits as that team (``services._challenge_team``)."""
    team = account_services.team_in(user, benchmark.challenge_id) or team
    phase = challenge_selectors.current_phase(benchmark.challenge)
    data = {"phase": phase.name if phase else None, "phase_open": bool(phase and phase.is_open()),
            "starts_at": phase.starts_at if phase else None, "ends_at": phase.ends_at if phase else None,
            "entrant": f"team {team.name}" if team else user.get_username(),
            "today": None, "total": None, "can_submit": False}
    if phase is not None:
        data.update(selectors.allowance(phase, benchmark, user, team))
    return data


class AllowanceApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("team", str, description="a team of yours (default: yourself)")],
                   responses=AllowanceOutput)
    def get(self, request, slug: str, benchmark: str):
        benchmark = challenge_selectors.get_visible_benchmark(request.user, slug, benchmark)
        team = None
        if team_name := text_param(request.query_params, "team", max_chars=100):
            team = Team.objects.filter(name=team_name, members=request.user).first()
            if team is None:
                raise Rejected("team", f"you are not a member of a team named {team_name!r}")
        return Response(AllowanceOutput(allowance_data(request.user, benchmark, team)).data)
