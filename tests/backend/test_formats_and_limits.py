"""Issue 13 (items 2 and 6): every benchmark page explains its submission format from docs/benchmarks,
offers a sample file that scores with the offline CLI on the demo data and a starter kit that runs;
the pages and the API say how many submissions are left; times are UTC <time> elements."""
from __future__ import annotations

import html
import io
import json
import re
import shlex
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.submissions.models import Submission
from tests.conftest import ROOT, add_benchmark, make_challenge

from .helpers import speech_upload

pytestmark = pytest.mark.django_db

# type slug -> (demo task, config the demo gives it)
DEMO = {
    "speech-selection": ("keyword", {"train_size": 25}),
    "vision-selection": ("nlp", None),
    "debugging": ("nlp", {}),
    "valuation": ("nlp", {}),
    "slicing": ("nlp", {}),
    "training-set": ("nlp", {}),
    "test-set": ("nlp", {}),
    "data-acquisition": ("nlp", {}),
}


@pytest.fixture(scope="session")
def demo_layouts(tmp_path_factory):
    """The demo's data directories (fixtures/demo.py's real layouts from the committed prebuilt tasks),
    built once: {type slug: (data dir, config)}."""
    from fixtures.builders import layouts, load_prebuilt

    root = tmp_path_factory.mktemp("demo-layouts")
    out, loaded = {}, {}
    for type_slug, (task, config) in DEMO.items():
        dataset = loaded.setdefault(task, load_prebuilt(task))
        info = layouts.write_layout(dataset, type_slug, root / type_slug,
                                    **({} if type_slug == "speech-selection" else {"seed": 0}))
        (root / type_slug / "BUILD_INFO.json").unlink(missing_ok=True)
        out[type_slug] = (root / type_slug, {"concepts": sorted(info["concepts"])} if config is None else config)
    return out


def _section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</section>", start)]


@pytest.mark.parametrize("type_slug", sorted(DEMO))
def test_format_sample_cli_and_starter_kit_for_every_type(type_slug, demo_layouts, users, client, tmp_path):
    data_dir, config = demo_layouts[type_slug]
    challenge = make_challenge(users["organizer"], slug="demo")
    benchmark = add_benchmark(challenge, type_slug, data_dir, slug="b", config=config)
    client.force_login(users["alice"])
    page = client.get("/challenges/demo/b/").content.decode()

    # The format section: the doc's "Submission" section rendered (code spans, no literal backticks).
    fmt = _section(page, "format")
    assert "Submission format" in fmt and "<code>" in fmt and "`" not in fmt
    doc_link = re.search(r'href="(/docs/benchmarks/[a-z-]+/)"', fmt).group(1)
    doc = client.get(doc_link)
    assert doc.status_code == 200 and b"<h2>" in doc.content

    # The sample: a download, built from the public data.
    response = client.get("/challenges/demo/b/sample-submission/")
    assert response.status_code == 200
    name = re.search(r'filename="([^"]+)"', response["Content-Disposition"]).group(1)
    assert name == f"b-sample-submission{Path(name).suffix}"
    assert Path(name).suffix in benchmark.benchmark_type.submission_suffixes

    # ... scored by exactly the command the page shows, run where the user would have the files.
    command = shlex.split(html.unescape(re.search(r'id="cli-command"><code>(.*?)</code>', page, re.S).group(1)))
    assert command[:5] == ["python", "-m", "evaluation", "score", type_slug]
    work = tmp_path / "work"
    work.mkdir()
    assert command[command.index("--submission") + 1] == name   # the command names the downloaded file
    (work / command[command.index("--submission") + 1]).write_bytes(response.content)
    (work / command[command.index("--data") + 1]).symlink_to(data_dir)   # public + hidden: scores offline
    run = subprocess.run([sys.executable] + command[1:], cwd=work, capture_output=True, text=True, timeout=600,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert isinstance(json.loads(run.stdout)["score"], (int, float))

    # The starter kit: README + algorithm + runner; the runner writes a submission that validates.
    kit = client.get("/challenges/demo/b/starter-kit.zip")
    assert kit.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(kit.content))
    top = archive.namelist()[0].split("/")[0]
    assert {f"{top}/README.md", f"{top}/algorithm.py", f"{top}/run.py"} <= set(archive.namelist())
    archive.extractall(tmp_path / "kit")
    from backend.challenges.services import extract_public_data
    from evaluation.starter_kits import get_kit

    public = extract_public_data(benchmark, tmp_path / "public")
    starter = get_kit(type_slug)
    out = tmp_path / "kit-out"
    out.mkdir()
    kit_command = starter.command(benchmark.effective_config)
    local = [sys.executable] + [arg.replace("/inputs/data", str(public)).replace("/output", str(out))
                                for arg in kit_command[1:]]
    ran = subprocess.run(local, cwd=tmp_path / "kit" / top, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    produced = out / starter.output if starter.output else out
    validate = subprocess.run([sys.executable, "-m", "evaluation", "validate", type_slug, "--data", str(data_dir),
                               "--submission", str(produced), "--json"]
                              + sum(([f"--{k.replace('_', '-')}", ",".join(v) if isinstance(v, list) else str(v)]
                                     for k, v in (config or {}).items()), []),
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert validate.returncode == 0, validate.stderr


def test_docs_pages_are_linked_and_rendered_safely(client, users, speech_challenge):
    index = client.get("/docs/benchmarks/").content.decode()
    assert "<table>" in index and 'href="/docs/benchmarks/selection/"' in index
    assert client.get("/").content.decode().count('href="/docs/benchmarks/"') >= 1   # linked from every page
    assert client.get("/docs/../README/").status_code == 404
    assert client.get("/docs/benchmarks/nope/").status_code == 404
    # Organizer text is Markdown too: backticks are code, raw HTML is shown as text, never run.
    speech_challenge.rules = "Submit `submission.json` only.\n\n<script>alert(1)</script> [x](javascript:alert(1))"
    speech_challenge.save()
    page = client.get("/challenges/kws/").content.decode()
    assert "<code>submission.json</code>" in page and "`" not in page.split("Rules", 1)[1].split("</section>", 1)[0]
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page and 'href="javascript:' not in page


def test_configs_are_shown_for_people(client, users, demo_layouts):
    challenge = make_challenge(users["organizer"], slug="cfg")
    add_benchmark(challenge, "debugging", demo_layouts["debugging"][0], slug="dbg")
    data_dir, config = demo_layouts["vision-selection"]
    add_benchmark(challenge, "vision-selection", data_dir, slug="vis", config=config)
    debugging = client.get("/challenges/cfg/dbg/").content.decode()
    assert "torch_threads" not in debugging and "Torch threads" not in debugging
    assert "<dd>95 %</dd>" in debugging and "<dd>all tasks in the data</dd>" in debugging
    vision = client.get("/challenges/cfg/vis/").content.decode()
    assert f"<dd>{', '.join(config['concepts'])}</dd>" in vision
    for shown in (debugging, vision):
        config_list = re.search(r'<dl class="config">(.*?)</dl>', shown, re.S).group(1)
        assert "[" not in config_list and "&#x27;" not in config_list and "_" not in config_list


def _allowance(client, slug="kws", benchmark="en-25"):
    response = client.get(f"/api/challenges/{slug}/benchmarks/{benchmark}/limits/")
    assert response.status_code == 200, response.content
    return response.json()


def test_submissions_left_match_the_real_limits_after_uploads(client, users, speech_data_dir):
    from backend.challenges.models import Phase

    challenge = make_challenge(users["organizer"], slug="kws", max_submissions_per_day=3, max_submissions_total=4)
    add_benchmark(challenge, "speech-selection", speech_data_dir, slug="en-25", config={"train_size": 25})
    client.force_login(users["alice"])
    api = APIClient()
    api.force_authenticate(users["alice"])
    assert "3 of 3</strong> left today" in client.get("/challenges/kws/en-25/").content.decode()

    for seed in range(2):
        assert client.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir, seed=seed)}).status_code == 302
    page = client.get("/challenges/kws/en-25/").content.decode()
    assert "1 of 3</strong> left today" in page and "2 of 4</strong> left in total" in page
    data = _allowance(api)
    assert data["today"] == {"limit": 3, "used": 2, "left": 1, "next_at": None}
    assert data["total"] == {"limit": 4, "used": 2, "left": 2} and data["can_submit"] is True

    # A failed submission gives its slot back, like the upload check.
    failed = Submission.objects.filter(user=users["alice"]).order_by("id").first()
    Submission.objects.filter(pk=failed.pk).update(status=Submission.Status.FAILED)
    assert _allowance(api)["today"]["left"] == 2

    # Yesterday's submissions count in total only; the daily figure is the rolling 24 hours the check uses.
    Submission.objects.filter(pk=failed.pk).update(status=Submission.Status.SCORED,
                                                   created_at=timezone.now() - timedelta(days=2))
    assert _allowance(api)["today"]["left"] == 2 and _allowance(api)["total"]["left"] == 2
    for seed in (5, 6):
        assert client.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir, seed=seed)}).status_code == 302
    data = _allowance(api)
    assert data["total"] == {"limit": 4, "used": 4, "left": 0} and data["today"]["left"] == 0 and not data["can_submit"]
    page = client.get("/challenges/kws/en-25/").content.decode()
    assert "0 of 3</strong> left today" in page and "0 of 4</strong> left in total" in page
    # ... and the upload check agrees: the fifth is refused.
    refused = client.post("/challenges/kws/en-25/submit/", {"file": speech_upload(speech_data_dir, seed=9)}, follow=True)
    assert "total limit" in refused.content.decode() and Submission.objects.count() == 4

    # Daily limit reached but total not: the page says when the next upload is possible.
    Phase.objects.update(max_submissions_total=None)
    data = _allowance(api)
    assert data["today"]["left"] == 0 and data["today"]["next_at"] and data["total"]["left"] is None
    assert "next upload is possible at" in client.get("/challenges/kws/en-25/").content.decode()

    # Bad input is a 4xx naming the field; other people's numbers are their own.
    assert api.get("/api/challenges/kws/benchmarks/en-25/limits/?team=nope").status_code == 400
    assert APIClient().get("/api/challenges/kws/benchmarks/en-25/limits/").status_code in (401, 403)
    bob = APIClient()
    bob.force_authenticate(users["bob"])
    assert _allowance(bob)["today"]["used"] == 0


def test_phase_times_and_home_page_state_and_filters(client, users, speech_data_dir, demo_layouts):
    from backend.challenges.models import Phase

    now = timezone.now()
    open_ = make_challenge(users["organizer"], slug="kws", ends_at=now + timedelta(days=2, hours=3))
    add_benchmark(open_, "speech-selection", speech_data_dir, slug="en-25", config={"train_size": 25})
    soon = make_challenge(users["organizer"], slug="later", starts_at=now + timedelta(days=5), ends_at=now + timedelta(days=9))
    add_benchmark(soon, "valuation", demo_layouts["valuation"][0], slug="val")
    over = make_challenge(users["organizer"], slug="over", starts_at=now - timedelta(days=9), ends_at=now - timedelta(days=1))
    add_benchmark(over, "slicing", demo_layouts["slicing"][0], slug="sl")

    ends = Phase.objects.get(challenge=open_).ends_at.astimezone(__import__("datetime").timezone.utc)
    page = client.get("/challenges/kws/en-25/").content.decode()
    assert (f'<time datetime="{ends:%Y-%m-%dT%H:%M:%SZ}" data-local data-countdown>{ends:%Y-%m-%d %H:%M} UTC</time>'
            in page)
    assert 'src="/static/js/time.js"' in page

    home = client.get("/").content.decode()
    for slug, state in (("kws", "open"), ("later", "upcoming"), ("over", "closed")):
        card = home[home.index(f'href="/challenges/{slug}/"') - 200:]
        assert f"state-{state}" in card[:1200], slug
    assert 'id="filters"' in home
    # A matrix label cut short keeps the whole title as a tooltip.
    over.title = "A challenge title far longer than the matrix cell"
    over.save()
    home = client.get("/").content.decode()
    assert 'title="A challenge title far longer than the matrix cell: Slicing">A challenge title far longe…</a>' in home

    def shown(query: str) -> set[str]:
        body = client.get("/?" + query).content.decode()
        return {slug for slug in ("kws", "later", "over") if f'<h2><a href="/challenges/{slug}/">' in body}

    assert shown("") == {"kws", "later", "over"}
    assert shown("state=open") == {"kws"} and shown("state=upcoming") == {"later"} and shown("state=closed") == {"over"}
    assert shown("type=valuation") == {"later"} and shown("q=slicing") == {"over"}
    assert shown("q=nothing-like-this") == set() and shown("state=bogus") == {"kws", "later", "over"}


def test_every_docs_page_renders_and_its_links_resolve(client):
    """Each Markdown file of docs/ is a page; its links to other docs are site links that answer 200."""
    from urllib.parse import urljoin

    docs = ROOT / "docs"
    pages = ["/docs/" + (p.parent.relative_to(docs).as_posix() if p.name == "README.md" else
                         p.relative_to(docs).with_suffix("").as_posix()) + "/" for p in docs.rglob("*.md")]
    broken = []
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        for href in re.findall(r'href="([^"]+)"', response.content.decode()):
            href = html.unescape(href)
            if href.startswith(("http://", "https://", "mailto:", "#")):
                continue
            target = urljoin("http://testserver" + url, href).split("#")[0].removeprefix("http://testserver")
            if client.get(target).status_code not in (200, 302):
                broken.append(f"{url} -> {href}")
    assert not broken, broken
