"""URLs of the verification app (pages under /verify/, API under /api/verify/)."""
from django.urls import path

from . import api, views

_B = "<slug:slug>/<slug:benchmark>"

urlpatterns = [
    path("organize/<slug:slug>/people/", views.people, name="challenge-people"),
    path("verify/", views.verify_home, name="verify-home"),
    path(f"verify/{_B}/", views.verify_queue, name="verify-queue"),
    path(f"verify/{_B}/manage/", views.manage, name="verify-manage"),
    path(f"verify/{_B}/manage/action/", views.manage_action, name="verify-manage-action"),
    path(f"challenges/{_B}/create/", views.create_page, name="testset-create"),
    path(f"verify/{_B}/created/<int:number>/raw/", views.created_raw, name="verify-created-raw"),
    path(f"api/verify/{_B}/create/", api.CreateApi.as_view(), name="api-verify-create"),
    path(f"api/verify/{_B}/created/", api.CreatedListApi.as_view(), name="api-verify-created"),
    path(f"api/verify/{_B}/pool/", api.PoolApi.as_view(), name="api-verify-pool"),
    path(f"api/verify/{_B}/submit/", api.SubmitApi.as_view(), name="api-verify-submit"),
    path(f"api/verify/{_B}/proposals/", api.ProposalsApi.as_view(), name="api-verify-proposals"),
    path(f"api/verify/{_B}/queue/next/", api.NextItemApi.as_view(), name="api-verify-next"),
    path(f"api/verify/{_B}/items/<int:pk>/vote/", api.VoteApi.as_view(), name="api-verify-vote"),
    path(f"api/verify/{_B}/items/<int:pk>/override/", api.OverrideApi.as_view(), name="api-verify-override"),
    path(f"api/verify/{_B}/agreement/", api.AgreementApi.as_view(), name="api-verify-agreement"),
    path(f"api/verify/{_B}/rounds/", api.RoundsApi.as_view(), name="api-verify-rounds"),
    path(f"api/verify/{_B}/suite/refresh/", api.SuiteRefreshApi.as_view(), name="api-verify-suite-refresh"),
    path("api/challenges/<slug:slug>/benchmarks/<slug:benchmark>/predict/", api.PredictApi.as_view(),
         name="api-benchmark-predict"),
]
