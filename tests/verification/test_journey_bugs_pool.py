"""Issue 13's test-set bugs: counts shown as whole numbers, the tie-break on equal credit, long item ids
inside their cards, and quick adds from the pool browser that must all land in "my set"."""
import pytest

from backend.leaderboards import selectors
from backend.submissions.models import Score, Submission
from tests.backend.helpers import publish_score
from tests.conftest import add_benchmark, make_challenge

_clock = iter(range(1, 10_000))


def landed(benchmark, user, *, credit, verified, fooled):
    """A scored test-set submission as the worker and the credit pass leave it."""
    from datetime import timedelta

    from django.utils import timezone

    submission = Submission.objects.create(
        phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user, status=Submission.Status.SCORED,
        original_name="set.csv", sha256="0" * 64, file="submissions/set.csv")
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(hours=1) + timedelta(seconds=next(_clock)))
    for metric, value in (("credit", credit), ("verified", verified), ("fooled", fooled), ("novelty", 0.5)):
        Score.objects.create(submission=submission, metric=metric, value=value)
    publish_score(submission, version=submission.pk)
    return submission


@pytest.mark.django_db
def test_equal_credit_ranks_more_fooling_items_first(ts_benchmark, users):
    phase = ts_benchmark.challenge.phases.get()
    # Before any verification every credit is 0: the earlier submission used to win the tie.
    few = landed(ts_benchmark, users["alice"], credit=0.0, verified=0, fooled=1)
    many = landed(ts_benchmark, users["alice"], credit=0.0, verified=0, fooled=4)
    bob = landed(ts_benchmark, users["bob"], credit=0.0, verified=0, fooled=2)
    rows = selectors.leaderboard_rows(phase, ts_benchmark)
    assert [(r["entrant"], r["submission_id"]) for r in rows] == [("alice", many.pk), ("bob", bob.pk)]
    assert few.pk not in [r["submission_id"] for r in rows]
    # Verified items come before fooling items; credit before both.
    carol_verified = landed(ts_benchmark, users["annotator"], credit=0.0, verified=1, fooled=1)
    phase.refresh_from_db()
    rows = selectors.leaderboard_rows(phase, ts_benchmark)
    assert [r["submission_id"] for r in rows] == [carol_verified.pk, many.pk, bob.pk]


@pytest.mark.django_db
def test_the_api_marks_count_columns_as_whole_numbers(client, ts_benchmark, users):
    landed(ts_benchmark, users["alice"], credit=0.25, verified=1, fooled=3)
    body = client.get("/api/challenges/shapes/benchmarks/adversarial/leaderboard/").json()
    kinds = {c["key"]: c["integer"] for c in body["columns"]}
    assert kinds == {"credit": False, "verified": True, "fooled": True, "novelty": False}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_leaderboard_shows_counts_as_integers(live_server, browser_page, ts_benchmark, users):
    landed(ts_benchmark, users["alice"], credit=0.25, verified=1, fooled=3)
    page = browser_page
    page.goto(f"{live_server.url}/challenges/shapes/adversarial/")
    row = page.locator("#leaderboard tbody tr").first
    row.locator("td.num").first.wait_for()
    assert row.locator("td.num").all_inner_texts() == ["0.2500", "1", "3", "0.5000"]


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password")
    page.click("button[type=submit]")


LONG_PREFIX = "en/keyword-pool/common_voice_en_20251231_speaker0123456789abcdef_clip_"


@pytest.fixture(scope="session")
def long_id_data_dir(tmp_path_factory):
    from fixtures import test_set_synthetic as synth

    path = tmp_path_factory.mktemp("test-set-long-ids") / "data"
    synth.write_test_set_data(path, pool_size=60, seed=5, id_prefix=LONG_PREFIX)
    return path


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_long_item_ids_stay_inside_their_cards(live_server, browser_page, users, long_id_data_dir):
    challenge = make_challenge(users["organizer"], slug="kws-pool")
    add_benchmark(challenge, "test-set", long_id_data_dir, slug="adversarial", config={"max_items": 10})
    page = browser_page
    page.set_viewport_size({"width": 1000, "height": 900})
    _sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/challenges/kws-pool/adversarial/")
    page.locator("#pool-items .pool-card code").first.wait_for()
    overflowing = page.evaluate("""() => [...document.querySelectorAll('#pool-items .pool-card')].filter((card) => {
        const box = card.getBoundingClientRect(), code = card.querySelector('code').getBoundingClientRect();
        return code.right > box.right + 0.5 || card.scrollWidth > card.clientWidth + 1;
    }).length""")
    assert overflowing == 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_quick_adds_all_land_and_a_picked_label_survives(live_server, browser_page, ts_benchmark, users):
    page = browser_page
    _sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/challenges/shapes/adversarial/")
    cards = page.locator("#pool-items .pool-card")
    cards.first.wait_for()
    ts_benchmark.refresh_from_db()
    # A label picked on one card, then another card added: the first choice stays.
    first, second = cards.nth(0), cards.nth(1)
    first.locator("select").select_option(index=1)
    picked = first.locator("select").input_value()
    second.locator("select").select_option(index=2)
    second.locator("button").click()
    assert cards.nth(0).locator("select").input_value() == picked
    # Nine quick adds (pick, add, pick, add, ...) without waiting: nine items in the set.
    for index in range(2, 10):
        card = cards.nth(index)
        card.locator("select").select_option(index=1 + index % 3)
        card.locator("button").click()
    page.locator("#my-set-count", has_text="9").wait_for(timeout=5000)
    assert page.locator("#my-set-table tbody tr").count() == 9
    # A second tab adds to the same set; this tab's next add keeps it.
    with page.expect_popup() as popup:  # same browser profile, same stored set
        page.evaluate("url => window.open(url)", f"{live_server.url}/challenges/shapes/adversarial/")
    other = popup.value
    other_cards = other.locator("#pool-items .pool-card")
    other_cards.nth(12).wait_for()
    other_cards.nth(12).locator("select").select_option(index=1)
    other_cards.nth(12).locator("button").click()
    other.locator("#my-set-count", has_text="10").wait_for(timeout=5000)
    cards.nth(0).locator("button").click()  # the label picked at the start
    page.locator("#my-set-count", has_text="10").wait_for(timeout=5000)  # max_items is 10: all kept
    assert len(page.evaluate("() => Object.keys(JSON.parse(localStorage.getItem(document.getElementById('pool').dataset.storageKey)))")) == 10
