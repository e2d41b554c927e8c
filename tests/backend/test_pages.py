"""Server-rendered pages: sign-up, browsing, upload errors shown in the page, role scoping."""
import pytest

from backend.accounts.models import User
from backend.submissions.models import Submission

from .helpers import raw_upload, speech_upload

pytestmark = pytest.mark.django_db


def test_signup_creates_a_participant_and_signs_in(client):
    response = client.post("/accounts/signup/", {"username": "carol", "email": "",
                                                 "password1": "a-long-pass-123", "password2": "a-long-pass-123"})
    assert response.status_code == 302
    assert User.objects.get(username="carol").role == User.Role.PARTICIPANT
    assert "carol" in client.get("/").content.decode()


def test_anonymous_browsing(client, speech_challenge):
    home = client.get("/").content.decode()
    assert "Challenge kws" in home
    page = client.get("/challenges/kws/en-25/").content.decode()
    assert "Sign in</a> to submit" in page and 'id="leaderboard"' in page
    assert client.get("/challenges/kws/en-25/data.zip").status_code == 302  # to the sign-in page


def test_upload_error_is_shown_in_the_page(client, users, speech_challenge):
    client.force_login(users["alice"])
    response = client.post("/challenges/kws/en-25/submit/", {"file": raw_upload(b"{oops")}, follow=True)
    assert "Submission rejected" in response.content.decode()
    assert "JSON" in response.content.decode()
    assert not Submission.objects.exists()


def test_upload_redirects_to_the_live_submission_page(client, users, speech_challenge, speech_data_dir):
    client.force_login(users["alice"])
    response = client.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir)})
    submission = Submission.objects.get()
    assert response.url == f"/submissions/{submission.pk}/"
    page = client.get(response.url).content.decode()
    assert "Queued" in page and 'id="progress"' in page
    client.force_login(users["bob"])
    assert client.get(response.url).status_code == 404


def test_organizer_admin_is_scoped_to_their_challenges(client, users, speech_challenge):
    from fixtures.demo import grant_organizer_permissions

    grant_organizer_permissions(users["other_organizer"])
    client.force_login(users["other_organizer"])
    page = client.get("/admin/challenges/challenge/").content.decode()
    assert "Challenge kws" not in page
    grant_organizer_permissions(users["organizer"])
    client.force_login(users["organizer"])
    assert "Challenge kws" in client.get("/admin/challenges/challenge/").content.decode()
    assert client.get("/admin/submissions/submission/?status__exact=failed").status_code == 200
