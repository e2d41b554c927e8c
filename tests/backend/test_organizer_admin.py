"""What the organizer's browser walk (tests/e2e/test_organizer_journey_browser.py) tripped over in the admin
and on the People page, each as the organizer met it (every test here failed before its fix)."""
import pytest
from django.test import Client

from backend.accounts.models import User
from backend.challenges.models import Challenge

from .test_journey_bugs import _benchmark_form

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def organizer_admin(users):
    from fixtures.demo import grant_organizer_permissions

    grant_organizer_permissions(users["organizer"])
    return signed_in(users["organizer"])


def _challenge_form(**fields) -> dict:
    data = {"title": "Fresh", "slug": "fresh", "summary": "", "rules": "", "status": "draft"}
    for prefix in ("phases", "benchmarks"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0,
                     f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
    data.update(fields)
    return data


def test_an_organizer_who_creates_a_challenge_in_the_admin_organizes_it(organizer_admin, users):
    response = organizer_admin.post("/admin/challenges/challenge/add/", _challenge_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    challenge = Challenge.objects.get(slug="fresh")
    # The organizers box was empty on the form; its save used to wipe the creator added before it,
    # and the new challenge vanished from the creator's own list.
    assert list(challenge.organizers.all()) == [users["organizer"]]
    # A co-organizer picked in the admin's own organizers box gets the admin as on the People page.
    response = organizer_admin.post(f"/admin/challenges/challenge/{challenge.pk}/change/",
                                    _challenge_form(organizers=[users["organizer"].pk, users["alice"].pk]))
    assert response.status_code == 302, response.content.decode()[:2000]
    users["alice"].refresh_from_db()
    assert users["alice"].is_staff and users["alice"].role == User.Role.ORGANIZER
    assert signed_in(users["alice"]).get(f"/admin/challenges/challenge/{challenge.pk}/change/").status_code == 200
    assert "Fresh" in organizer_admin.get("/admin/challenges/challenge/").content.decode()
    assert organizer_admin.get(f"/admin/challenges/challenge/{challenge.pk}/change/").status_code == 200


def test_the_benchmark_type_is_picked_from_the_librarys_types(organizer_admin, speech_challenge):
    benchmark = speech_challenge.benchmarks.get()
    url = f"/admin/challenges/benchmark/{benchmark.pk}/change/"
    page = organizer_admin.get(url).content.decode()
    assert '<select name="type_slug"' in page
    for slug in ("speech-selection", "vision-selection", "debugging", "test-set"):
        assert f'<option value="{slug}"' in page
    data = _benchmark_form(benchmark, list(benchmark.artifacts.all()))
    data["type_slug"] = "speech-selectoin"  # a typo used to be saved, and the benchmark could not load
    response = organizer_admin.post(url, data)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    benchmark.refresh_from_db()
    assert benchmark.type_slug == "speech-selection"


def test_a_co_organizer_added_on_the_people_page_reaches_their_challenge_in_the_admin(speech_challenge, users):
    make_challenge_elsewhere = Challenge.objects.create(slug="elsewhere", title="Elsewhere challenge")
    make_challenge_elsewhere.organizers.add(users["other_organizer"])
    bob = signed_in(users["bob"])
    assert bob.get("/admin/").status_code == 302                      # a participant: no admin
    response = signed_in(users["organizer"]).post(
        "/organize/kws/people/", {"action": "add", "role": "organizer", "username": "bob"})
    assert response.status_code in (200, 302)
    users["bob"].refresh_from_db()
    assert users["bob"].role == User.Role.ORGANIZER and users["bob"].is_staff
    # Signed in as before, bob now runs the challenge from the admin: its submissions (re-run, cancel),
    # its benchmarks (data, re-score) — and sees nothing of another organizer's challenge.
    for url in ("/admin/", "/admin/submissions/submission/", "/admin/challenges/benchmark/"):
        assert bob.get(url).status_code == 200, url
    challenges = bob.get("/admin/challenges/challenge/").content.decode()
    assert "Challenge kws" in challenges and "Elsewhere challenge" not in challenges
    assert bob.get(f"/admin/challenges/challenge/{make_challenge_elsewhere.pk}/change/").status_code in (302, 404)


def test_broken_data_uploaded_in_the_admin_is_named_at_once(
        organizer_admin, speech_challenge, speech_data_dir, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from backend.challenges.models import Benchmark
    from backend.challenges.services import split_data_directory
    from backend.core.files import zip_files

    benchmark = Benchmark.objects.create(challenge=speech_challenge, slug="fresh", title="Fresh",
                                         type_slug="vision-selection")
    url = f"/admin/challenges/benchmark/{benchmark.pk}/change/"
    public, hidden = split_data_directory(benchmark.benchmark_type, speech_data_dir)
    # Speech files on a vision benchmark: accepted silently before, and every submission then failed.
    wrong = SimpleUploadedFile("wrong.zip", zip_files(speech_data_dir, public + hidden), content_type="application/zip")
    response = organizer_admin.post(url, _benchmark_form(benchmark, [], wrong), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "the attached data does not load" in page and "Submissions to it fail" in page
    assert benchmark.artifacts.count() == 1  # stored all the same: the organizer fixes it in place

    benchmark.type_slug = "speech-selection"
    benchmark.save()
    benchmark.artifacts.all().delete()
    good = SimpleUploadedFile("good.zip", zip_files(speech_data_dir, public + hidden), content_type="application/zip")
    response = organizer_admin.post(url, _benchmark_form(benchmark, [], good), follow=True)
    page = response.content.decode()
    assert "does not load" not in page and "the attached data loads" in page


def test_a_re_run_from_the_admin_links_to_the_submissions_live_page(organizer_admin, speech_challenge, users):
    from backend.submissions.models import Submission

    submission = Submission.objects.create(
        phase=speech_challenge.phases.get(), benchmark=speech_challenge.benchmarks.get(), user=users["alice"],
        status=Submission.Status.SCORED, original_name="s.json", sha256="0" * 64, file="submissions/x.json")
    response = organizer_admin.post("/admin/submissions/submission/", {
        "action": "rerun", "_selected_action": [submission.pk]}, follow=True)
    page = response.content.decode()
    # The list does not refresh itself: the message links to the page that follows the re-run live.
    assert f'Follow them live: <a href="/submissions/{submission.pk}/">#{submission.pk}</a>' in page
    change = organizer_admin.get(f"/admin/submissions/submission/{submission.pk}/change/").content.decode()
    assert f'href="/submissions/{submission.pk}/"' in change  # "View on site"
    submission.refresh_from_db()
    assert submission.status == Submission.Status.QUEUED


def test_a_removed_co_organizer_loses_the_admin_but_a_site_made_organizer_keeps_it(speech_challenge, users):
    """Removing a co-organizer takes back what adding them gave (the admin, the organizers' permissions,
    the organizer role) once they organize nothing; an organizer made by a site administrator keeps theirs."""
    organizer = signed_in(users["organizer"])
    bob = signed_in(users["bob"])
    organizer.post("/organize/kws/people/", {"action": "add", "role": "organizer", "username": "bob"})
    organizer.post("/organize/kws/people/", {"action": "add", "role": "organizer", "username": "org2"})
    assert bob.get("/admin/challenges/benchmark/").status_code == 200
    for user in (users["bob"], users["other_organizer"]):
        response = organizer.post("/organize/kws/people/", {"action": "remove", "role": "organizer", "user": user.pk})
        assert response.status_code in (200, 302)
    users["bob"].refresh_from_db()
    assert users["bob"].role == User.Role.PARTICIPANT and not users["bob"].is_staff
    assert not users["bob"].groups.exists()
    assert bob.get("/admin/").status_code == 302                      # back to the admin's sign-in
    users["other_organizer"].refresh_from_db()
    assert users["other_organizer"].role == User.Role.ORGANIZER and users["other_organizer"].is_staff


def test_a_co_organizer_removed_in_the_challenge_admin_loses_the_admin(speech_challenge, users):
    from backend.challenges.services import add_person

    add_person(speech_challenge, username="bob", role="organizer")
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.org", "root-password"))
    url = f"/admin/challenges/challenge/{speech_challenge.pk}/change/"
    form = _challenge_form(title=speech_challenge.title, slug=speech_challenge.slug, status=speech_challenge.status,
                           rules=speech_challenge.rules, organizers=[users["organizer"].pk])
    response = admin.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    users["bob"].refresh_from_db()
    assert not users["bob"].is_staff and users["bob"].role == User.Role.PARTICIPANT
    assert list(speech_challenge.organizers.all()) == [users["organizer"]]
