"""The overall leaderboard re-ranks in the browser when a weight slider moves."""
import pytest

from backend.leaderboards.services import rebuild

from tests.backend.test_leaderboards import scored
from tests.conftest import add_benchmark

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sliders_re_rank_without_a_request(live_server, browser_page, speech_challenge, users, vision_data_dir):
    speech = speech_challenge.benchmarks.get()
    vision = add_benchmark(speech_challenge, "vision-selection", vision_data_dir, slug="vision")
    scored(speech, users["alice"], 0.9)
    scored(speech, users["bob"], 0.4)
    for user, value in ((users["alice"], 0.2), (users["bob"], 0.8)):
        submission = scored(speech, user, None)
        type(submission).objects.filter(pk=submission.pk).update(benchmark=vision)
        submission.scores.create(metric="mean_f1", value=value)
    rebuild(submission.phase_id)  # the submissions moved boards: rebuild the ranked rows
    page = browser_page
    page.goto(f"{live_server.url}/challenges/kws/")
    first_cells = page.locator("#overall-table tbody tr td:nth-child(2)")
    first_cells.first.wait_for()
    assert first_cells.all_inner_texts() == ["alice", "bob"]  # equal weights: tie broken by name
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.locator("input[data-benchmark=vision]").fill("5")
    assert first_cells.all_inner_texts() == ["bob", "alice"]
    assert not [url for url in requests if "/api/" in url]
    page.click("#reset-weights")
    assert first_cells.all_inner_texts() == ["alice", "bob"]
