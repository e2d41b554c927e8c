from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from backend.accounts import api as accounts_api
from backend.accounts import views as accounts_views
from backend.challenges import api as challenges_api
from backend.challenges import team_views
from backend.challenges import views as challenges_views
from backend.leaderboards import api as leaderboards_api
from backend.live import views as live_views
from backend.submissions import api as submissions_api
from backend.submissions import limits_api as submissions_limits_api
from backend.submissions import views as submissions_views

admin.site.site_header = "DataPerf platform administration"

urlpatterns = [
    # Pages
    path("", challenges_views.home, name="home"),
    path("challenges/<slug:slug>/", challenges_views.challenge_detail, name="challenge-detail"),
    path("challenges/<slug:slug>/<slug:benchmark>/", challenges_views.benchmark_detail, name="benchmark-detail"),
    path("challenges/<slug:slug>/<slug:benchmark>/data.zip", challenges_views.public_data, name="public-data"),
    path("challenges/<slug:slug>/<slug:benchmark>/croissant.json", challenges_views.croissant_json,
         name="croissant-json"),
    path("challenges/<slug:slug>/<slug:benchmark>/sample-submission/", challenges_views.sample_submission,
         name="sample-submission"),
    path("docs/<path:name>/", challenges_views.docs_page, name="docs-page"),
    path("challenges/<slug:slug>/<slug:benchmark>/submit/", submissions_views.upload, name="submission-upload"),
    path("submissions/", submissions_views.my_submissions, name="my-submissions"),
    path("submissions/<int:pk>/", submissions_views.submission_detail, name="submission-detail"),
    path("submissions/<int:pk>/cancel/", submissions_views.cancel, name="submission-cancel"),
    path("submissions/<int:pk>/select/", submissions_views.select, name="submission-select"),
    path("accounts/signup/", accounts_views.signup, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/token/", accounts_views.api_token, name="api-token"),
    path("accounts/profile/", accounts_views.profile, name="profile"),
    path("accounts/notifications/", accounts_views.notifications, name="notifications"),
    # Password reset by email: Django's views with the site's templates (registration/password_reset_*).
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(
        email_template_name="registration/password_reset_email.txt",
        subject_template_name="registration/password_reset_subject.txt"), name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    # Teams: create in a challenge, the team's page (members, invitation link), join by link, leave.
    path("teams/new/<slug:slug>/", team_views.create_team, name="team-create"),
    path("teams/<int:pk>/", team_views.team_detail, name="team-detail"),
    path("teams/<int:pk>/action/", team_views.team_action, name="team-action"),
    path("teams/join/<str:token>/", team_views.join_team, name="team-join"),
    path("admin/", admin.site.urls),
    # API
    path("api/auth/token/", accounts_api.AuthTokenApi.as_view(), name="api-auth-token"),
    path("api/me/", accounts_api.MeApi.as_view(), name="api-me"),
    path("api/challenges/", challenges_api.ChallengeListApi.as_view(), name="api-challenges"),
    path("api/challenges/<slug:slug>/", challenges_api.ChallengeDetailApi.as_view(), name="api-challenge"),
    path("api/challenges/<slug:slug>/benchmarks/<slug:benchmark>/data/", challenges_api.PublicDataApi.as_view(),
         name="api-public-data"),
    path("api/challenges/<slug:slug>/benchmarks/<slug:benchmark>/limits/", submissions_limits_api.AllowanceApi.as_view(),
         name="api-submission-limits"),
    path("api/challenges/<slug:slug>/leaderboard/", leaderboards_api.ChallengeLeaderboardApi.as_view(),
         name="api-challenge-leaderboard"),
    path("api/challenges/<slug:slug>/benchmarks/<slug:benchmark>/leaderboard/", leaderboards_api.LeaderboardApi.as_view(),
         name="api-leaderboard"),
    path("api/submissions/", submissions_api.SubmissionListCreateApi.as_view(), name="api-submissions"),
    path("api/submissions/<int:pk>/", submissions_api.SubmissionDetailApi.as_view(), name="api-submission"),
    path("api/submissions/<int:pk>/public/", leaderboards_api.PublicSubmissionApi.as_view(), name="api-submission-public"),
    path("api/submissions/<int:pk>/file/", submissions_api.SubmissionFileApi.as_view(), name="api-submission-file"),
    path("api/submissions/<int:pk>/cancel/", submissions_api.SubmissionCancelApi.as_view(), name="api-submission-cancel"),
    path("api/submissions/<int:pk>/select/", submissions_api.SubmissionSelectApi.as_view(), name="api-submission-select"),
    path("api/submissions/<int:pk>/rerun/", submissions_api.SubmissionRerunApi.as_view(), name="api-submission-rerun"),
    path("api/submissions/<int:pk>/accept-slice/", submissions_api.SubmissionAcceptSliceApi.as_view(),
         name="api-submission-accept-slice"),
    # Live updates (Server-Sent Events, served by the ASGI server): what changed, never the data itself
    path("api/live/challenges/<slug:slug>/phases/<int:phase_id>/", live_views.leaderboard_stream, name="live-phase"),
    path("api/live/submissions/<int:pk>/", live_views.submission_stream, name="live-submission"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the page works under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Test-set verification, rounds and the data ratchet (pages /verify/..., API /api/verify/...)
    path("", include("backend.verification.urls")),
    # Closed division: starter kits, code runs, re-verification
    path("", include("backend.closed_division.urls")),
]
