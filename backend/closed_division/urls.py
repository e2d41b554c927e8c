"""URLs of the closed division (included from backend/config/urls.py)."""
from django.urls import path

from . import api, views

urlpatterns = [
    path("challenges/<slug:slug>/<slug:benchmark>/starter-kit.zip", views.starter_kit, name="starter-kit"),
    path("submissions/<int:pk>/reverify/", views.reverify, name="submission-reverify"),
    path("api/challenges/<slug:slug>/benchmarks/<slug:benchmark>/starter-kit/", api.StarterKitApi.as_view(),
         name="api-starter-kit"),
    path("api/submissions/<int:pk>/code-run/", api.CodeRunApi.as_view(), name="api-submission-code-run"),
    path("api/submissions/<int:pk>/code/", api.CodeFileApi.as_view(), name="api-submission-code"),
    path("api/submissions/<int:pk>/reverify/", api.ReverifyApi.as_view(), name="api-submission-reverify"),
]
