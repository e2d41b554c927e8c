"""Under the Content-Security-Policy (on by default) the pages' JavaScript still works in Chromium:
the live leaderboard, the overall board, the API docs; and a hidden board shows a participant only
their own row, without a rank."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.challenges.models import Phase
from backend.submissions.models import Score, Submission
from tests.conftest import add_benchmark
from tests.backend.helpers import publish_score

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def scored(benchmark, user, value, minutes_ago):
    submission = Submission.objects.create(
        phase=benchmark.challenge.phases.get(), benchmark=benchmark, user=user, status=Submission.Status.SCORED,
        original_name="s.json", sha256="0" * 64, file="submissions/x.json")
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    Score.objects.create(submission=submission, metric="macro_f1", value=value)
    publish_score(submission, version=submission.pk)  # as the services do after storing scores


def test_pages_render_their_javascript_under_the_csp(live_server, browser_page, speech_challenge, users, speech_data_dir):
    second = add_benchmark(speech_challenge, "speech-selection", speech_data_dir, slug="en-60", config={"train_size": 60})
    first = speech_challenge.benchmarks.get(slug="en-25")
    scored(first, users["bob"], 0.9, 30)
    scored(first, users["alice"], 0.7, 20)
    scored(second, users["alice"], 0.6, 10)
    page = browser_page
    violations = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: violations.append(str(error)))

    response = page.goto(f"{live_server.url}/challenges/kws/en-25/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("#leaderboard tbody tr", has_text="alice").wait_for(timeout=20_000)
    rows = page.locator("#leaderboard tbody tr").all_inner_texts()
    assert rows[0].startswith("1\tbob") and rows[1].startswith("2\talice")

    page.goto(f"{live_server.url}/challenges/kws/")
    page.locator("#overall-table tbody tr", has_text="alice").wait_for(timeout=20_000)
    assert page.locator("#weights input[type=range]").count() == 2

    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .info").wait_for(timeout=30_000)
    # plotly (the curves and the ratchet chart) draws under the policy too.
    page.goto(f"{live_server.url}/accounts/login/")
    page.add_script_tag(url="/static/vendor/plotly/plotly.min.js")
    page.evaluate("""() => { const div = document.createElement("div"); div.id = "chart"; document.body.appendChild(div);
                             return Plotly.newPlot(div, [{x: [1, 2, 3], y: [0.5, 0.7, 0.9], type: "scatter"}]); }""")
    page.locator("#chart .main-svg .scatterlayer path").first.wait_for(timeout=20_000)
    assert violations == []

    # Hidden: alice signs in and sees her row only, without a rank, on both boards.
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/challenges/kws/en-25/")
    page.locator("#leaderboard tbody tr", has_text="alice").wait_for(timeout=20_000)
    assert page.locator("#leaderboard tbody tr").all_inner_texts() == [
        page.locator("#leaderboard tbody tr").first.inner_text()]
    assert page.locator("#leaderboard tbody tr").first.inner_text().startswith("—\talice")
    assert "hidden in this phase" in page.locator("#leaderboard-status").inner_text()
    page.goto(f"{live_server.url}/challenges/kws/")
    page.locator("#overall-table tbody tr", has_text="alice").wait_for(timeout=20_000)
    overall = page.locator("#overall-table tbody tr").all_inner_texts()
    assert len(overall) == 1 and overall[0].startswith("—\talice\tn/a")
    assert "bob" not in page.content()
    assert violations == []
