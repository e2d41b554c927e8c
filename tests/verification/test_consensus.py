"""Consensus: N matching votes resolve an item once; organizers override; bad verdicts are refused."""
import pytest

from backend.verification import services
from backend.verification.models import Target, Verification

from .conftest import fooling_pairs, make_annotators, propose, target_of, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(ts_benchmark, users, truth):
    item, label = fooling_pairs(ts_benchmark, truth, 1)[0]
    propose(users["alice"], ts_benchmark, [(item, label)])
    return target_of(ts_benchmark, item, label)


def test_three_matching_votes_resolve_an_item(pending):
    a, b, c = make_annotators(3)
    first, second = verify(pending, [a, b])
    assert not first.resolved_now and not second.resolved_now
    pending.refresh_from_db()
    assert pending.status == Target.Status.PENDING and pending.correct_count == 2
    third = services.record_vote(user=c, target=pending, verdict="correct")
    assert third.resolved_now
    pending.refresh_from_db()
    assert (pending.status, pending.resolved_by, pending.vote_count) == ("correct", "consensus", 3)


def test_mixed_votes_wait_until_one_answer_reaches_the_threshold(pending):
    annotators = make_annotators(5)
    verify(pending, annotators[:2], "correct")
    verify(pending, annotators[2:4], "incorrect")
    pending.refresh_from_db()
    assert pending.status == "pending" and pending.vote_count == 4
    outcome = services.record_vote(user=annotators[4], target=pending, verdict="incorrect")
    assert outcome.resolved_now and outcome.target.status == "incorrect"


def test_three_flags_resolve_as_flagged_and_keep_the_reasons(pending, truth):
    other = next(c for c in ("circle", "square", "triangle", "cross") if c != pending.label)
    outcomes = verify(pending, make_annotators(3), "flag", reason="two shapes in one picture", corrected_label=other)
    assert [o.resolved_now for o in outcomes] == [False, False, True]
    assert set(Verification.objects.filter(target=pending).values_list("corrected_label", "reason")) == {
        (other, "two shapes in one picture")}
    pending.refresh_from_db()
    assert pending.status == "flagged"


def test_a_late_vote_is_kept_but_changes_nothing(pending):
    verify(pending, make_annotators(3), "correct")
    late = services.record_vote(user=make_annotators(1)[0], target=pending, verdict="incorrect")
    assert not late.resolved_now
    pending.refresh_from_db()
    assert (pending.status, pending.incorrect_count, pending.vote_count) == ("correct", 1, 4)


def test_the_threshold_is_configurable(ts_benchmark, pending):
    ts_benchmark.config = {**ts_benchmark.config, "consensus_threshold": 1}
    ts_benchmark.save()
    outcome = services.record_vote(user=make_annotators(1)[0], target=pending, verdict="correct")
    assert outcome.resolved_now


def test_an_organizer_verdict_overrides_votes_and_consensus(pending, users):
    verify(pending, make_annotators(3), "correct")
    target = services.override(user=users["organizer"], target=pending, verdict="incorrect", reason="it is a square")
    assert (target.status, target.resolved_by) == ("incorrect", "organizer")
    # A later override replaces the earlier one; votes after an override change nothing.
    target = services.override(user=users["organizer"], target=pending, verdict="correct")
    services.record_vote(user=make_annotators(1)[0], target=pending, verdict="incorrect")
    pending.refresh_from_db()
    assert (pending.status, pending.resolved_by) == ("correct", "organizer")
    assert Verification.objects.filter(target=pending, is_override=True).count() == 2


def test_an_organizer_resolves_a_pending_item_alone(pending, users):
    target = services.override(user=users["organizer"], target=pending, verdict="correct")
    assert target.status == "correct" and target.vote_count == 0


def test_only_the_challenges_organizers_override(pending, users):
    for who in ("other_organizer", "annotator", "alice"):
        with pytest.raises(services.VerificationRejected) as error:
            services.override(user=users[who], target=pending, verdict="correct")
        assert error.value.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"


@pytest.mark.parametrize("verdict,extra,field,message", [
    ("maybe", {}, "verdict", "unknown verdict"),
    ("flag", {}, "reason", "needs a reason or a corrected label"),
    ("flag", {"corrected_label": "hexagon"}, "corrected_label", "unknown label 'hexagon'"),
    ("correct", {"corrected_label": "circle"}, "corrected_label", "only goes with incorrect or flag"),
])
def test_bad_verdicts_are_refused_with_the_field(pending, verdict, extra, field, message):
    with pytest.raises(services.VerificationRejected) as error:
        services.record_vote(user=make_annotators(1)[0], target=pending, verdict=verdict, **extra)
    assert (error.value.field, error.value.status_code) == (field, 400)
    assert message in error.value.message
    assert not Verification.objects.exists()


def test_the_proposed_label_is_no_correction(pending):
    with pytest.raises(services.VerificationRejected, match="proposed label itself"):
        services.record_vote(user=make_annotators(1)[0], target=pending, verdict="incorrect", corrected_label=pending.label)


def test_one_vote_per_annotator_and_none_on_own_items(pending, users):
    annotator = make_annotators(1)[0]
    services.record_vote(user=annotator, target=pending, verdict="correct")
    with pytest.raises(services.VerificationRejected) as twice:
        services.record_vote(user=annotator, target=pending, verdict="incorrect")
    assert twice.value.status_code == 409
    users["alice"].role = "annotator"
    users["alice"].save()
    with pytest.raises(services.VerificationRejected) as own:
        services.record_vote(user=users["alice"], target=pending, verdict="correct")
    assert own.value.status_code == 403
    with pytest.raises(services.VerificationRejected) as participant:
        services.record_vote(user=users["bob"], target=pending, verdict="correct")
    assert participant.value.status_code == 403
    pending.refresh_from_db()
    assert pending.vote_count == 1
