"""In Debian's Chromium: the leaderboard's Environment column and the submission page's environment table."""
from __future__ import annotations

import pytest

from .test_rescore_action import scored_submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_environment_column_and_table(live_server, browser_page, speech_challenge, users, speech_data_dir, tmp_path):
    submission = scored_submission(speech_challenge.benchmarks.get(), users["alice"], speech_data_dir, seed=2)
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password")
    page.click("button[type=submit]")

    page.goto(f"{live_server.url}/challenges/kws/en-25/")
    row = page.locator("#leaderboard tbody tr", has_text="alice")
    row.wait_for(timeout=20_000)
    cell = row.locator("td.environment")
    assert cell.inner_text() == "current (scikit-learn 1.8.0)"
    assert "numpy 2.4.6" in cell.get_attribute("title") and "scipy 1.17.1" in cell.get_attribute("title")
    headers = page.locator("#leaderboard thead th").all_inner_texts()
    assert len(headers) == len(row.locator("td").all()) and "Environment" in headers

    page.goto(f"{live_server.url}/submissions/{submission.pk}/")
    page.locator("#status", has_text="Scored").wait_for(timeout=20_000)
    table = page.locator("#environment").inner_text()
    assert "scikit-learn\t1.8.0" in table and "environment\tcurrent" in table and "evaluator" in table
    page.screenshot(path=str(tmp_path / "submission.png"), full_page=True)
