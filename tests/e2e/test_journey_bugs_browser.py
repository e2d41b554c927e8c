"""Issue 13's bugs that live in the browser, walked as the user met them in Debian's Chromium."""
import json

import pytest

from tests.backend.test_journey_bugs import _two_benchmark_board

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_json_link_downloads_json_ranked_with_the_sliders(live_server, browser_page, speech_challenge, users,
                                                              vision_data_dir, tmp_path):
    _two_benchmark_board(speech_challenge, users, vision_data_dir)
    page = browser_page
    page.goto(f"{live_server.url}/challenges/kws/")
    first_cells = page.locator("#overall-table tbody tr td:nth-child(2)")
    first_cells.first.wait_for()
    page.locator("input[data-benchmark=vision]").fill("5")
    assert first_cells.all_inner_texts() == ["bob", "alice"]
    with page.expect_download() as download:
        page.click("#export-json")
    path = tmp_path / "board.json"
    download.value.save_as(path)
    body = json.loads(path.read_text())  # was the browsable API's HTML page
    assert [r["entrant"] for r in body["rows"]] == ["bob", "alice"]  # as the table, not the default weights
    assert {b["slug"]: b["weight"] for b in body["benchmarks"]} == {"en-25": 1.0, "vision": 5.0}
    with page.expect_download() as download:
        page.click("#export-csv")
    download.value.save_as(tmp_path / "board.csv")
    assert [line.split(",")[1] for line in (tmp_path / "board.csv").read_text().splitlines()[1:]] == ["bob", "alice"]
