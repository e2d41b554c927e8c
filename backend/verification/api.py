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

Under /api/challenges/<challenge>/benchmarks/<benchmark>/:
  predict/                   POST  signed-in users who see the benchmark: the suite's live answer for a
                                   created item (text, PNG, WAV); rate-limited (``predict`` scope)
"""
from __future__ import annotations

import base64
import binascii
import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Team
from backend.challenges import selectors as challenge_selectors
from backend.core.api import rejected_response
from backend.core.errors import NON_FIELD, Rejected
from backend.core.parsers import JSONParser
from backend.core.throttling import AnonRateThrottle, PredictRateThrottle, UserRateThrottle
from backend.core.params import bool_param, id_param, int_param, text_param
from backend.submissions.api import serialize as serialize_submission

from backend.core.throttling import UploadRateThrottle
from evaluation.raw_items import MAX_AUDIO_BYTES, MAX_IMAGE_BYTES, MAX_TEXT_CHARS, RawItem

from . import creation, live, selectors, services


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


# --- live predictions for created items --------------------------------------------------------------

PREDICT_MAX_BODY = 5 * 2**20   # base64 of the largest image/clip (3 MiB) fits; checked before parsing
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(;[\w-]+=[\w.-]+)*;base64,", re.IGNORECASE)


def _decode_base64(value, field: str, limit: int) -> bytes:
    if not isinstance(value, str):
        raise services.VerificationRejected(field, "expected a base64 string or a data: URL")
    match = _DATA_URL.match(value)
    body = value[match.end():] if match else value
    if len(body) > (limit + 2) // 3 * 4 + 4:
        raise services.VerificationRejected(field, f"the file is larger than the limit of {limit} bytes")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise services.VerificationRejected(field, "not valid base64") from None


def parse_raw_item(request, kind: str) -> tuple[RawItem, str | None]:
    """The created item and claimed label of a predict request: JSON ``{"text"}``, ``{"image"}`` or
    ``{"audio"}`` (base64 or data: URL), or multipart ``file`` (and ``label``)."""
    try:
        data = request.data
    except UnsupportedMediaType:
        raise services.VerificationRejected(NON_FIELD, "send JSON ({\"text\": ...}, {\"image\": ...}, {\"audio\": ...}) "
                                            "or multipart/form-data with a file", 415) from None
    except ParseError as error:
        raise services.VerificationRejected(NON_FIELD, f"the request body cannot be read ({error.detail})") from None
    if not hasattr(data, "get"):
        raise services.VerificationRejected(NON_FIELD, "expected a JSON object")
    label = data.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise services.VerificationRejected("label", "expected a class name")
    label = label.strip() if label else None
    given = [key for key in ("text", "image", "audio", "file") if data.get(key) not in (None, "")]
    if len(given) != 1:
        wanted = {"text": '"text"', "image": '"image" (PNG, base64) or a "file"',
                  "audio": '"audio" (WAV, base64) or a "file"'}[kind]
        raise services.VerificationRejected(NON_FIELD, f"this benchmark takes {kind} items: send {wanted}"
                                            + (f", not {' and '.join(given)}" if given else ""))
    key = given[0]
    if key == "text":
        if kind != "text":
            raise services.VerificationRejected("text", f"this benchmark takes {kind} items, not text")
        return RawItem.of_text(data["text"]), label
    if kind == "text":
        raise services.VerificationRejected(key, "this benchmark takes text items: send {\"text\": ...}")
    limit = MAX_IMAGE_BYTES if kind == "image" else MAX_AUDIO_BYTES
    if key == "file":
        upload = data["file"]
        if not hasattr(upload, "read"):
            raise services.VerificationRejected("file", "expected an uploaded file (multipart/form-data)")
        if upload.size > limit:
            raise services.VerificationRejected("file", f"{upload.size} bytes, the limit is {limit} bytes")
        payload = upload.read(limit + 1)
    else:
        if key != kind:
            raise services.VerificationRejected(key, f"this benchmark takes {kind} items, not {key}")
        payload = _decode_base64(data[key], key, limit)
    return (RawItem.of_image(payload) if kind == "image" else RawItem.of_audio(payload)), label


_PREDICTION = inline_serializer("LivePrediction", fields={
    "predictions": inline_serializer("MemberPrediction", many=True, fields={
        "model": serializers.CharField(), "label": serializers.CharField(), "confidence": serializers.FloatField()}),
    "majority": serializers.CharField(),
    "features_dim": serializers.IntegerField(),
    "label": serializers.CharField(required=False, help_text="the claimed label, if one was sent"),
    "fooled": serializers.BooleanField(required=False, help_text="a strict majority predicts another label"),
    "wrong_votes": serializers.IntegerField(required=False),
})
_PREDICT_INPUT = inline_serializer("PredictInput", fields={
    "text": serializers.CharField(required=False, max_length=MAX_TEXT_CHARS, help_text="NLP benchmarks: the sentence"),
    "image": serializers.CharField(required=False, help_text="image/OCR benchmarks: PNG or JPEG, base64 or data: URL"),
    "audio": serializers.CharField(required=False, help_text="keyword benchmarks: WAV, base64 or data: URL"),
    "file": serializers.FileField(required=False, help_text="multipart alternative to image/audio"),
    "label": serializers.CharField(required=False, help_text="the label you claim; the answer says if it fools the suite"),
})


class PredictApi(APIView):
    """The model suite's live answer for an item you created (test-set benchmarks that take raw items)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser]
    throttle_classes = [AnonRateThrottle, UserRateThrottle, PredictRateThrottle]

    @extend_schema(
        request={"application/json": _PREDICT_INPUT, "multipart/form-data": _PREDICT_INPUT},
        responses={200: _PREDICTION, 400: OpenApiResponse(description="a sentence naming the bad field"),
                   404: OpenApiResponse(description="no such benchmark for you, or it takes no created items"),
                   413: OpenApiResponse(description="request body too large"),
                   429: OpenApiResponse(description="rate limit (see Retry-After)"),
                   503: OpenApiResponse(description="the suite is still being trained for the benchmark's current "
                                                    "data (ask again after Retry-After), or the data is unavailable")},
        examples=[OpenApiExample("text", value={"text": "sea otter: a small marine mammal", "label": "noun.animal"},
                                 request_only=True)],
        description="Featurises the created item like the pool's items (evaluation/raw_items) and returns every "
                    "suite member's label and confidence, the majority and, with a claimed label, whether it fools "
                    "the suite. Limits: text %d characters; image/audio %d bytes; audio at most a few seconds."
                    % (MAX_TEXT_CHARS, MAX_IMAGE_BYTES))
    def post(self, request, slug: str, benchmark: str):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > PREDICT_MAX_BODY:
            return rejected_response(services.VerificationRejected(
                NON_FIELD, f"the request body is larger than {PREDICT_MAX_BODY} bytes", 413))
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        try:
            kind = live.raw_kind(benchmark)
            if kind is None:
                raise live.LiveRejected(NON_FIELD, "this benchmark does not take created items", 404)
            raw, label = parse_raw_item(request, kind)
            prediction = live.predict_raw_item(benchmark, raw, label=label)
        except services.VerificationRejected as error:
            return rejected_response(error)
        except live.LiveRejected as error:
            return rejected_response(error)
        return Response(prediction.as_dict())


# --- created items ------------------------------------------------------------------------------------

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
    parser_classes = [JSONParser, MultiPartParser]
    throttle_classes = [*APIView.throttle_classes, UploadRateThrottle]

    @extend_schema(request={"application/json": CreateInput, "multipart/form-data": CreateInput},
                   responses={201: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="a sentence naming the bad field"),
                              404: OpenApiResponse(description="no such benchmark for you, or it takes no created items"),
                              429: OpenApiResponse(description="a submission limit or the upload rate limit")})
    def post(self, request, slug: str, benchmark: str):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > PREDICT_MAX_BODY:
            return rejected_response(services.VerificationRejected(
                NON_FIELD, f"the request body is larger than {PREDICT_MAX_BODY} bytes", 413))
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        try:
            kind = live.raw_kind(benchmark)
            if kind is None:
                raise live.LiveRejected(NON_FIELD, "this benchmark does not take created items", 404)
            raw, label = parse_raw_item(request, kind)
            if not label:
                raise services.VerificationRejected("label", "claim the label you say is correct for your item")
            data = request.data
            team_name = data.get("team") or ""
            team = None
            if team_name:
                team = Team.objects.filter(name=str(team_name), members=request.user).first()
                if team is None:
                    raise services.VerificationRejected("team", f"you are not a member of a team named {str(team_name)[:100]!r}")
            item, submission = creation.create_item(
                user=request.user, benchmark=benchmark, raw=raw, label=label,
                division=str(data.get("division") or "open"), description=str(data.get("description") or "")[:5000],
                team=team)
        except Rejected as error:
            return rejected_response(error)
        return Response({"item": selectors.created_item_row(item, benchmark),
                         "submission": serialize_submission(submission, request.user)}, status=status.HTTP_201_CREATED)


class CreatedListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug: str, benchmark: str):
        benchmark = selectors.get_test_set_benchmark(request.user, slug, benchmark)
        return Response({"items": selectors.created_items(request.user, benchmark)})
