"""A participant in Debian's Chromium: sign in, upload, watch the status go live, find the leaderboard row."""
import json

import pytest

from backend.submissions.models import Submission
from fixtures import synthetic
from tests.conftest import Worker

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

def test_upload_live_status_and_leaderboard(live_server, browser_page, speech_challenge, users, speech_data_dir, tmp_path):
    worker = Worker()
    try:
        submission_file = tmp_path / "my-selection.json"
        submission_file.write_text(json.dumps(synthetic.random_speech_submission(speech_data_dir, train_size=25, seed=7)))
        broken_file = tmp_path / "broken.json"
        broken_file.write_text('{"targets": {}, "nontargets": []')
        page = browser_page
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "alice-password")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/challenges/kws/en-25/")

        # A malformed file is refused with a message naming the problem, and nothing is stored.
        page.set_input_files("input[type=file]", str(broken_file))
        page.click("#upload-form button[type=submit]")
        assert "JSON" in page.locator(".message.error").inner_text()
        assert not Submission.objects.exists()

        page.set_input_files("input[type=file]", str(submission_file))
        page.click("#upload-form button[type=submit]")
        page.wait_for_url("**/submissions/*/")
        # The page updates itself without a reload until the worker has scored the file.
        page.locator("#status", has_text="Scored").wait_for(timeout=120_000)
        score = Submission.objects.get().scores.get(metric="macro_f1").value
        # Scores under their metric's label, with the metric's decimals.
        assert "Macro F1" in page.locator("#scores").inner_text()
        assert f"{score:.4f}" in page.locator("#scores").inner_text()

        page.goto(f"{live_server.url}/challenges/kws/en-25/")
        row = page.locator("#leaderboard tbody tr", has_text="alice")
        row.wait_for(timeout=20_000)
        assert f"{score:.4f}" in row.inner_text()
        page.screenshot(path=str(tmp_path / "leaderboard.png"))
    finally:
        worker.stop()
