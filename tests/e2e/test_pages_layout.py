"""Issue 13, presentation, in Debian's Chromium: no sideways scroll at 390 px on the main pages; phase
times in the viewer's time zone with a countdown; the debugging curve full width with axis titles and
a legend naming the red dotted line; plotly only on pages that draw a chart; the favicon."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.submissions.models import Score, Submission
from fixtures import synthetic
from tests.conftest import add_benchmark

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _curves():
    fixes = list(range(0, 121, 8))
    return {task: {"submission": {"fixes": fixes, "accuracy": [0.6 + 0.3 * min(1, f / 60) for f in fixes],
                                  "target_accuracy": 0.855, "fraction_fixes": 0.4},
                   "random": {"fixes": fixes, "accuracy": [0.6 + 0.3 * f / 120 for f in fixes],
                              "target_accuracy": 0.855, "fraction_fixes": 0.8},
                   "oracle": {"fixes": fixes, "accuracy": [0.6 + 0.3 * min(1, f / 30) for f in fixes],
                              "target_accuracy": 0.855, "fraction_fixes": 0.2}} for task in ("taskA", "taskB")}


def _sign_in(page, base, username="alice"):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_main_pages_fit_390px_times_curves_and_plotly(live_server, browser_page, speech_challenge, users, tmp_path):
    base = live_server.url
    debugging = add_benchmark(speech_challenge, "debugging",
                              synthetic.write_debugging_data(tmp_path / "dbg", n_train=60, dim=8, seed=1), slug="dbg")
    submission = Submission.objects.create(
        phase=speech_challenge.phases.get(), benchmark=debugging, user=users["alice"], status=Submission.Status.SCORED,
        original_name="ranking.zip", sha256="0" * 64, file="submissions/x.zip", details={"curves": _curves()},
        finished_at=timezone.now())
    Score.objects.create(submission=submission, metric="fraction_fixes", value=0.4)

    browser = browser_page.context.browser
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="Asia/Tokyo", locale="en-US")
    page = context.new_page()
    _sign_in(page, base)
    pages = ["/", "/?state=open", "/challenges/kws/", "/challenges/kws/en-25/", "/challenges/kws/dbg/",
             "/docs/benchmarks/", "/docs/benchmarks/selection/", "/docs/benchmarks/debugging/", "/submissions/",
             f"/submissions/{submission.pk}/", "/accounts/token/"]
    for path in pages:
        page.goto(base + path)
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide at a 390 px viewport"

    # Times: UTC in the HTML, the viewer's zone (Tokyo, GMT+9) and a live countdown after the script.
    page.goto(base + "/challenges/kws/en-25/")
    closes = page.locator("#phase-time time[data-countdown]")
    assert closes.get_attribute("datetime").endswith("Z") and closes.get_attribute("title").endswith("UTC")
    page.wait_for_function("() => !document.querySelector('#phase-time time').textContent.includes('UTC')")
    text = closes.inner_text()
    assert "GMT+9" in text and "(in 29 d" in text, text
    # No chart on this page: plotly is not fetched.
    assert not any("plotly" in name for name in page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"))
    page.goto(base + "/")
    assert not any("plotly" in name for name in page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"))
    context.close()

    # The curves, on a desktop-sized window: full card width, axis titles, a legend for the target line.
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    _sign_in(page, base)
    page.goto(f"{base}/submissions/{submission.pk}/")
    page.locator("#curves .curve .main-svg").first.wait_for(timeout=30_000)
    card = page.locator("#curves").bounding_box()
    curves = page.locator("#curves .curve")
    assert curves.count() == 2
    for i in range(2):
        assert curves.nth(i).bounding_box()["width"] >= 0.95 * card["width"]
    assert page.locator("#curves .xtitle").first.text_content() == "training labels inspected and fixed"
    assert page.locator("#curves .ytitle").first.text_content() == "test accuracy"
    legend = " ".join(page.locator("#curves .legend").first.all_text_contents())
    assert "target accuracy (0.855)" in legend and "random order" in legend

    # The favicon is linked and served.
    icon = page.locator("link[rel=icon]").get_attribute("href")
    response = page.request.get(base + icon)
    assert response.ok and b"<svg" in response.body()


def test_the_ratchet_chart_fetches_plotly_only_when_it_comes_into_view(live_server, browser_page, users, tmp_path):
    from fixtures import test_set_synthetic
    from tests.conftest import make_challenge

    challenge = make_challenge(users["organizer"], slug="shapes")
    test_set_synthetic.write_test_set_data(tmp_path / "ts", pool_size=60, seed=1)
    add_benchmark(challenge, "test-set", tmp_path / "ts", slug="adversarial", config={"max_items": 10})
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 240})
    page.goto(f"{live_server.url}/challenges/shapes/")
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)
    resources = "performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('plotly'))"
    assert page.evaluate(resources) == []
    page.locator("#ratchet").scroll_into_view_if_needed()
    page.locator("#ratchet .ratchet-chart .main-svg").first.wait_for(timeout=30_000)
    assert len(page.evaluate(resources)) == 1
