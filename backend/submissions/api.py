"""REST API for submissions: upload, list, detail, file download, organizer actions."""
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Team
from backend.challenges import selectors as challenge_selectors
from backend.core.api import rejected_response
from backend.core.params import MAX_ID, bool_param, text_param
from backend.core.permissions import IsOrganizer
from backend.core.throttling import UploadRateThrottle

from . import selectors, services
from .models import Submission


class SubmissionOutput(serializers.ModelSerializer):
    challenge = serializers.CharField(source="benchmark.challenge.slug")
    benchmark = serializers.CharField(source="benchmark.slug")
    phase = serializers.CharField(source="phase.name")
    entrant = serializers.CharField(source="entrant_name")
    scores = serializers.SerializerMethodField()
    score_rows = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id", "challenge", "benchmark", "phase", "entrant", "division", "description", "original_name",
            "size_bytes", "sha256", "status", "progress", "progress_message", "failure_reason", "scores",
            "score_rows", "details",
            "environment", "attempts", "is_baseline", "selected", "created_at", "started_at", "finished_at",
        ]

    def get_scores(self, obj) -> dict:
        return selectors.scores_of(obj)

    def get_score_rows(self, obj) -> list:
        """The scores as pages show them (the metric's label and decimals, counts as whole numbers)."""
        return selectors.score_rows(obj)


class PublicSubmissionOutput(serializers.ModelSerializer):
    """What anyone who may see the board sees of a submission it links to: who, where, the scores, the
    environment and the details (curves). Never the file (name, size, checksum), log, failure, code,
    description or the submitter's account."""

    challenge = serializers.CharField(source="benchmark.challenge.slug")
    benchmark = serializers.CharField(source="benchmark.slug")
    benchmark_title = serializers.CharField(source="benchmark.title")
    phase = serializers.CharField(source="phase.name")
    entrant = serializers.CharField(source="entrant_name")
    scores = serializers.SerializerMethodField()
    score_rows = serializers.SerializerMethodField()
    details = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = ["id", "challenge", "benchmark", "benchmark_title", "phase", "entrant", "is_baseline", "division",
                  "scores", "score_rows", "details", "environment", "created_at"]

    def get_scores(self, obj) -> dict:
        return selectors.scores_of(obj)

    def get_score_rows(self, obj) -> list:
        return selectors.score_rows(obj)

    def get_details(self, obj) -> dict:
        return selectors.public_details(obj)


class SubmissionOrganizerOutput(SubmissionOutput):
    """Adds the internal log, for the challenge's organizers only."""

    user = serializers.CharField(source="user.username")

    class Meta(SubmissionOutput.Meta):
        fields = SubmissionOutput.Meta.fields + ["user", "log"]


def serialize(submission: Submission, user) -> dict:
    if challenge_selectors.organizes(user, submission.benchmark.challenge):
        return SubmissionOrganizerOutput(submission).data
    return SubmissionOutput(submission).data


class SubmissionInput(serializers.Serializer):
    challenge = serializers.SlugField()
    benchmark = serializers.SlugField()
    file = serializers.FileField(allow_empty_file=True)
    code = serializers.FileField(required=False, allow_empty_file=True,
                                 help_text="Closed division: the code that produced the file (.zip or a single .py).")
    division = serializers.ChoiceField(choices=Submission.Division.choices, default=Submission.Division.OPEN)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="")
    phase = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)  # beyond: a 400, not a DB overflow


class SubmissionListCreateApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]
    # Uploads (POST) have their own, lower rate, shared with the upload page.
    throttle_classes = [*APIView.throttle_classes, UploadRateThrottle]

    @extend_schema(responses=SubmissionOutput(many=True))
    def get(self, request):
        params = request.query_params
        challenge, benchmark = text_param(params, "challenge"), text_param(params, "benchmark")
        mine = bool_param(params, "mine")
        qs = selectors.visible_submissions(request.user)
        if challenge:
            qs = qs.filter(benchmark__challenge__slug=challenge)
        if benchmark:
            qs = qs.filter(benchmark__slug=benchmark)
        if mine:
            qs = qs.filter(user=request.user)
        return Response([serialize(s, request.user) for s in qs[:200]])

    @extend_schema(
        request=SubmissionInput,
        parameters=[OpenApiParameter(
            "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
            description="Any string up to 100 characters, new for each upload. A retry with the same key (e.g. "
                        "after a timeout) returns the submission the first request created, with status 200, "
                        "instead of creating and counting a second one.")],
        responses={
            201: SubmissionOutput,
            200: OpenApiResponse(SubmissionOutput, description="A retry: the submission created earlier with this "
                                                                "Idempotency-Key."),
            202: OpenApiResponse(SubmissionOutput, description="Stored and queued, but the job queue is unreachable: "
                                                                "scoring starts when it is back (`queue_message`)."),
        })
    def post(self, request):
        data = SubmissionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        benchmark = challenge_selectors.get_visible_benchmark(request.user, values["challenge"], values["benchmark"])
        team = None
        if values["team"]:
            team = Team.objects.filter(name=values["team"], members=request.user).first()
            if team is None:
                return rejected_response(services.SubmissionRejected("team", f"you are not a member of a team named {values['team']!r}"))
        phase = None
        if "phase" in values:
            phase = challenge_selectors.visible_phases(request.user).filter(pk=values["phase"], challenge=benchmark.challenge).first()
            if phase is None:
                return rejected_response(services.SubmissionRejected("phase", f"no phase {values['phase']} in this challenge"))
        try:
            submission = services.create_submission(
                user=request.user, benchmark=benchmark, uploaded_file=values["file"], phase=phase,
                division=values["division"], description=values["description"], team=team,
                code_file=values.get("code"), idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
            )
        except services.SubmissionRejected as rejected:
            return rejected_response(rejected)
        body = serialize(submission, request.user)
        if not submission.was_created:
            return Response(body, status=status.HTTP_200_OK)
        if services.waiting_for_queue(submission):
            body["queue_message"] = services.QUEUE_DOWN_MESSAGE
            return Response(body, status=status.HTTP_202_ACCEPTED)
        return Response(body, status=status.HTTP_201_CREATED)


class SubmissionDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=SubmissionOutput)
    def get(self, request, pk: int):
        return Response(serialize(selectors.get_visible_submission(request.user, pk), request.user))


class SubmissionFileApi(APIView):
    """The submitted file itself: its owner (or team) and the challenge's organizers only."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk: int):
        submission = selectors.get_visible_submission(request.user, pk)
        return FileResponse(submission.file.open("rb"), as_attachment=True, filename=submission.original_name)


class _OrganizerActionApi(APIView):
    permission_classes = [IsOrganizer]
    perform = None

    @extend_schema(request=None, responses=SubmissionOutput)
    def post(self, request, pk: int):
        submission = selectors.get_visible_submission(request.user, pk)
        if not challenge_selectors.organizes(request.user, submission.benchmark.challenge):
            return Response({"detail": "Only this challenge's organizers may do this.", "errors": {}}, status=403)
        try:
            submission = type(self).perform(submission, by=request.user)
        except services.InvalidTransition as error:
            return Response({"detail": str(error), "errors": {"status": [str(error)]}}, status=409)
        return Response(serialize(submission, request.user))


class SubmissionCancelApi(APIView):
    """Cancel a submission. Its owner (or team) may cancel it while it is queued; the challenge's
    organizers also while it runs. Another participant's submission is a 404."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=SubmissionOutput)
    def post(self, request, pk: int):
        submission = selectors.get_visible_submission(request.user, pk)
        try:
            if challenge_selectors.organizes(request.user, submission.benchmark.challenge):
                submission = services.cancel_submission(submission, by=request.user)
            else:
                submission = services.cancel_own_submission(submission, by=request.user)
        except services.InvalidTransition as error:
            return Response({"detail": str(error), "errors": {"status": [str(error)]}}, status=409)
        except services.SubmissionRejected as rejected:
            return rejected_response(rejected)
        return Response(serialize(submission, request.user))


class SelectInput(serializers.Serializer):
    selected = serializers.BooleanField(default=True, help_text="false: unselect")


class SubmissionSelectApi(APIView):
    """Choose whether your submission counts for the phase's final ranking (phases with a selection rule)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=SelectInput, responses=SubmissionOutput)
    def post(self, request, pk: int):
        submission = selectors.get_own_submission(request.user, pk)
        data = SelectInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            submission = services.select_submission(submission, by=request.user, selected=data.validated_data["selected"])
        except services.SubmissionRejected as rejected:
            return rejected_response(rejected)
        return Response(serialize(submission, request.user))


class SubmissionRerunApi(_OrganizerActionApi):
    perform = staticmethod(services.rerun_submission)


class AcceptSliceInput(serializers.Serializer):
    slice = serializers.CharField(max_length=200, help_text="the slice label as it appears in the submission")
    name = serializers.CharField(max_length=100, help_text="name of the new ground-truth slice")


class SubmissionAcceptSliceApi(APIView):
    """Organizers: accept a slice this submission discovered into the benchmark's ground truth;
    every scored submission of the benchmark is then re-scored."""

    permission_classes = [IsOrganizer]

    @extend_schema(request=AcceptSliceInput, responses={200: dict})
    def post(self, request, pk: int):
        submission = selectors.get_visible_submission(request.user, pk)
        if not challenge_selectors.organizes(request.user, submission.benchmark.challenge):
            return Response({"detail": "Only this challenge's organizers may do this.", "errors": {}}, status=403)
        data = AcceptSliceInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            rescored = services.accept_discovered_slice(
                submission, label=data.validated_data["slice"], name=data.validated_data["name"], by=request.user)
        except services.SubmissionRejected as rejected:
            return rejected_response(rejected)
        return Response({"accepted": data.validated_data["name"], "rescored_submissions": rescored})
