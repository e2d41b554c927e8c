"""Verification to consensus in Debian's Chromium: a participant's test-set submission proposes a fooling
item; three annotators of the challenge, each in their own browser context, open the queue at the same
time and confirm the item with the keyboard; the third matching vote resolves it, and the participant,
signed in, sees the verified item and its credit on their submission page and on the leaderboard."""
import pytest

from backend.verification.models import Target, Verification

from .conftest import fooling_pairs, make_annotators, propose, scores, target_of

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.locator("header button[type=submit]").wait_for()        # the sign-out button: signed in


def open_queue(page, base, username):
    sign_in(page, base, username, "pw")
    page.click("header >> text=Verify")
    page.click("text=Start verifying")
    page.wait_for_url("**/verify/shapes/adversarial/")


def test_three_annotators_verify_an_item_to_consensus_and_the_participant_sees_the_credit(
        live_server, browser_page, ts_challenge, ts_benchmark, users, truth, tmp_path):
    (item, label), = fooling_pairs(ts_benchmark, truth, 1)
    submission = propose(users["alice"], ts_benchmark, [(item, label)])
    assert scores(submission)["credit"] == 0.0 and scores(submission)["fooled"] == 1.0     # not verified yet
    annotators = make_annotators(3, challenges=[ts_challenge])

    participant = browser_page
    sign_in(participant, live_server.url, "alice", "alice-password")
    participant.goto(f"{live_server.url}/challenges/shapes/adversarial/")
    participant.locator("#my-proposals tbody tr", has_text="pending (0 vote(s))").wait_for()

    browser = browser_page.context.browser
    contexts = [browser.new_context() for _ in annotators]
    try:
        pages = [context.new_page() for context in contexts]
        for page, annotator in zip(pages, annotators):                # all three have the queue open at once
            open_queue(page, live_server.url, annotator.username)
            page.locator("#verify-item-id", has_text=item).wait_for()
            page.locator("#verify-display img").wait_for()
            assert page.locator("#verify-label").inner_text() == label

        for n, (page, annotator) in enumerate(zip(pages, annotators), start=1):
            page.keyboard.press("c")
            page.locator("#verify-status", has_text=f"Saved: {item}").wait_for()
            page.locator("#verify-empty").wait_for(state="visible")
            assert "0 item(s) waiting for you · 1 verified by you" in page.locator("#verify-counts").inner_text()
            target = target_of(ts_benchmark, item, label)
            assert target.vote_count == n
            assert target.status == (Target.Status.CORRECT if n == 3 else Target.Status.PENDING)
            if n == 2:                                                   # two of three: still pending, no credit
                participant.reload()
                participant.locator("#my-proposals tbody tr", has_text="pending (2 vote(s))").wait_for()
                assert scores(submission)["credit"] == 0.0
        pages[2].screenshot(path=str(tmp_path / "third-vote.png"))
    finally:
        for context in contexts:
            context.close()

    target = target_of(ts_benchmark, item, label)
    assert target.resolved_by == Target.ResolvedBy.CONSENSUS
    assert sorted(Verification.objects.filter(target=target).values_list("verdict", flat=True)) == ["correct"] * 3
    assert scores(submission)["credit"] == 1.0 and scores(submission)["verified"] == 1.0

    page = participant
    page.goto(f"{live_server.url}/submissions/{submission.pk}/")
    table = page.locator("#scores")
    assert table.locator("tr", has_text="credit").locator("td").inner_text() == "1.0000"  # the metric's decimals
    assert table.locator("tr", has_text="verified").locator("td").inner_text() == "1"  # a count

    page.goto(f"{live_server.url}/challenges/shapes/adversarial/")
    row = page.locator("#leaderboard tbody tr", has_text="alice")
    row.wait_for()
    headers = [" ".join(h.split()[:1]) for h in page.locator("#leaderboard thead th").all_inner_texts()]
    cells = dict(zip(headers, row.locator("td").all_inner_texts()))
    assert cells["#"] == "1" and float(cells["Credit"]) == 1.0 and cells["Verified"] == "1"
    proposal = page.locator("#my-proposals tbody tr", has_text=item)
    proposal.wait_for()
    page.screenshot(path=str(tmp_path / "participant.png"), full_page=True)
    assert proposal.locator("td").all_inner_texts()[1:] == [item, label, "yes", "verified correct"]
