"""A new participant in Debian's Chromium: sign up → create a team → copy its invitation link → upload as
the team → live status → the team's leaderboard row → the notification badge and message."""
import json

import pytest

from backend.accounts.models import Team
from backend.submissions.models import Submission
from fixtures import synthetic
from tests.conftest import Worker

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_up_create_team_upload_and_get_notified(live_server, browser_page, speech_challenge, users,
                                                     speech_data_dir, tmp_path):
    worker = Worker()
    try:
        submission_file = tmp_path / "our-selection.json"
        submission_file.write_text(json.dumps(synthetic.random_speech_submission(speech_data_dir, train_size=25, seed=9)))
        page = browser_page
        page.goto(f"{live_server.url}/accounts/signup/")
        page.fill("input[name=username]", "dana")
        page.fill("input[name=email]", "dana@example.org")
        page.fill("input[name=password1]", "a-long-pass-123")
        page.fill("input[name=password2]", "a-long-pass-123")
        page.click("main form button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}/challenges/kws/")
        page.click("text=Create a team")
        page.fill("input[name=name]", "Team Dana")
        page.click("main form button[type=submit]")
        page.wait_for_url("**/teams/*/")
        link = page.input_value("#invite-link")
        team = Team.objects.get(name="Team Dana")
        assert link.endswith(f"/teams/join/{team.invite_token}/")

        page.goto(f"{live_server.url}/challenges/kws/en-25/")
        assert "You submit as team Team Dana" in " ".join(page.locator("#upload-form").inner_text().split())
        page.set_input_files("input[type=file]", str(submission_file))
        page.click("#upload-form button[type=submit]")
        page.wait_for_url("**/submissions/*/")
        page.locator("#status", has_text="Scored").wait_for(timeout=120_000)
        submission = Submission.objects.get()
        assert submission.team == team
        score = submission.scores.get(metric="macro_f1").value

        page.goto(f"{live_server.url}/challenges/kws/en-25/")
        row = page.locator("#leaderboard tbody tr", has_text="Team Dana")
        row.wait_for(timeout=20_000)
        assert f"{score:.4f}" in row.inner_text()

        assert page.locator("#notification-badge").inner_text() == "1"
        page.click("text=Notifications")
        message = page.locator("ul.notifications li").first.inner_text()
        assert f"Submission #{submission.pk}" in message and f"was scored: macro_f1 = {score:.4f}" in message
        page.screenshot(path=str(tmp_path / "notifications.png"))
        assert page.locator("#notification-badge").count() == 0                   # read once seen
    finally:
        worker.stop()
