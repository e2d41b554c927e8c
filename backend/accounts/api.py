from axes.handlers.proxy import AxesProxyHandler
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.core.parsers import JSONParser
from backend.core.throttling import AnonRateThrottle, AuthTokenRateThrottle

from . import lockout


class MeOutput(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField()
    teams = serializers.ListField(child=serializers.CharField())


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeOutput)
    def get(self, request):
        user = request.user
        return Response({"username": user.username, "role": user.role, "teams": [t.name for t in user.teams.all()]})


class AuthTokenApi(ObtainAuthToken):
    """``POST username, password`` → ``{"token": ...}``. Rate-limited per client address, and refused
    with 429 while the account or the address is locked out after repeated failed sign-ins."""

    throttle_classes = [AuthTokenRateThrottle, AnonRateThrottle]
    parser_classes = [JSONParser, FormParser, MultiPartParser]   # ObtainAuthToken lists DRF's own JSON parser

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            credentials = {"username": request.data.get("username") if hasattr(request.data, "get") else None}
            if AxesProxyHandler.is_locked(request, credentials):
                return lockout.lockout_response(request, credentials=credentials)
            raise ValidationError(serializer.errors)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
