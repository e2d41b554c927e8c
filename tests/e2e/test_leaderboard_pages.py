"""The benchmark page shows one page of the board, a pager, and the viewer's own row when it is on
another page; a new score shows without a reload."""
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backend.accounts.models import User
from tests.backend.test_ranking_state import _new, _score

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pages_pager_and_own_row(live_server, browser_page, speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    start = timezone.now() - timedelta(hours=2)
    people = [User.objects.create_user(username=f"runner{i:02d}", password="x") for i in range(54)]
    people.append(users["alice"])  # 55th of 55: on page 2
    for i, person in enumerate(people):
        _score(_new(benchmark, person, at=start + timedelta(minutes=i)), round(0.9 - i / 100, 3))
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/challenges/kws/en-25/")
    rows = page.locator("#leaderboard tbody tr")
    page.locator("#leaderboard tbody tr", has_text="runner00").wait_for()
    assert rows.count() == 50
    own = page.locator("#leaderboard-own")
    own.wait_for()
    assert "#55" in own.inner_text() and "alice" in own.inner_text()
    assert "page 1 of 2" in page.locator("#leaderboard-pager").inner_text()
    page.click("#leaderboard-pager [data-go=next]")
    page.locator("#leaderboard tbody tr", has_text="alice").wait_for()
    assert rows.count() == 5
    expect(own).to_be_hidden()  # her row is on the page shown
    # A new best score of alice's: the live refresh moves her to the top; the page she is on follows.
    _score(_new(benchmark, users["alice"]), 0.99)
    page.click("#leaderboard-pager [data-go=prev]")
    page.locator("#leaderboard tbody tr:first-child", has_text="alice").wait_for(timeout=10_000)
    assert page.locator("#leaderboard tbody tr:first-child td").first.inner_text() == "1"
