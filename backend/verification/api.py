"""REST API of test-set creation and verification. Thin: input parsing, role checks, a service call.

Under /api/verify/<challenge>/<benchmark>/:
  pool/                      GET   signed-in users: the candidate pool with the suite's predictions
  submit/                    POST  signed-in users: submit "my set" ({items: [{item_id, label}]})
  proposals/                 GET   own proposals (everyone's once the phase ended; organizers: all)
  queue/next/                GET   annotators: the next item to verify
  items/<id>/vote/           POST  annotators: correct / incorrect / flag
  items/<id>/override/       POST  the challenge's organizers: a verdict that overrides the votes
  agreement/                 GET   the challenge's organizers: inter-annotator agreement
  rounds/                    GET   whoever sees the leaderboard: rounds and the ratchet chart data
                             POST  organizers: promote verified items and start the next round
  suite/refresh/             POST  organizers: freeze the best K training sets into the current suite
  create/                    POST  signed-in users: store a created item (text / PNG / WAV) with its claimed label and
                                   submit it as a one-item test-set submission
  created/                   GET   signed-in users: their own created items and their verification
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Team
from backend.challenges import selectors as challenge_selectors
from backend.core.api import rejected_response
from backend.core.params import bool_param, id_param, int_param, text_param
from backend.submissions.api import serialize as serialize_submission

from backend.core.throttling import UploadRateThrottle

from . import creation, selectors, services


class IsAnnotator(BasePermission):
    message = "Only annotators and organizers verify items."

    def has_permission(self, request, view):
        return selectors.can_verify(request.user)


def forbidden(message: str) -> Response:
    return Response({"detail": message, "errors": {}}, status=status.HTTP_403_FORBIDDEN)


class PoolApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str, benchmark: str):
        params = request.query_params
        page = int_param(params, "page", default=1, minimum=1, maximum=10**6)
        query, predicted = text_param(params, "q"), text_param(params, "predicted")
        disagree = bool_param(params, "disagree")
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        return Response(selectors.pool_page(benchmark, query=query, predicted=predicted, disagree=disagree, page=page))


class ProposalInput(serializers.Serializer):
    item_id = serializers.CharField(max_length=200)
    label = serializers.CharField(max_length=200)


class SubmitInput(serializers.Serializer):
    items = ProposalInput(many=True, allow_empty=False)
    division = serializers.CharField(required=False, default="open")
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="")


class SubmitApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=SubmitInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug: str, benchmark: str):
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        team = None
        if values["team"]:
            team = Team.objects.filter(name=values["team"], members=request.user).first()
            if team is None:
                return rejected_response(services.VerificationRejected("team", f"you are not a member of a team named {values['team']!r}"))
        try:
            submission = services.submit_test_set(
                user=request.user, benchmark=benchmark, items=[dict(i) for i in values["items"]],
                division=values["division"], description=values["description"], team=team)
        except services.VerificationRejected as error:
            return rejected_response(error)
        return Response(serialize_submission(submission, request.user), status=status.HTTP_201_CREATED)


class ProposalsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str, benchmark: str):
        phase_id = id_param(request.query_params, "phase")
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        phases = benchmark.challenge.phases.all()
        phase = phases.filter(pk=phase_id).first() if phase_id is not None else challenge_selectors.current_phase(benchmark.challenge)
        if phase is None:
            return Response({"scope": "own", "items": []})
        rows, scope = selectors.visible_proposals(request.user, benchmark, phase)
        return Response({"scope": scope, "phase": phase.name, "items": rows})


class NextItemApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str, benchmark: str):
        benchmark = selectors.get_verifiable_benchmark(request.user, slug, benchmark)
        target = selectors.next_target(request.user, benchmark)
        problem = selectors.problem_of(benchmark)
        return Response({
            "item": selectors.target_for_annotator(problem, target) if target else None,
            "class_names": problem.class_names,
            "counts": selectors.queue_counts(request.user, benchmark),
        })


class VerdictInput(serializers.Serializer):
    verdict = serializers.CharField(max_length=20)
    corrected_label = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class VoteApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(request=VerdictInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug: str, benchmark: str, pk: int):
        benchmark = selectors.get_verifiable_benchmark(request.user, slug, benchmark)
        target = selectors.get_target(benchmark, pk)
        data = VerdictInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            outcome = services.record_vote(user=request.user, target=target, **data.validated_data)
        except services.VerificationRejected as error:
            return rejected_response(error)
        return Response({"vote": outcome.vote.pk, "resolved_now": outcome.resolved_now,
                         "counts": selectors.queue_counts(request.user, benchmark)}, status=status.HTTP_201_CREATED)


class OverrideApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=VerdictInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug: str, benchmark: str, pk: int):
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        if not challenge_selectors.organizes(request.user, benchmark.challenge):
            return forbidden("Only this challenge's organizers can override verdicts.")
        target = selectors.get_target(benchmark, pk)
        data = VerdictInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            target = services.override(user=request.user, target=target, **data.validated_data)
        except services.VerificationRejected as error:
            return rejected_response(error)
        return Response({"id": target.pk, "status": target.status, "resolved_by": target.resolved_by})


class AgreementApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str, benchmark: str):
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        if not challenge_selectors.organizes(request.user, benchmark.challenge):
            return forbidden("Only this challenge's organizers see agreement statistics.")
        report = selectors.agreement_report(benchmark)
        report["annotators"] = [vars(a) for a in report["annotators"]]
        report["disputed"] = [{"id": t.pk, "item_id": t.item_id, "label": t.label, "status": t.status,
                               "correct": t.correct_count, "incorrect": t.incorrect_count, "flag": t.flag_count}
                              for t in report["disputed"]]
        return Response(report)


class RoundStartInput(serializers.Serializer):
    items = serializers.ListField(child=serializers.IntegerField(), required=False, allow_empty=False)


class RoundsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str, benchmark: str):
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        if not selectors.can_view_ratchet(request.user, benchmark):
            return forbidden("The leaderboard of this challenge is not visible to you.")
        return Response({"benchmark": benchmark.slug, "title": benchmark.title, "rounds": selectors.rounds_summary(benchmark)})

    @extend_schema(request=RoundStartInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug: str, benchmark: str):
        if not request.user.is_authenticated:
            return Response({"detail": "Authentication credentials were not provided.", "errors": {}}, status=401)
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        data = RoundStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            round_ = services.start_next_round(user=request.user, benchmark=benchmark, item_ids=data.validated_data.get("items"))
        except services.VerificationRejected as error:
            return rejected_response(error)
        return Response({"number": round_.number, "promoted_items": round_.promoted_targets.count(),
                         "suite": round_.suite_members, "notes": round_.notes}, status=status.HTTP_201_CREATED)


class SuiteRefreshApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug: str, benchmark: str):
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        try:
            round_ = services.refresh_suite(user=request.user, benchmark=benchmark)
        except services.VerificationRejected as error:
            return rejected_response(error)
        return Response({"number": round_.number, "suite": round_.suite_members, "notes": round_.notes})


class CreateInput(serializers.Serializer):
    label = serializers.CharField(max_length=200, help_text="The label the creator claims is correct.")
    text = serializers.CharField(required=False, help_text="NLP: the item's text.")
    image = serializers.CharField(required=False, help_text="OCR / image: a data:image/png;base64,... URL.")
    audio = serializers.CharField(required=False, help_text="Keyword: a data:audio/wav;base64,... URL.")
    file = serializers.FileField(required=False, help_text="Or the PNG / WAV as a multipart file.")
    division = serializers.CharField(required=False, default="open")
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="")


class CreateApi(APIView):
    """Store a created item (text, picture or clip) with the claimed label and submit it as a one-item
    test-set submission (same limits as any submission). The server computes the features and the
    suite's answers itself."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [*APIView.throttle_classes, UploadRateThrottle]

    @extend_schema(request=CreateInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug: str, benchmark: str):
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        label = request.data.get("label")
        team_name = request.data.get("team") or ""
        team = None
        if team_name:
            team = Team.objects.filter(name=str(team_name), members=request.user).first()
            if team is None:
                return rejected_response(services.VerificationRejected("team", f"you are not a member of a team named {team_name!r}"))
        try:
            raw = creation.raw_from_request(benchmark, request)
            item, submission = creation.create_item(
                user=request.user, benchmark=benchmark, raw=raw, label=label if isinstance(label, str) else "",
                division=str(request.data.get("division") or "open"),
                description=str(request.data.get("description") or "")[:5000], team=team)
        except services.VerificationRejected as error:
            return rejected_response(error)
        return Response({"item": selectors.created_item_row(item, benchmark),
                         "submission": serialize_submission(submission, request.user)}, status=status.HTTP_201_CREATED)


class CreatedListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str, benchmark: str):
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        return Response({"items": selectors.created_items(request.user, benchmark)})
