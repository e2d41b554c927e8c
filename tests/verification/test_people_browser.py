"""An organizer in Debian's Chromium adds an annotator to their challenge from the challenge page; the new
annotator signs in, finds the queue and verifies; the organizer sees who verified what."""
import pytest

from backend.accounts.models import User
from backend.verification.models import Verification

from .conftest import fooling_pairs, propose

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")


def test_organizer_adds_an_annotator_who_verifies(live_server, browser_page, ts_benchmark, users, truth):
    page = browser_page
    pairs = fooling_pairs(ts_benchmark, truth, 1)
    propose(users["alice"], ts_benchmark, pairs)
    User.objects.create_user(username="grace", password="grace-password-1", role=User.Role.ANNOTATOR)

    sign_in(page, live_server.url, "org", "org-password")
    page.goto(f"{live_server.url}/challenges/shapes/")
    page.click("text=People: organizers and annotators")
    page.wait_for_url("**/organize/shapes/people/")
    page.locator("#annotators input[name=username]").fill("grace")
    page.click("#annotators >> text=Add annotator")
    page.locator(".message", has_text="grace is now an annotator").wait_for()
    assert "grace" in page.locator("#annotators table").inner_text()
    page.click("header button[type=submit]")                       # sign out

    sign_in(page, live_server.url, "grace", "grace-password-1")
    page.click("header >> text=Verify")
    page.click("text=Start verifying")
    page.wait_for_url("**/verify/shapes/adversarial/")
    page.locator("#verify-item-id", has_text=pairs[0][0]).wait_for()
    page.locator("#verify-display img").wait_for()
    page.keyboard.press("c")
    page.locator("#verify-status", has_text=f"Saved: {pairs[0][0]}").wait_for()
    page.locator("#verify-empty").wait_for(state="visible")
    vote = Verification.objects.get(annotator__username="grace")
    assert vote.verdict == "correct" and vote.target.item_id == pairs[0][0]
    page.click("header button[type=submit]")

    sign_in(page, live_server.url, "org", "org-password")
    page.goto(f"{live_server.url}/organize/shapes/people/")
    row = page.locator("#verifications tbody tr", has_text="grace")
    assert row.locator("td").nth(1).inner_text() == "1" and row.locator("td").nth(2).inner_text() == "1"
