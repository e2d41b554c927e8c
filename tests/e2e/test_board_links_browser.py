"""Issue 13 item 8 in Debian's Chromium: a signed-out visitor searches a benchmark's leaderboard, the
search survives a live refresh, and a baseline's row links through to its public page with the debugging
curves and formatted scores (and no file)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.accounts.models import User
from backend.submissions.models import Score, Submission
from fixtures import synthetic
from tests.backend.helpers import publish_score
from tests.conftest import add_benchmark
from tests.e2e.test_pages_layout import _curves

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _scored(benchmark, user, value, *, baseline="", curves=None, minutes_ago=30):
    submission = Submission.objects.create(
        phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user, status=Submission.Status.SCORED,
        original_name="ranking-secret.zip", sha256="0" * 64, file="submissions/x.zip",
        is_baseline=bool(baseline), baseline_name=baseline, details={"curves": curves} if curves else {},
        finished_at=timezone.now())
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    Score.objects.create(submission=submission, metric="fraction_fixes", value=value)
    publish_score(submission)
    return submission


def test_search_then_click_through_to_a_baselines_curves(live_server, browser_page, speech_challenge, users, tmp_path):
    base = live_server.url
    debugging = add_benchmark(speech_challenge, "debugging",
                              synthetic.write_debugging_data(tmp_path / "dbg", n_train=60, dim=8, seed=1), slug="dbg")
    for i, name in enumerate(["carol", "dave", "erin", "frank"]):
        _scored(debugging, User.objects.create_user(username=name, password="x"), 0.3 + i / 10)
    baseline = _scored(debugging, users["organizer"], 0.123456, baseline="cleanlab", curves=_curves())

    page = browser_page
    page.goto(f"{base}/challenges/kws/dbg/")
    rows = page.locator("#leaderboard tbody tr")
    page.locator("#leaderboard tbody tr", has_text="frank").wait_for()
    assert rows.count() == 5
    # Only the baseline's name is a link for a signed-out visitor (participants' details are not public).
    assert page.locator("#leaderboard tbody a").count() == 1
    # Scores with four decimals.
    assert "0.1235" in page.locator("#leaderboard tbody tr", has_text="cleanlab").inner_text()

    page.fill("#leaderboard-search", "CLEAN")
    page.wait_for_function("() => document.querySelectorAll('#leaderboard tbody tr').length === 1")
    assert "cleanlab" in rows.first.inner_text()
    assert "1 matching entrants" in page.locator("#leaderboard-pager").inner_text()

    # A new score arrives: the live refresh shows it, and the search still applies.
    _scored(debugging, User.objects.create_user(username="cleaner", password="x"), 0.05, minutes_ago=1)
    _scored(debugging, User.objects.create_user(username="zed", password="x"), 0.01, minutes_ago=1)
    page.locator("#leaderboard tbody tr", has_text="cleaner").wait_for(timeout=15_000)
    assert rows.count() == 2 and "zed" not in page.locator("#leaderboard").inner_text()

    page.click("#leaderboard tbody a:has-text('cleanlab')")
    page.wait_for_url(f"**/submissions/{baseline.pk}/")
    page.locator("#curves .curve .main-svg").first.wait_for(timeout=30_000)
    assert page.locator("#curves .curve").count() == 2
    text = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
    assert "cleanlab" in text and "0.1235" in text
    assert "ranking-secret.zip" not in page.content() and "/file/" not in page.content()
