from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


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
