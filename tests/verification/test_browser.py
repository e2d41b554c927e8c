"""An annotator works through the queue in Debian's Chromium with the keyboard: c, i, then f with a reason."""

import pytest

from backend.verification.models import Target, Verification

from .conftest import fooling_pairs, propose, target_of

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser_page):
    return browser_page


def test_an_annotator_works_through_the_queue_with_shortcuts(live_server, page, ts_benchmark, users, truth, tmp_path):
    pairs = fooling_pairs(ts_benchmark, truth, 3)
    propose(users["alice"], ts_benchmark, pairs)
    own = fooling_pairs(ts_benchmark, truth, 4)[3]
    propose(users["annotator"], ts_benchmark, [own])          # the annotator's own item is never served

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "ann-password")
    page.click("button[type=submit]")
    page.click("text=Verify")                                   # the nav link annotators get
    page.click("text=Start verifying")
    page.wait_for_url("**/verify/shapes/adversarial/")

    served = []
    label = page.locator("#verify-label")
    item_id = page.locator("#verify-item-id")
    for key in ("c", "i"):
        item_id.wait_for()
        page.locator("#verify-display img").wait_for()
        served.append((item_id.inner_text(), label.inner_text()))
        page.keyboard.press(key)
        page.locator("#verify-status", has_text=f"Saved: {served[-1][0]}").wait_for()
        page.wait_for_function("prev => document.getElementById('verify-item-id').textContent !== prev",
                               arg=served[-1][0])
    served.append((item_id.inner_text(), label.inner_text()))
    assert len(set(served)) == 3
    page.keyboard.press("f")
    reason = page.locator("#flag-reason")
    assert reason.is_visible() and reason.evaluate("el => el === document.activeElement")
    reason.type("a circle and a cross")                      # typing c/i/f here is text, not a shortcut
    page.screenshot(path=str(tmp_path / "flag.png"))
    page.keyboard.press("Enter")
    page.locator("#verify-empty").wait_for(state="visible")
    assert "0 item(s) waiting for you · 3 verified by you" in page.locator("#verify-counts").inner_text()

    assert sorted(served) == sorted(pairs)
    votes = {(v.target.item_id, v.target.label): v for v in Verification.objects.filter(annotator=users["annotator"])}
    assert [votes[pair].verdict for pair in served] == ["correct", "incorrect", "flag"]
    assert votes[served[2]].reason == "a circle and a cross"
    assert target_of(ts_benchmark, *own).vote_count == 0
    assert Target.objects.filter(vote_count=1).count() == 3
