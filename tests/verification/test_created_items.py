"""Items participants create (model-in-the-loop): stored with their raw form and server-side features,
submitted as one-item test-set submissions (same limits), scored by the worker against features it
reads itself, verified to consensus, credited, promoted by the ratchet; the raw item is served only to
its creator (team), the challenge's annotators and organizers.

These tests store items through ``creation.store_and_submit`` with chosen features (a fooling pool
item's embedding, slightly moved), so the verification path is tested on the small synthetic
benchmark; ``test_create_items_api.py`` creates items from raw text, drawings and clips."""
import base64
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from backend.accounts.models import Team, User
from backend.submissions import services as submission_services
from backend.submissions.models import Submission
from backend.verification import creation, selectors, services
from backend.verification.models import CreatedItem, Round, Target
from evaluation.benchmarks import test_set

from .conftest import fooling_pairs, land, make_annotators, plain_pairs, propose, scores, target_of, verify

pytestmark = pytest.mark.django_db


def pool_problem(benchmark):
    return submission_services.load_benchmark_problem(benchmark).pool


def png_of(benchmark, item_id):
    problem = pool_problem(benchmark)
    return base64.b64decode(problem.display[problem.index[item_id]])


def create(user, benchmark, like_item, label, *, answers=None, noise=0.01, team=None, seed=0):
    """A created picture whose features are ``like_item``'s embedding, slightly moved (a new item)."""
    problem = pool_problem(benchmark)
    rng = np.random.default_rng(seed)
    features = problem.X[problem.index[like_item]] + noise * rng.standard_normal(problem.dim).astype(np.float32)
    stored = creation.RawForm(kind="image", content_type="image/png", data=png_of(benchmark, like_item))
    return creation.store_and_submit(user=user, benchmark=benchmark, features=features, answers=answers or {},
                                     stored=stored, label=label, team=team)


def test_a_created_item_is_stored_and_submitted_as_a_one_item_submission(ts_benchmark, users, truth):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    item, submission = create(users["alice"], ts_benchmark, like, label)
    item.refresh_from_db()
    assert item.item_id == f"created-{item.pk}" and item.label == label and item.kind == "image"
    assert item.user == users["alice"] and item.submission == submission and item.dim == pool_problem(ts_benchmark).dim
    assert item.data_version and item.raw_file.name.startswith(f"created-items/{ts_benchmark.pk}/")
    stored = Path(item.raw_file.path)
    assert stored.is_file() and Path(settings.MEDIA_ROOT) in stored.parents
    assert stored.read_bytes() == png_of(ts_benchmark, like)
    assert submission.status == Submission.Status.QUEUED and submission.benchmark == ts_benchmark
    assert submission.file.read().decode() == f"item_id,label\n{item.item_id},{label}\n"
    # The created item is in the problem every scorer and validator loads; never in the pool page.
    problem = submission_services.load_benchmark_problem(ts_benchmark)
    assert problem.is_created(item.item_id) and problem.n_pool == len(pool_problem(ts_benchmark).ids)
    assert np.array_equal(problem.X[problem.index[item.item_id]], np.frombuffer(bytes(item.features), "<f4"))
    page = selectors.pool_page(ts_benchmark, query="created")
    assert page["total"] == 0


def test_the_worker_scores_a_created_item_with_its_own_suite_answers(ts_benchmark, users, truth):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    # The browser's claimed answers are stored for display only; the worker recomputes the suite's.
    item, submission = create(users["alice"], ts_benchmark, like, label, answers={"fooled": False, "majority": label})
    submission = land(submission)
    problem = submission_services.load_benchmark_problem(ts_benchmark)
    expected = test_set.created_suite_rows(problem.pool, problem.X[[problem.index[item.item_id]]], ts_benchmark.effective_config)
    wrong = int(np.sum(expected[0] != problem.class_names.index(label)))
    (row,) = submission.details["items"]
    assert row["item_id"] == item.item_id and row["wrong_votes"] == wrong and row["fooled"] is True
    assert scores(submission)["fooled"] == 1.0 and scores(submission)["credit"] == 0.0
    assert "novelty" in row and row["novelty"] is not None
    # A created item the suite gets right does not fool it.
    (plain, plain_label), = plain_pairs(ts_benchmark, 1)
    _, easy = create(users["bob"], ts_benchmark, plain, plain_label, noise=0.0, seed=1)
    assert land(easy).details["items"][0]["fooled"] is False


def test_created_item_verified_to_consensus_earns_credit_and_annotators_see_the_raw_item(ts_benchmark, users, truth):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    item, submission = create(users["alice"], ts_benchmark, like, label)
    land(submission)
    target = target_of(ts_benchmark, item.item_id, label)
    assert target.fooling and target.status == Target.Status.PENDING
    annotators = make_annotators(3, challenges=[ts_benchmark.challenge])
    shown = selectors.target_for_annotator(selectors.problem_of(ts_benchmark), selectors.next_target(annotators[0], ts_benchmark))
    assert shown == {"id": target.pk, "label": label, "item_id": item.item_id, "display_kind": "image", "created": True,
                     "display": f"/verify/shapes/adversarial/created/{item.pk}/raw/"}   # no creator, no model output
    # The creator never gets their own item in a queue (alice is no annotator; bob as annotator would see it).
    verify(target, annotators)
    target.refresh_from_db()
    assert target.status == Target.Status.CORRECT and target.resolved_by == Target.ResolvedBy.CONSENSUS
    submission.refresh_from_db()
    assert scores(submission)["credit"] == 1.0 and scores(submission)["verified"] == 1.0
    # Credit is shared per entrant like any item: the same created item in alice's second submission
    # does not divide her credit.
    again = propose(users["alice"], ts_benchmark, [(item.item_id, label)])
    assert scores(again)["credit"] == 1.0 and scores(submission)["credit"] == 1.0


def test_an_organizer_override_resolves_a_created_item(ts_benchmark, users, truth):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    item, submission = create(users["alice"], ts_benchmark, like, label)
    land(submission)
    services.override(user=users["organizer"], target=target_of(ts_benchmark, item.item_id, label), verdict="incorrect",
                      reason="not what the label says")
    assert scores(submission)["credit"] == 0.0
    assert target_of(ts_benchmark, item.item_id, label).status == Target.Status.INCORRECT


def test_submission_limits_apply_and_a_refused_item_stores_nothing(ts_benchmark, users, truth):
    phase = ts_benchmark.challenge.phases.get()
    phase.max_submissions_total = 1
    phase.save()
    (like, label), (like2, label2) = fooling_pairs(ts_benchmark, truth, 2)
    create(users["alice"], ts_benchmark, like, label)
    files_before = sorted(Path(settings.MEDIA_ROOT, "created-items", str(ts_benchmark.pk)).iterdir())
    with pytest.raises(services.VerificationRejected) as refused:
        create(users["alice"], ts_benchmark, like2, label2)
    assert refused.value.status_code == 429 and "total limit" in refused.value.message
    assert CreatedItem.objects.count() == 1 and Submission.objects.count() == 1
    assert sorted(Path(settings.MEDIA_ROOT, "created-items", str(ts_benchmark.pk)).iterdir()) == files_before
    with pytest.raises(services.VerificationRejected) as bad:
        create(users["bob"], ts_benchmark, like2, "no such class")
    assert bad.value.field == "label" and CreatedItem.objects.count() == 1


def test_only_the_creator_or_their_team_can_propose_a_created_item(ts_benchmark, users, truth):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    item, _ = create(users["alice"], ts_benchmark, like, label)
    upload = SimpleUploadedFile("mine.csv", f"item_id,label\n{item.item_id},{label}\n".encode())
    with pytest.raises(submission_services.SubmissionRejected) as refused:
        submission_services.create_submission(user=users["bob"], benchmark=ts_benchmark, uploaded_file=upload)
    assert refused.value.field == "file" and f"{item.item_id} is an item another participant created" in refused.value.message
    with pytest.raises(services.VerificationRejected):    # the pool browser's "submit my set" as well
        services.submit_test_set(user=users["bob"], benchmark=ts_benchmark, items=[{"item_id": item.item_id, "label": label}])
    # A team: the item created by one member is the team's.
    team = Team.objects.create(name="ab", challenge=ts_benchmark.challenge, created_by=users["alice"])
    team.members.add(users["alice"], users["bob"])
    shared, _ = create(users["alice"], ts_benchmark, like, label, seed=2)
    assert shared.team == team
    ok = services.submit_test_set(user=users["bob"], benchmark=ts_benchmark, items=[{"item_id": shared.item_id, "label": label}])
    assert ok.team == team


def test_the_raw_item_is_served_to_its_creator_annotators_and_organizers_only(ts_benchmark, users, truth):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    item, _ = create(users["alice"], ts_benchmark, like, label)
    url = f"/verify/shapes/adversarial/created/{item.pk}/raw/"
    outsider_annotator = User.objects.create_user(username="elsewhere", password="pw", role=User.Role.ANNOTATOR)
    for user, expected in ((users["alice"], 200), (users["annotator"], 200), (users["organizer"], 200),
                           (users["bob"], 404), (users["other_organizer"], 404), (outsider_annotator, 404)):
        client = Client()
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == expected, user.username
        if expected == 200:
            assert response["Content-Type"] == "image/png" and response["Cache-Control"] == "private, no-store"
            assert b"".join(response.streaming_content) == png_of(ts_benchmark, like)
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client = Client()
    client.force_login(users["alice"])
    assert client.get(f"/verify/shapes/adversarial/created/{item.pk + 1000}/raw/").status_code == 404
    # Only the owner's list shows it.
    listed = client.get("/api/verify/shapes/adversarial/created/").json()["items"]
    assert [row["item_id"] for row in listed] == [item.item_id]
    client.force_login(users["bob"])
    assert client.get("/api/verify/shapes/adversarial/created/").json()["items"] == []


def test_a_verified_created_item_is_promoted_into_the_next_round(ts_benchmark, users, truth, django_capture_on_commit_callbacks):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    item, submission = create(users["alice"], ts_benchmark, like, label)
    land(submission)
    verify(target_of(ts_benchmark, item.item_id, label), make_annotators(3))
    with django_capture_on_commit_callbacks(execute=False):
        round_ = services.start_next_round(user=users["organizer"], benchmark=ts_benchmark)
    assert round_.number == 2 and [t.item_id for t in round_.promoted_targets.all()] == [item.item_id]
    # The new data version (a ratchet with the created item's features) loads, and the round's test set
    # is the created item's features with the verified label.
    ids, X, y = services.round_test_set(Round.objects.get(pk=round_.pk))
    assert ids == [item.item_id] and np.allclose(X[0], np.frombuffer(bytes(item.features), "<f4"))
    assert y.tolist() == [pool_problem(ts_benchmark).class_names.index(label)]
    problem = submission_services.load_benchmark_problem(ts_benchmark)
    assert problem.pool.promoted_ids == [item.item_id]
    # It is existing test data now: proposing it again gives zero novelty and no credit.
    later = propose(users["bob"], ts_benchmark, [(like, label)])
    assert later.details["items"][0]["novelty"] < 0.01


def test_organizers_list_their_challenges_created_items_in_the_admin(ts_benchmark, users, truth):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    item, _ = create(users["alice"], ts_benchmark, like, label)
    from backend.accounts.services import grant_organizer_access

    grant_organizer_access(users["organizer"])        # as when they were made organizers
    grant_organizer_access(users["other_organizer"])
    mine = Client()
    mine.force_login(users["organizer"])
    listing = mine.get("/admin/verification/createditem/")
    assert listing.status_code == 200 and f"/admin/verification/createditem/{item.pk}/change/" in listing.content.decode()
    detail = mine.get(f"/admin/verification/createditem/{item.pk}/change/")
    assert detail.status_code == 200 and label in detail.content.decode()
    other = Client()
    other.force_login(users["other_organizer"])
    assert f"createditem/{item.pk}/change/" not in other.get("/admin/verification/createditem/").content.decode()


def test_the_organizers_console_links_a_disputed_created_item_to_its_raw_form(ts_benchmark, users, truth):
    (like, label), = fooling_pairs(ts_benchmark, truth, 1)
    item, submission = create(users["alice"], ts_benchmark, like, label)
    land(submission)
    target = target_of(ts_benchmark, item.item_id, label)
    a, b = make_annotators(2, challenges=[ts_benchmark.challenge])
    verify(target, [a])
    verify(target, [b], "incorrect")                     # disputed
    client = Client()
    client.force_login(users["organizer"])
    page = client.get("/verify/shapes/adversarial/manage/").content.decode()
    assert f'<a href="/verify/shapes/adversarial/created/{item.pk}/raw/">open the created item</a>' in page
