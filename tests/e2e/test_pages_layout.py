"""Issue 13, presentation, in Debian's Chromium: no sideways scroll and nothing cut off at 390 px on every
role's pages (participant, organizer, annotator); phase times in the viewer's time zone with a countdown;
the debugging curve full width with axis titles and a legend naming the red dotted line; plotly only on
pages that draw a chart; the favicon."""
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from backend.submissions.models import Score, Submission
from fixtures import synthetic
from tests.conftest import add_benchmark, make_challenge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _curves():
    fixes = list(range(0, 121, 8))
    return {task: {"submission": {"fixes": fixes, "accuracy": [0.6 + 0.3 * min(1, f / 60) for f in fixes],
                                  "target_accuracy": 0.855, "fraction_fixes": 0.4},
                   "random": {"fixes": fixes, "accuracy": [0.6 + 0.3 * f / 120 for f in fixes],
                              "target_accuracy": 0.855, "fraction_fixes": 0.8},
                   "oracle": {"fixes": fixes, "accuracy": [0.6 + 0.3 * min(1, f / 30) for f in fixes],
                              "target_accuracy": 0.855, "fraction_fixes": 0.2}} for task in ("taskA", "taskB")}


def _sign_in(page, base, username="alice", password=None):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or f"{username}-password")
    page.click("main button[type=submit]")
    page.locator("header button[type=submit]").wait_for()   # the sign-out button: signed in


# Visible elements reaching past the viewport's edges that the user cannot scroll to: outside any
# scrolling box (the page would scroll sideways) or clipped by an overflow: hidden ancestor. Elements
# that are wholly off the page's top or left are hidden on purpose and skipped.
_CUT_OFF = """() => {
  const width = document.documentElement.clientWidth, found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || (box.right <= width + 0.5 && box.left >= -0.5)) continue;
    // wholly above or left of the page: a deliberate off-screen node (plotly's text-measuring svg
    // sits at -10000 px while it draws), which neither shows nor widens the page
    if (box.right + scrollX <= 0 || box.bottom + scrollY <= 0) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    let scroller = null;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow !== "visible") { scroller = overflow; break; }
    }
    if (scroller === "auto" || scroller === "scroll") continue;
    found.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string"
      ? "." + el.className.trim().split(/\\s+/).join(".") : "") + ` [${Math.round(box.left)}..${Math.round(box.right)}]`);
  }
  return found.slice(0, 8);
}"""


def _misfit(page, path):
    """None when the page fits a 390 px viewport, else what sticks out."""
    width = page.evaluate("document.documentElement.scrollWidth")
    cut = page.evaluate(_CUT_OFF)
    return None if width <= 390 and not cut else f"{path} is {width} px wide at a 390 px viewport; past the edge: {cut}"


_PLOTS_FIT = """() => [...document.querySelectorAll('.js-plotly-plot')].every((plot) => {
  const svg = plot.querySelector('svg.main-svg');
  return svg && svg.getBoundingClientRect().right <= plot.getBoundingClientRect().right + 0.5;
})"""


def _assert_fits(page, path):
    if page.locator(".js-plotly-plot").count():   # a chart drawn while the page settled is resized once
        try:
            page.wait_for_function(_PLOTS_FIT, timeout=5000)
        except PlaywrightTimeout:
            pass   # reported below with what sticks out
    assert not (problem := _misfit(page, path)), problem


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
        _assert_fits(page, path)

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


@pytest.fixture(scope="module")
def keyword_test_set(tmp_path_factory):
    """The real keyword test-set data (a 600-item reference set): pool cards and queue items play audio clips
    with long item ids, and the creation page has the recorder and the WAV upload."""
    from fixtures.builders import layouts, load_prebuilt

    path = tmp_path_factory.mktemp("kws-test-set") / "data"
    layouts.write_layout(load_prebuilt("keyword"), "test-set", path, seed=0, reference_size=600)
    (path / "BUILD_INFO.json").unlink(missing_ok=True)
    return path


def test_every_roles_pages_fit_390px(live_server, browser_page, users, keyword_test_set):
    from backend.accounts import services as accounts
    from backend.verification import services as verification
    from backend.verification.models import Target
    from tests.verification.conftest import make_annotators, predictions, propose

    started = time.monotonic()
    base = live_server.url
    challenge = make_challenge(users["organizer"], slug="mitl")
    challenge.organizers.add(users["other_organizer"])
    benchmark = add_benchmark(challenge, "test-set", keyword_test_set, slug="keyword-adversarial")
    annotators = make_annotators(2, challenges=[challenge])
    suite = predictions(benchmark)   # labels the models do not give: the items go to the annotators' queue
    propose(users["bob"], benchmark, [(item, next(name for name in suite.class_names if name not in suite.of(item).values()))
                                     for item in sorted(suite.index)[:3]])
    verification.record_vote(user=annotators[0], target=Target.objects.first(), verdict="correct")
    bobs = accounts.create_team(user=users["bob"], challenge=challenge, name="Bob's keyword spotting research group")
    accounts.notify(users["alice"].pk, "Submission #12 on Keyword Adversarial was scored: credit = 0.0000, "
                                       "fooling_items = 0", "/submissions/")
    bench = f"/challenges/mitl/{benchmark.slug}"
    browser = browser_page.context.browser
    visited, problems = [], []

    def role(username, password=None):
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        _sign_in(page, base, username, password)
        return context, page

    def check(page, path, ready=None):
        if path:
            page.goto(base + path)
        if ready:
            page.locator(ready).first.wait_for()
        path = path or page.url.removeprefix(base)
        visited.append(path)
        if problem := _misfit(page, path):   # every page is visited, so one run lists every misfit
            problems.append(problem)

    # Participant: the pool browser (with an item in their set), creation, teams, profile, notifications.
    context, page = role("alice")
    check(page, bench + "/", ready="#pool-items .pool-card audio")
    first = page.locator("#pool-items .pool-card").first
    first.locator("select").select_option(index=1)
    first.locator("button").click()
    page.locator("#my-set-table tbody tr").wait_for()
    check(page, None)
    check(page, bench + "/create/", ready="#create-record")
    check(page, f"/teams/join/{bobs.invite_token}/", ready="main form button[type=submit]")
    check(page, "/teams/new/mitl/")
    page.fill("input[name=name]", "Alice and the long-named adversarial data creators")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/teams/*/")
    check(page, None, ready="#invite-link")
    check(page, "/accounts/profile/")
    check(page, "/accounts/notifications/", ready="ul.notifications li")
    check(page, "/submissions/")
    context.close()

    # Organizer: the challenge's People page and the verification management page.
    context, page = role("org")
    check(page, "/organize/mitl/people/", ready="#verifications tbody tr")
    check(page, f"/verify/mitl/{benchmark.slug}/manage/")
    context.close()

    # Annotator: the queue with a clip to hear.
    context, page = role(annotators[1].username, "pw")
    check(page, "/verify/")
    check(page, f"/verify/mitl/{benchmark.slug}/", ready="#verify-display audio")
    assert page.locator("#verify-display audio").bounding_box()["width"] >= 200   # was 0 px: no play button
    context.close()
    assert not problems, "\n".join(problems)
    print(f"390 px: {len(visited)} pages in {time.monotonic() - started:.1f} s")
