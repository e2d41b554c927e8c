"""The organizer's journey in Debian's Chromium, with no command line: sign in → create a challenge with a
phase and a benchmark in the admin → attach its public and hidden data through the admin's upload form →
add annotators and a co-organizer on the People page → publish → a participant's upload is scored by a real
Celery worker → the co-organizer (a participant until then) re-runs it from the admin and sees it scored
again, then re-scores the whole benchmark with the admin's re-score action."""
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from backend.accounts.models import User
from backend.accounts.services import grant_organizer_access
from backend.challenges import services as challenge_services
from backend.challenges.models import Benchmark, Challenge, DatasetArtifact
from backend.core.files import zip_files
from backend.submissions.models import Submission
from evaluation import registry
from fixtures import synthetic
from tests.conftest import Worker

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 60_000  # page-level waits: generous, a loaded 2-core machine serves the admin slowly


def sign_in(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.locator("header", has_text=username).wait_for(timeout=WAIT)


def sign_out(page):
    page.click("header button[type=submit]")


def data_zips(data_dir: Path, out: Path) -> tuple[Path, Path]:
    """The public and hidden archives an organizer would prepare from the official layout."""
    public, hidden = challenge_services.split_data_directory(registry.get("speech-selection"), data_dir)
    paths = []
    for name, files in (("public", public), ("hidden", hidden)):
        path = out / f"walk-{name}.zip"
        path.write_bytes(zip_files(data_dir, files))
        paths.append(path)
    return paths[0], paths[1]


def test_organizer_creates_publishes_and_rescores(live_server, browser_page, users, speech_data_dir, tmp_path):
    page = browser_page
    base = live_server.url
    page.set_default_timeout(WAIT)
    for name in ("vera", "wim"):
        User.objects.create_user(username=name, password=f"{name}-password-1", role=User.Role.ANNOTATOR)
    public_zip, hidden_zip = data_zips(speech_data_dir, tmp_path)
    grant_organizer_access(users["organizer"])  # an organizer account as `make run` or an operator makes it

    # 1. Sign in and create the challenge, its phase and its benchmark in the admin (one form).
    sign_in(page, base, "org", "org-password")
    page.goto(f"{base}/admin/challenges/challenge/add/")
    page.locator("#id_title").press_sequentially("Keyword walk")
    expect(page.locator("#id_slug")).to_have_value("keyword-walk")  # filled in from the title
    page.fill("#id_rules", "One selection per file.")
    page.click("#phases-group >> text=Add another Phase")
    page.fill("#id_phases-0-name", "Development")
    page.click("#benchmarks-group >> text=Add another Benchmark")
    page.fill("#id_benchmarks-0-slug", "en-walk")
    page.fill("#id_benchmarks-0-title", "English keywords")
    page.select_option("#id_benchmarks-0-type_slug", "speech-selection")
    page.click("input[name=_save]")
    page.locator(".messagelist .success").wait_for()
    challenge = Challenge.objects.get(slug="keyword-walk")
    assert challenge.status == Challenge.Status.DRAFT
    assert list(challenge.organizers.values_list("username", flat=True)) == ["org"]
    phase = challenge.phases.get()
    benchmark = challenge.benchmarks.get()
    assert benchmark.type_slug == "speech-selection"

    # 2. Attach public and hidden data through the benchmark's upload form (this used to be a 500).
    page.goto(f"{base}/admin/challenges/benchmark/{benchmark.pk}/change/")
    for index, (visibility, path) in enumerate((("public", public_zip), ("hidden", hidden_zip))):
        page.click("#artifacts-group >> text=Add another Dataset artifact")
        page.select_option(f"#id_artifacts-{index}-visibility", visibility)
        page.set_input_files(f"#id_artifacts-{index}-file", str(path))
    page.click("input[name=_save]")
    page.locator(".messagelist .success", has_text="the attached data loads").wait_for()
    assert page.locator(".messagelist .error").count() == 0  # the archives were unpacked and loaded
    artifacts = {a.visibility: a for a in benchmark.artifacts.all()}
    assert set(artifacts) == {"public", "hidden"}
    assert artifacts["hidden"].size_bytes == hidden_zip.stat().st_size
    assert artifacts["public"].sha256 and artifacts["hidden"].sha256

    # 3. People: two annotators and a co-organizer, from the challenge's page.
    page.goto(f"{base}/challenges/keyword-walk/")
    page.click("text=People: organizers and annotators")
    page.wait_for_url("**/organize/keyword-walk/people/")
    for name in ("vera", "wim"):
        page.locator("#annotators input[name=username]").fill(name)
        page.click("#annotators >> text=Add annotator")
        page.locator(".message", has_text=f"{name} is now an annotator").wait_for()
    page.locator("#organizers input[name=username]").fill("bob")
    page.click("#organizers >> text=Add organizer")
    page.locator("#organizers table", has_text="bob").wait_for()
    assert set(challenge.annotators.values_list("username", flat=True)) == {"vera", "wim"}
    assert set(challenge.organizers.values_list("username", flat=True)) == {"org", "bob"}

    # 4. Publish from the challenge list's action.
    page.goto(f"{base}/admin/challenges/challenge/")
    page.locator("tr", has_text="Keyword walk").locator("input.action-select").check()
    page.select_option("select[name=action]", "publish")
    page.click("button[name=index]")
    page.locator(".messagelist .success", has_text="Published 1").wait_for()
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.PUBLISHED
    sign_out(page)

    worker = Worker()
    try:
        # 5. A participant downloads nothing by hand: the upload is scored by the worker from the admin's data.
        submission_file = tmp_path / "alice-selection.json"
        submission_file.write_text(json.dumps(synthetic.random_speech_submission(speech_data_dir, train_size=25, seed=7)))
        sign_in(page, base, "alice", "alice-password")
        page.goto(f"{base}/challenges/keyword-walk/en-walk/")
        page.set_input_files("#upload-form input[type=file]", str(submission_file))
        page.click("#upload-form button[type=submit]")
        page.wait_for_url("**/submissions/*/")
        page.locator("#status", has_text="Scored").wait_for(timeout=180_000)
        submission = Submission.objects.get(phase=phase)
        first_score = submission.scores.get(metric=benchmark.benchmark_type.primary_metric).value
        sign_out(page)

        # 6. The co-organizer, a participant until step 3, re-runs it from the admin and sees it scored again.
        sign_in(page, base, "bob", "bob-password")
        page.click("header >> text=Admin")
        page.goto(f"{base}/admin/submissions/submission/")
        page.locator("#result_list").wait_for()
        page.locator("tr", has_text="alice").locator("input.action-select").check()
        page.select_option("select[name=action]", "rerun")
        page.click("button[name=index]")
        page.locator(".messagelist .success", has_text="Queued 1 submission(s) again").wait_for()
        submission.refresh_from_db()
        assert "re-run requested by bob" in submission.log
        page.click(f".messagelist >> text=#{submission.pk}")          # the message links to the live page
        page.wait_for_url(f"**/submissions/{submission.pk}/")
        page.locator("#status", has_text="Scored").wait_for(timeout=180_000)
        submission.refresh_from_db()
        assert submission.status == Submission.Status.SCORED
        assert submission.log.count("re-run requested by bob") == 1
        again = submission.scores.get(metric=benchmark.benchmark_type.primary_metric).value
        assert again == pytest.approx(first_score)  # same data, same file: the same score

        # 7. And the whole benchmark re-scored from its admin page (after a data or environment change),
        #    followed from the submission's admin page through "View on site".
        page.goto(f"{base}/admin/challenges/benchmark/")
        page.locator("tr", has_text="English keywords").locator("input.action-select").check()
        page.select_option("select[name=action]", "rescore_benchmarks")
        page.click("button[name=index]")
        page.locator(".messagelist .success", has_text="queued 1 scored submission(s) again").wait_for()
        page.goto(f"{base}/admin/submissions/submission/")
        page.click(f"#result_list a[href$='/submission/{submission.pk}/change/']")
        page.click("text=View on site")
        page.wait_for_url(f"**/submissions/{submission.pk}/")
        page.locator("#status", has_text="Scored").wait_for(timeout=180_000)
        submission.refresh_from_db()
        assert submission.status == Submission.Status.SCORED
        assert submission.scores.get(metric=benchmark.benchmark_type.primary_metric).value == pytest.approx(first_score)
    finally:
        worker.stop()
