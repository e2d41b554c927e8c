"""Accounts: the profile page (name, affiliation, teams, API token), password reset by email (follow the
link, set a new password, sign in), and notifications (on-page + email) when a submission is scored or
fails — stored with the state machine's terminal transition, emailed after it commits."""
import email
import html
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils.html import strip_tags
from rest_framework.test import APIClient

from backend.accounts.models import Notification, Team
from backend.submissions import services
from backend.submissions.models import Submission
from tests.conftest import wait_for_status

from .helpers import speech_upload
from .test_teams import score

pytestmark = pytest.mark.django_db


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def words(response) -> str:
    return " ".join(strip_tags(html.unescape(response.content.decode())).split())


def test_profile_shows_and_saves_name_affiliation_and_teams(speech_challenge, users):
    Team.objects.create(name="Alpha", challenge=speech_challenge, created_by=users["alice"]).members.add(users["alice"])
    alice = signed_in(users["alice"])
    response = alice.post("/accounts/profile/", {"first_name": "Alice", "last_name": "Liddell",
                                                 "affiliation": "Wonderland University", "email": "alice@example.org"})
    assert response.status_code == 302
    page = words(alice.get("/accounts/profile/"))
    assert "Alpha in Challenge kws" in page
    body = alice.get("/accounts/profile/").content.decode()
    assert 'value="Wonderland University"' in body and 'value="Liddell"' in body and 'value="alice@example.org"' in body
    users["alice"].refresh_from_db()
    assert users["alice"].affiliation == "Wonderland University"

    bad = alice.post("/accounts/profile/", {"first_name": "A", "last_name": "", "affiliation": "x" * 201,
                                            "email": "alice@example.org"})
    assert bad.status_code == 400 and "Affiliation: is longer than 200 characters" in words(bad)
    bad = alice.post("/accounts/profile/", {"first_name": "A", "last_name": "", "affiliation": "", "email": "not-an-address"})
    assert bad.status_code == 400 and "is not an email address" in words(bad)
    users["alice"].refresh_from_db()
    assert users["alice"].affiliation == "Wonderland University" and users["alice"].email == "alice@example.org"
    assert Client().get("/accounts/profile/").status_code == 302


def test_profile_token_regenerate_stops_the_old_token(users):
    alice = signed_in(users["alice"])
    old = re.search(r'id="api-token">(\w+)<', alice.get("/accounts/profile/").content.decode()).group(1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert api.get("/api/me/").json()["username"] == "alice"
    alice.post("/accounts/profile/", {"action": "regenerate-token"})
    new = re.search(r'id="api-token">(\w+)<', alice.get("/accounts/profile/").content.decode()).group(1)
    assert new != old
    assert api.get("/api/me/").status_code in (401, 403)
    api.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert api.get("/api/me/").json()["username"] == "alice"


def test_password_reset_email_link_sets_a_new_password(users):
    users["alice"].email = "alice@example.org"
    users["alice"].save()
    client = Client()
    assert "Reset it by email" in words(client.get("/accounts/login/"))
    response = client.post("/accounts/password-reset/", {"email": "alice@example.org"})
    assert response.status_code == 302 and "Check your email" in words(client.get(response.url))
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.org"]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)                      # Django moves the token out of the URL first
    assert "Choose a new password" in words(form)
    set_url = form.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "brand-new-pass-42", "new_password2": "brand-new-pass-42"}, follow=True)
    assert "Your new password is set" in words(done)
    assert Client().login(username="alice", password="brand-new-pass-42")
    assert not Client().login(username="alice", password="alice-password")
    assert "not valid" in words(client.get(link, follow=True))          # the link works once

    # An unknown address gets the same answer and no email (no account discovery).
    mail.outbox.clear()
    assert client.post("/accounts/password-reset/", {"email": "nobody@example.org"}).status_code == 302
    assert mail.outbox == []


def test_scored_and_failed_submissions_notify_on_the_page_and_by_email(
        speech_challenge, users, speech_data_dir, django_capture_on_commit_callbacks):
    users["alice"].email = "alice@example.org"
    users["alice"].save()
    benchmark = speech_challenge.benchmarks.get()
    submission = services.create_submission(user=users["alice"], benchmark=benchmark,
                                            uploaded_file=speech_upload(speech_data_dir, seed=5))
    with django_capture_on_commit_callbacks(execute=True):
        submission = score(submission)
    value = submission.scores.get(metric="macro_f1").value
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.org"] and "scored" in message.subject
    assert f"macro_f1 = {value:.4f}" in message.body
    assert f"{settings.SITE_URL}/submissions/{submission.pk}/" in message.body

    alice = signed_in(users["alice"])
    home = alice.get("/").content.decode()
    assert 'id="notification-badge">1<' in home
    page = words(alice.get("/accounts/notifications/"))
    assert f"Submission #{submission.pk} (submission.json) to Challenge kws / Speech Selection was scored: macro_f1 = {value:.4f}" in page
    assert "notification-badge" not in alice.get("/").content.decode()          # read now

    # A failure: the reason, on the page and by email; nothing for other users.
    failing = services.create_submission(user=users["alice"], benchmark=benchmark,
                                         uploaded_file=speech_upload(speech_data_dir, seed=6))
    _, token = services.claim_for_evaluation(failing.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.fail_evaluation(failing.pk, token, "the scorer ran out of time (limit 60 s)")
    assert len(mail.outbox) == 2 and "failed" in mail.outbox[1].subject
    assert "failed: the scorer ran out of time (limit 60 s)" in mail.outbox[1].body
    assert "failed: the scorer ran out of time" in words(alice.get("/accounts/notifications/"))
    assert not Notification.objects.exclude(user=users["alice"]).exists()


def test_a_rolled_back_transition_notifies_nobody(speech_challenge, users, speech_data_dir,
                                                   django_capture_on_commit_callbacks):
    users["alice"].email = "alice@example.org"
    users["alice"].save()
    submission = services.create_submission(user=users["alice"], benchmark=speech_challenge.benchmarks.get(),
                                            uploaded_file=speech_upload(speech_data_dir, seed=5))
    services.claim_for_evaluation(submission.pk)
    with django_capture_on_commit_callbacks(execute=True):
        # A stale run (wrong token) may not finish the submission: nothing is stored, nobody is told.
        assert not services.fail_evaluation(submission.pk, "not-the-token", "whatever")
    assert mail.outbox == [] and not Notification.objects.exists()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_scoring_notifies_by_email_file_and_on_the_page(speech_challenge, users, speech_data_dir,
                                                                      celery_worker_process):
    users["alice"].email = "alice@example.org"
    users["alice"].save()
    mail_dir = Path(settings.VAR_DIR) / "mail"
    before = set(mail_dir.glob("*.log")) if mail_dir.exists() else set()
    client = APIClient()
    client.force_authenticate(users["alice"])
    created = client.post("/api/submissions/", {"challenge": "kws", "benchmark": "en-25",
                                                "file": speech_upload(speech_data_dir, seed=7)}, format="multipart").json()
    submission = wait_for_status(Submission.objects.get(pk=created["id"]), {"scored", "failed"})
    assert submission.status == "scored", submission.failure_reason
    value = submission.scores.get(metric="macro_f1").value
    deadline = time.time() + 20
    new = []
    while time.time() < deadline and not new:    # written by the worker right after its commit
        new = [path for path in mail_dir.glob("*.log") if path not in before] if mail_dir.exists() else []
        time.sleep(0.2)
    assert new, f"no email file appeared in {mail_dir}"
    sent = email.message_from_string(new[0].read_text())
    assert sent["To"] == "alice@example.org" and f"#{submission.pk} scored" in sent["Subject"]
    assert f"macro_f1 = {value:.4f}" in sent.get_payload()
    page = words(signed_in(users["alice"]).get("/accounts/notifications/"))
    assert f"Submission #{submission.pk}" in page and f"was scored: macro_f1 = {value:.4f}" in page
