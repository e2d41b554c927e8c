"""A participant manages their submissions on My submissions in Debian's Chromium: filter, cancel a queued
one, choose the one that counts for the final ranking."""
import pytest

from backend.submissions import services
from backend.submissions.models import FinalSelection, Submission
from tests.backend.helpers import speech_upload
from tests.backend.test_leaderboards import scored

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cancel_and_select_from_my_submissions(live_server, browser_page, speech_challenge, users, speech_data_dir):
    benchmark = speech_challenge.benchmarks.get()
    FinalSelection.objects.create(phase=speech_challenge.phases.get(), max_selected=1)
    good, better = scored(benchmark, users["alice"], 0.4), scored(benchmark, users["alice"], 0.8)
    queued = services.create_submission(user=users["alice"], benchmark=benchmark,
                                        uploaded_file=speech_upload(speech_data_dir, name="late-idea.json"))
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/?next=/submissions/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password")
    page.click("button[type=submit]")
    page.wait_for_url("**/submissions/")
    row = page.locator(f'tr[data-submission="{queued.pk}"]')
    assert "late-idea.json" in row.inner_text() and "Queued" in row.inner_text()
    page.select_option("select[name=status]", "queued")
    page.click("#submission-filters button[type=submit]")
    page.wait_for_url("**/submissions/?*status=queued*")
    assert page.locator("#my-submissions tbody tr").count() == 1
    row.locator("button.cancel").click()
    page.locator(".message", has_text=f"Submission #{queued.pk} cancelled").wait_for()
    assert "status=queued" in page.url  # back to the same filtered list
    page.goto(f"{live_server.url}/submissions/")
    assert "Cancelled" in page.locator(f'tr[data-submission="{queued.pk}"]').inner_text()
    # Choose the weaker one: it becomes alice's leaderboard row; a second choice is refused (limit 1).
    page.locator(f'tr[data-submission="{good.pk}"] button.select').click()
    page.locator(".message", has_text="counts for the final ranking").wait_for()
    assert "✓ selected" in page.locator(f'tr[data-submission="{good.pk}"]').inner_text()
    assert page.locator(f'tr[data-submission="{good.pk}"] td.rank').inner_text().strip() == "#1"
    assert page.locator(f'tr[data-submission="{better.pk}"] td.rank').inner_text().strip() == "not ranked"
    page.locator(f'tr[data-submission="{better.pk}"] button.select').click()
    page.locator(".message.error", has_text="already selected (the phase allows 1)").wait_for()
    assert Submission.objects.filter(selected=True).count() == 1
