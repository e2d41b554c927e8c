"""Telling people that a submission finished: an on-page notification (stored with the terminal
transition, in its transaction) and an email sent after that transaction commits.

Called by ``services`` from the state machine's terminal transitions (scored, failed) only; baselines
notify nobody. The recipients are the uploader and, for a team submission, the team's members."""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from backend.accounts import services as account_services
from backend.accounts.models import User

from .models import Submission

log = logging.getLogger(__name__)


def _recipients(submission: Submission) -> list[User]:
    people = {submission.user_id: submission.user}
    if submission.team_id:
        people.update({member.pk: member for member in submission.team.members.all()})
    return [person for person in people.values() if person.is_active]


def _sentence(submission: Submission) -> str:
    what = f"Submission #{submission.pk} ({submission.original_name}) to {submission.benchmark.challenge.title} / {submission.benchmark.title}"
    if submission.team_id:
        what += f" by team {submission.team.name}"
    if submission.status == Submission.Status.SCORED:
        primary = submission.benchmark.benchmark_type.primary_metric
        value = next((s.value for s in submission.scores.all() if s.metric == primary), None)
        score = f": {primary} = {value:.4f}" if isinstance(value, (int, float)) else ""
        return f"{what} was scored{score}."
    return f"{what} failed: {submission.failure_reason}"


def submission_finished(submission: Submission) -> None:
    """Inside the transaction of a terminal transition: store the on-page messages, and send the emails
    once the transaction has committed (a rolled-back transition tells nobody)."""
    if submission.is_baseline:
        return
    sentence = _sentence(submission)
    path = reverse("submission-detail", args=[submission.pk])
    recipients = _recipients(submission)
    for person in recipients:
        account_services.notify(person.pk, sentence, path)
    addresses = sorted({person.email for person in recipients if person.email})
    if addresses:
        subject = f"DataPerf: submission #{submission.pk} {submission.status}"
        body = f"{sentence}\n\nDetails: {settings.SITE_URL}{path}\n"
        transaction.on_commit(lambda: _send(subject, body, addresses, submission.pk))


def _send(subject: str, body: str, addresses: list[str], submission_id: int) -> None:
    # One message per recipient: team members do not see each other's addresses.
    for address in addresses:
        try:
            send_mail(subject, body, None, [address])
        except Exception:  # a mail server outage must not fail the scoring worker; the on-page message stays
            log.warning("submission %s: could not email %s", submission_id, address, exc_info=True)
