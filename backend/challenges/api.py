"""REST API for challenges and their public data."""
import io
import zipfile

from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .models import Benchmark, Challenge, Phase


class PhaseOutput(serializers.ModelSerializer):
    is_open = serializers.SerializerMethodField()

    class Meta:
        model = Phase
        fields = [
            "id", "name", "starts_at", "ends_at", "is_open", "max_submissions_per_day", "max_submissions_total",
            "max_upload_mb", "leaderboard_visibility", "ranking_rule", "open_division", "closed_division",
        ]

    def get_is_open(self, obj) -> bool:
        return obj.is_open()


class BenchmarkOutput(serializers.ModelSerializer):
    kind = serializers.CharField(source="benchmark_type.kind")
    primary_metric = serializers.CharField(source="benchmark_type.primary_metric")
    submission_suffixes = serializers.ListField(source="benchmark_type.submission_suffixes", child=serializers.CharField())
    config = serializers.DictField(source="effective_config")

    class Meta:
        model = Benchmark
        fields = ["slug", "title", "description", "task", "type_slug", "kind", "primary_metric", "submission_suffixes",
                  "config", "weight", "environment"]


class ChallengeOutput(serializers.ModelSerializer):
    phases = PhaseOutput(many=True)
    benchmarks = BenchmarkOutput(many=True)

    class Meta:
        model = Challenge
        fields = ["slug", "title", "summary", "rules", "status", "phases", "benchmarks"]


class ChallengeListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ChallengeOutput(many=True))
    def get(self, request):
        qs = selectors.visible_challenges(request.user).prefetch_related("phases", "benchmarks")
        return Response(ChallengeOutput(qs, many=True).data)


class ChallengeDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ChallengeOutput)
    def get(self, request, slug: str):
        return Response(ChallengeOutput(selectors.get_visible_challenge(request.user, slug)).data)


def public_data_response(benchmark: Benchmark) -> FileResponse:
    """The benchmark's public files as one zip. Only PUBLIC artifacts are ever read here."""
    artifacts = list(selectors.public_artifacts(benchmark))
    if not artifacts:
        raise Http404("This benchmark has no public data.")
    if len(artifacts) == 1:
        return FileResponse(artifacts[0].file.open("rb"), as_attachment=True, filename=f"{benchmark.slug}-public.zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for artifact in artifacts:
            with artifact.file.open("rb") as fh, zipfile.ZipFile(fh) as src:
                for info in src.infolist():
                    out.writestr(info, src.read(info))
    buffer.seek(0)
    return FileResponse(buffer, as_attachment=True, filename=f"{benchmark.slug}-public.zip")


class PublicDataApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, slug: str, benchmark: str):
        return public_data_response(selectors.get_visible_benchmark(request.user, slug, benchmark))
