"""A participant in Debian's Chromium uploads the starter kit with its output in the closed division,
watches the verification panel turn to "reproduced: yes", and finds the row marked "closed ✓"."""
import os

import pytest

from tests.conftest import Worker

from .conftest import needs_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True), needs_sandbox]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_closed_division_upload_panel_and_leaderboard(live_server, browser_page, closed_challenge, users,
                                                       kit_zip, kit_artifact, tmp_path):
    artifact, code = tmp_path / "en_25_train.json", tmp_path / "speech-kit.zip"
    artifact.write_bytes(kit_artifact)
    code.write_bytes(kit_zip)
    worker = Worker()
    try:
        page = browser_page
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "alice-password")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/challenges/kws-closed/en-25/")
        assert page.locator("#starter-kit").get_attribute("href").endswith("/starter-kit.zip")
        page.set_input_files("input[name=file]", str(artifact))
        page.select_option("select[name=division]", "closed")
        page.set_input_files("input[name=code]", str(code))
        page.click("#upload-form button[type=submit]")
        page.wait_for_url("**/submissions/*/")
        # The panel updates itself until the sandbox run is over.
        page.locator("#code-run-status", has_text="yes").wait_for(timeout=120_000)
        assert "the code reproduced en_25_train.json" in page.locator("#code-run-message").inner_text()
        assert "wrote /output/submission.json (25 clips)" in page.locator("#code-run-stdout").text_content()
        assert page.locator("#code-run-memory").inner_text().endswith("MB")

        page.goto(f"{live_server.url}/challenges/kws-closed/en-25/")
        row = page.locator("#leaderboard tbody tr", has_text="alice")
        row.wait_for(timeout=20_000)
        assert "closed ✓" in row.inner_text() and row.locator("td").first.inner_text() == "1"
    finally:
        worker.stop()
