"""My submissions: score, rank, benchmark, status, filters and paging; a participant cancels their own
queued submission and selects the submissions that count where the phase allows it."""
import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from backend.leaderboards import selectors as leaderboard_selectors
from backend.submissions import services
from backend.submissions.models import FinalSelection, Submission

from .helpers import speech_upload
from .test_leaderboards import scored

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def upload(challenge, user, data_dir, seed=0):
    return services.create_submission(user=user, benchmark=challenge.benchmarks.get(),
                                      uploaded_file=speech_upload(data_dir, seed=seed, name=f"run-{seed}.json"))


# --- cancelling ------------------------------------------------------------------------------------

def test_a_participant_cancels_their_queued_submission_and_gets_the_slot_back(speech_challenge, users, speech_data_dir):
    phase = speech_challenge.phases.get()
    phase.max_submissions_total = 1
    phase.save()
    submission = upload(speech_challenge, users["alice"], speech_data_dir)
    response = api(users["alice"]).post(f"/api/submissions/{submission.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    submission.refresh_from_db()
    assert submission.status == Submission.Status.CANCELLED
    from backend.jobs.models import Job

    assert Job.objects.get(kind="score", subject_id=submission.pk).status == "cancelled"  # never started
    upload(speech_challenge, users["alice"], speech_data_dir, seed=1)  # a cancelled one does not count


def test_a_running_submission_cannot_be_cancelled_by_its_owner(speech_challenge, users, speech_data_dir):
    submission = upload(speech_challenge, users["alice"], speech_data_dir)
    services.claim_for_evaluation(submission.pk)
    response = api(users["alice"]).post(f"/api/submissions/{submission.pk}/cancel/")
    assert response.status_code == 400
    assert response.json()["detail"] == (f"Submission {submission.pk} is already being scored; only a queued "
                                         "submission can be cancelled")
    submission.refresh_from_db()
    assert submission.status == Submission.Status.RUNNING
    # the organizers still can stop it
    assert api(users["organizer"]).post(f"/api/submissions/{submission.pk}/cancel/").status_code == 200


def test_someone_elses_submission_is_a_404_for_cancel_and_select(speech_challenge, users, speech_data_dir):
    submission = upload(speech_challenge, users["alice"], speech_data_dir)
    bob = api(users["bob"])
    assert bob.post(f"/api/submissions/{submission.pk}/cancel/").status_code == 404
    assert bob.post(f"/api/submissions/{submission.pk}/select/").status_code == 404
    submission.refresh_from_db()
    assert submission.status == Submission.Status.QUEUED


def test_cancel_from_the_page(client, speech_challenge, users, speech_data_dir):
    submission = upload(speech_challenge, users["alice"], speech_data_dir)
    client.force_login(users["alice"])
    page = client.get("/submissions/").content.decode()
    assert f'action="/submissions/{submission.pk}/cancel/"' in page
    response = client.post(f"/submissions/{submission.pk}/cancel/", {"next": "/submissions/?status=queued"}, follow=True)
    assert response.redirect_chain[-1][0] == "/submissions/?status=queued"
    assert f"Submission #{submission.pk} cancelled" in response.content.decode()
    client.force_login(users["bob"])
    assert client.post(f"/submissions/{submission.pk}/cancel/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_cancel_and_worker_claim_end_consistent(speech_challenge, users, speech_data_dir):
    """Whichever takes the row lock first wins: cancelled and never started, or running and not cancelled."""
    from backend.jobs.models import Job

    outcomes = []
    for seed in range(6):
        submission = upload(speech_challenge, users["alice"], speech_data_dir, seed=seed)
        barrier = threading.Barrier(2)
        result = {}

        def cancel():
            try:
                barrier.wait()
                services.cancel_own_submission(submission, by=users["alice"])
                result["cancel"] = "ok"
            except services.SubmissionRejected as rejected:
                result["cancel"] = rejected.message
            finally:
                connection.close()

        def claim():
            try:
                barrier.wait()
                result["claim"] = services.claim_for_evaluation(submission.pk) is not None
            finally:
                connection.close()

        threads = [threading.Thread(target=cancel), threading.Thread(target=claim)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        submission.refresh_from_db()
        job = Job.objects.get(kind="score", subject_id=submission.pk)
        if result["cancel"] == "ok":
            assert submission.status == Submission.Status.CANCELLED and not result["claim"]
            assert submission.started_at is None and job.status in ("cancelled", "done")
        else:
            assert "already being scored" in result["cancel"]
            assert submission.status == Submission.Status.RUNNING and result["claim"] and job.status == "running"
        outcomes.append(submission.status)
    assert set(outcomes) <= {Submission.Status.CANCELLED, Submission.Status.RUNNING}


# --- selecting the submissions that count ------------------------------------------------------------

def test_selection_is_off_unless_the_phase_allows_it(speech_challenge, users):
    submission = scored(speech_challenge.benchmarks.get(), users["alice"], 0.5)
    response = api(users["alice"]).post(f"/api/submissions/{submission.pk}/select/")
    assert response.status_code == 400
    assert "does not let participants choose" in response.json()["detail"]


def test_selection_limit_and_the_leaderboard_ranks_the_selected_row(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    phase = speech_challenge.phases.get()
    FinalSelection.objects.create(phase=phase, max_selected=2)
    best = scored(benchmark, users["alice"], 0.9)
    middle = scored(benchmark, users["alice"], 0.6)
    low = scored(benchmark, users["alice"], 0.3)
    scored(benchmark, users["bob"], 0.7)
    alice = api(users["alice"])
    # Nothing selected: the best submission ranks (as Kaggle picks for you).
    assert [(r["entrant"], r["score"]) for r in leaderboard_selectors.leaderboard_rows(phase, benchmark)] == \
        [("alice", 0.9), ("bob", 0.7)]
    assert alice.post(f"/api/submissions/{low.pk}/select/").json()["selected"] is True
    assert alice.post(f"/api/submissions/{middle.pk}/select/", {"selected": True}).status_code == 200
    over = alice.post(f"/api/submissions/{best.pk}/select/")
    assert over.status_code == 400
    assert over.json()["detail"] == ("2 submissions to this benchmark are already selected (the phase allows 2); "
                                     "unselect one first")
    phase.refresh_from_db()
    rows = leaderboard_selectors.leaderboard_rows(phase, benchmark)
    assert [(r["entrant"], r["submission_id"]) for r in rows] == [("bob", rows[0]["submission_id"]), ("alice", middle.pk)]
    # Unselecting frees a slot and the board follows.
    assert alice.post(f"/api/submissions/{low.pk}/select/", {"selected": False}).json()["selected"] is False
    assert alice.post(f"/api/submissions/{best.pk}/select/").status_code == 200
    phase.refresh_from_db()
    assert leaderboard_selectors.leaderboard_rows(phase, benchmark)[0]["submission_id"] == best.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_selections_cannot_exceed_the_limit(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    FinalSelection.objects.create(phase=speech_challenge.phases.get(), max_selected=1)
    submissions = [scored(benchmark, users["alice"], 0.1 * i) for i in range(1, 5)]
    barrier = threading.Barrier(len(submissions))
    results = []

    def select(submission):
        try:
            barrier.wait()
            services.select_submission(submission, by=users["alice"])
            results.append("ok")
        except services.SubmissionRejected:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=select, args=(s,)) for s in submissions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]
    assert Submission.objects.filter(selected=True).count() == 1


def test_selection_closes_with_the_phase(speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    phase = speech_challenge.phases.get()
    FinalSelection.objects.create(phase=phase, max_selected=2)
    submission = scored(benchmark, users["alice"], 0.5)
    phase.ends_at = timezone.now() - timedelta(minutes=1)
    phase.save()
    response = api(users["alice"]).post(f"/api/submissions/{submission.pk}/select/")
    assert response.status_code == 400 and "has ended" in response.json()["detail"]


# --- the page: score, rank, benchmark link, filters, paging ------------------------------------------

def _rows(html):
    return re.findall(r'<tr data-submission="(\d+)">', html)


def test_the_page_shows_score_rank_and_benchmark_link(client, speech_challenge, users):
    benchmark = speech_challenge.benchmarks.get()
    mine = scored(benchmark, users["alice"], 0.87654321)
    scored(benchmark, users["bob"], 0.9)
    client.force_login(users["alice"])
    html = client.get("/submissions/").content.decode()
    row = html[html.index(f'<tr data-submission="{mine.pk}">'):]
    row = row[:row.index("</tr>")]
    assert ">0.8765<" in row  # the primary score, four decimals
    assert "#2" in row  # bob is ahead
    assert 'href="/challenges/kws/en-25/"' in row
    assert "Scored" in row


def test_hidden_boards_show_no_rank(client, speech_challenge, users):
    from backend.challenges.models import Phase

    benchmark = speech_challenge.benchmarks.get()
    mine = scored(benchmark, users["alice"], 0.5)
    Phase.objects.update(leaderboard_visibility=Phase.Visibility.HIDDEN)
    client.force_login(users["alice"])
    html = client.get("/submissions/").content.decode()
    row = html[html.index(f'<tr data-submission="{mine.pk}">'):]
    row = row[:row.index("</tr>")]
    assert "hidden" in row and "#1" not in row


def test_filters_and_paging(client, speech_challenge, users, vision_data_dir):
    from tests.conftest import add_benchmark

    speech = speech_challenge.benchmarks.get()
    vision = add_benchmark(speech_challenge, "vision-selection", vision_data_dir, slug="vision")
    ids = {"speech": [], "vision": [], "failed": []}
    for i in range(23):
        ids["speech"].append(scored(speech, users["alice"], i / 100).pk)
    for i in range(3):
        submission = scored(speech, users["alice"], None)
        Submission.objects.filter(pk=submission.pk).update(benchmark=vision)
        ids["vision"].append(submission.pk)
    ids["failed"].append(scored(speech, users["alice"], None, status=Submission.Status.FAILED).pk)
    scored(speech, users["bob"], 0.5)  # never in alice's list
    client.force_login(users["alice"])
    first = client.get("/submissions/").content.decode()
    assert len(_rows(first)) == 20 and "page 1 of 2 (27 submissions)" in first
    second = client.get("/submissions/?page=2").content.decode()
    assert len(_rows(second)) == 7
    assert set(_rows(first)) | set(_rows(second)) == {str(pk) for group in ids.values() for pk in group}
    assert sorted(map(int, _rows(client.get("/submissions/?benchmark=vision").content.decode()))) == ids["vision"]
    assert list(map(int, _rows(client.get("/submissions/?status=failed").content.decode()))) == ids["failed"]
    filtered = client.get("/submissions/?challenge=kws&benchmark=en-25&page=2").content.decode()
    assert len(_rows(filtered)) == 4 and "page 2 of 2 (24 submissions)" in filtered
    assert re.search(r'href="\?challenge=kws&(amp;)?benchmark=en-25&(amp;)?page=1" rel="prev"', filtered)  # keeps filters
    bad = client.get("/submissions/?status=nonsense")
    assert bad.status_code == 400 and "status: &#x27;nonsense&#x27; is not one of" in bad.content.decode()


def test_api_lists_the_selected_flag(speech_challenge, users):
    submission = scored(speech_challenge.benchmarks.get(), users["alice"], 0.5)
    assert api(users["alice"]).get(f"/api/submissions/{submission.pk}/").json()["selected"] is False


def test_the_submission_page_offers_cancel_to_its_owner_only(client, speech_challenge, users, speech_data_dir):
    submission = upload(speech_challenge, users["alice"], speech_data_dir)
    client.force_login(users["alice"])
    assert f'action="/submissions/{submission.pk}/cancel/"' in client.get(f"/submissions/{submission.pk}/").content.decode()
    response = client.post(f"/submissions/{submission.pk}/cancel/", {"next": f"/submissions/{submission.pk}/"})
    assert response.url == f"/submissions/{submission.pk}/"
    assert client.post(f"/submissions/{submission.pk}/cancel/", {"next": "//evil.example/submissions/"}).url == "/submissions/"
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "Cancelled" in page and "/cancel/" not in page
    client.force_login(users["organizer"])  # organizers cancel from the admin, not as the owner
    assert "/cancel/" not in client.get(f"/submissions/{submission.pk}/").content.decode()
