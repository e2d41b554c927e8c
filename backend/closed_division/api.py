"""REST API of the closed division: a submission's code run, its code, re-verification, starter kits."""
from django.http import FileResponse, Http404, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.challenges import selectors as challenge_selectors
from backend.core.permissions import IsOrganizer
from backend.submissions import selectors as submission_selectors
from evaluation.starter_kits import make_starter_kit_zip

from . import selectors, services
from .models import CodeRun, SandboxSettings


class ConcealedOutput(serializers.Serializer):
    status = serializers.CharField(source="concealed_status")
    message = serializers.CharField(source="concealed_message")
    score = serializers.FloatField(source="concealed_score", allow_null=True)
    metrics = serializers.DictField(source="concealed_metrics")
    finished_at = serializers.DateTimeField(source="concealed_finished_at", allow_null=True)


class CodeRunOutput(serializers.ModelSerializer):
    submission = serializers.IntegerField(source="submission_id")
    status_display = serializers.CharField(source="get_status_display")
    reproduced = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()

    class Meta:
        model = CodeRun
        fields = [
            "submission", "status", "status_display", "reproduced", "message", "stdout", "stderr", "exit_code",
            "wall_seconds", "cpu_seconds", "peak_memory_bytes", "code_name", "code_size", "code_sha256",
            "limits", "attempts", "queued_at", "started_at", "finished_at",
        ]

    def get_reproduced(self, obj) -> bool | None:
        if obj.status in (CodeRun.Status.PENDING, CodeRun.Status.RUNNING):
            return None
        return obj.status == CodeRun.Status.REPRODUCED

    def get_limits(self, obj) -> dict:
        limits = SandboxSettings.for_phase(obj.submission.phase)
        return {"wall_seconds": limits.wall_seconds, "memory_mb": limits.memory_mb,
                "max_processes": limits.max_processes, "output_mb": limits.output_mb}


class ConcealedRunOutput(serializers.Serializer):
    task = serializers.CharField(source="task.name")
    status = serializers.CharField()
    message = serializers.CharField()
    scores = serializers.DictField()
    wall_seconds = serializers.FloatField(allow_null=True)
    cpu_seconds = serializers.FloatField(allow_null=True)
    peak_memory_bytes = serializers.IntegerField(allow_null=True)
    stdout = serializers.CharField()
    stderr = serializers.CharField()


def code_run_data(run: CodeRun, user) -> dict:
    """The code run as ``user`` may see it: ``concealed`` is null for participants until the phase
    shows concealed scores; ``log`` and per-task ``concealed_runs`` are for organizers only."""
    data = dict(CodeRunOutput(run).data)
    data["concealed"] = ConcealedOutput(run).data if selectors.sees_concealed_score(user, run) else None
    if selectors.sees_everything(user, run):
        data["log"] = run.log
        data["concealed_runs"] = ConcealedRunOutput(run.concealed_runs.select_related("task"), many=True).data
    return data


class CodeRunApi(APIView):
    """The verification of a closed-division submission: its owner (or team) and the organizers."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=CodeRunOutput)
    def get(self, request, pk: int):
        return Response(code_run_data(selectors.get_visible_code_run(request.user, pk), request.user))


class CodeFileApi(APIView):
    """The submitted code itself: its owner (or team) and the challenge's organizers only."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk: int):
        run = selectors.get_visible_code_run(request.user, pk)
        return FileResponse(run.code.open("rb"), as_attachment=True, filename=run.code_name)


class ReverifyApi(APIView):
    """Organizers: run the code again (verification, then the concealed tasks)."""

    permission_classes = [IsOrganizer]

    @extend_schema(request=None, responses=CodeRunOutput)
    def post(self, request, pk: int):
        submission = submission_selectors.get_visible_submission(request.user, pk)
        if not challenge_selectors.organizes(request.user, submission.benchmark.challenge):
            return Response({"detail": "Only this challenge's organizers may do this.", "errors": {}}, status=403)
        try:
            run = services.reverify(submission, by=request.user)
        except services.NoCode as error:
            return Response({"detail": str(error), "errors": {"submission": [str(error)]}}, status=409)
        return Response(code_run_data(run, request.user))


def starter_kit_response(benchmark) -> HttpResponse:
    kit = selectors.starter_kit_for(benchmark)
    if kit is None:
        raise Http404("This benchmark type has no starter kit.")
    response = HttpResponse(make_starter_kit_zip(kit.kind), content_type="application/zip")
    filename = f"dataperf-{kit.kind.replace('_', '-')}-starter-kit.zip"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class StarterKitApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, slug: str, benchmark: str):
        return starter_kit_response(challenge_selectors.get_visible_benchmark(request.user, slug, benchmark))
