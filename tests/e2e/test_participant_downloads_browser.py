"""The participant journey's download step in Debian's Chromium: on the benchmark page a signed-in
participant clicks the public data download, the sample submission and the starter kit; each arrives as a
file of its format, and none holds a hidden file. The sample validates against the benchmark's format."""
import io
import json
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from backend.challenges.services import split_data_directory
from backend.submissions import services as submission_services

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def download(page, selector, tmp_path):
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    assert download.failure() is None
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return path


def names_in(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return archive.namelist()


def test_participant_downloads_the_public_data_the_sample_and_the_starter_kit(live_server, browser_page, speech_challenge,
                                                                              users, speech_data_dir, tmp_path):
    benchmark = speech_challenge.benchmarks.get(slug="en-25")
    public, hidden = split_data_directory(benchmark.benchmark_type, speech_data_dir)
    assert hidden and public
    hidden_names = {PurePosixPath(name).as_posix() for name in hidden}       # e.g. eval.yaml, eval_embeddings/*.parquet

    page = browser_page
    page.goto(f"{live_server.url}/challenges/kws/en-25/")
    assert page.locator("#sample-submission").count() == 0              # signed out: a sign-in link instead
    page.click("main >> text=Sign in")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password")
    page.click("main button[type=submit]")
    page.wait_for_url("**/challenges/kws/en-25/")

    data = download(page, "text=Download public data (zip)", tmp_path)
    assert data.suffix == ".zip"
    data_names = names_in(data)
    files = {name for name in data_names if not name.endswith("/")}
    assert {PurePosixPath(name).as_posix() for name in public} <= files  # every public file arrives
    assert not files & hidden_names, f"hidden files in the public download: {files & hidden_names}"

    sample = download(page, "#sample-submission", tmp_path)
    assert sample.suffix == ".json"
    json.loads(sample.read_text())                                     # the sample's format: JSON
    submission_services.validate_submission_file(benchmark, sample)    # and a valid submission

    kit = download(page, "#starter-kit", tmp_path)
    assert kit.suffix == ".zip"
    kit_names = names_in(kit)
    assert any(name.endswith("run.py") for name in kit_names) and any(name.endswith("README.md") for name in kit_names)
    assert not {PurePosixPath(name).name for name in kit_names} & {PurePosixPath(name).name for name in hidden_names}
