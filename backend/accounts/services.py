"""Writes of accounts: teams (create, invitation links, join, leave), the profile, notifications.

Team rules (README, "Teams"): a team belongs to one challenge; a user is in at most one team per
challenge (checked with the user's row locked, the same lock uploads take, so a join and an upload
cannot interleave); any member may make a new invitation link or revoke it; a link expires after
``TEAM_INVITE_DAYS``. Leaving keeps the team's submissions with the team (they were the team's entries);
a team whose last member left stays on the leaderboard with its rows."""
from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.core.errors import Rejected

from .models import Notification, Team, User


class TeamRejected(Rejected):
    """A team action the platform refuses."""


def invite_days() -> int:
    return getattr(settings, "TEAM_INVITE_DAYS", 7)


def team_in(user: User, challenge_id: int) -> Team | None:
    """The user's team in the challenge, if any (at most one)."""
    if not user.is_authenticated:
        return None
    return Team.objects.filter(challenge_id=challenge_id, members=user).first()


def _new_token() -> str:
    return secrets.token_urlsafe(24)


def create_team(*, user: User, challenge, name: str) -> Team:
    name = " ".join((name or "").split())
    if not name:
        raise TeamRejected("name", "give the team a name")
    if len(name) > 100:
        raise TeamRejected("name", "is longer than 100 characters")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if (current := team_in(user, challenge.pk)) is not None:
            raise TeamRejected("challenge", f"you are already in team {current.name!r} in this challenge; leave it first", 409)
        if Team.objects.filter(name__iexact=name).exists():
            raise TeamRejected("name", f"a team named {name!r} already exists; choose another name", 409)
        try:
            with transaction.atomic():
                team = Team.objects.create(name=name, challenge=challenge, created_by=user,
                                           invite_token=_new_token(), invite_created_at=timezone.now())
        except IntegrityError:   # the same name committed concurrently
            raise TeamRejected("name", f"a team named {name!r} already exists; choose another name", 409) from None
        team.members.add(user)
    return team


def _require_member(user: User, team: Team) -> None:
    if not team.members.filter(pk=user.pk).exists():
        raise TeamRejected("team", "only the team's members manage it", 403)


def new_invite(*, user: User, team: Team) -> Team:
    """A new invitation link; the previous one stops working."""
    _require_member(user, team)
    team.invite_token, team.invite_created_at = _new_token(), timezone.now()
    team.save(update_fields=["invite_token", "invite_created_at"])
    return team


def revoke_invite(*, user: User, team: Team) -> Team:
    _require_member(user, team)
    team.invite_token, team.invite_created_at = "", None
    team.save(update_fields=["invite_token", "invite_created_at"])
    return team


def invite_expires_at(team: Team):
    return team.invite_created_at + timedelta(days=invite_days()) if team.invite_created_at else None


def team_for_invite(token: str) -> Team:
    """The team a link invites to; refused when the link is unknown, revoked, replaced or expired."""
    team = Team.objects.filter(invite_token=token).select_related("challenge").first() if token else None
    if team is None or team.challenge_id is None:
        raise TeamRejected("invitation", "this invitation link is not valid: it was revoked or replaced by a newer "
                                         "one; ask the team for a new link", 404)
    if invite_expires_at(team) <= timezone.now():
        raise TeamRejected("invitation", f"this invitation link expired on {invite_expires_at(team):%Y-%m-%d %H:%M} UTC; "
                                         "ask the team for a new link", 410)
    return team


def join_team(*, user: User, token: str) -> Team:
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        team = team_for_invite(token)
        Team.objects.select_for_update().get(pk=team.pk)
        if team.members.filter(pk=user.pk).exists():
            return team
        if (current := team_in(user, team.challenge_id)) is not None:
            raise TeamRejected("team", f"you are already in team {current.name!r} in this challenge; leave it first", 409)
        team.members.add(user)
    return team


def leave_team(*, user: User, team: Team) -> None:
    """Leave; the team keeps every submission made as the team (they stay on its leaderboard row)."""
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        _require_member(user, team)
        team.members.remove(user)


# --- profile -------------------------------------------------------------------------------------

def update_profile(*, user: User, first_name: str, last_name: str, affiliation: str, email: str) -> User:
    for field, value, limit in (("first_name", first_name, 150), ("last_name", last_name, 150),
                                ("affiliation", affiliation, 200), ("email", email, 254)):
        if len(value or "") > limit:
            raise Rejected(field, f"is longer than {limit} characters")
    if email and email.strip():
        try:
            validate_email(email.strip())
        except ValidationError:
            raise Rejected("email", f"{email.strip()!r} is not an email address") from None
    user.first_name, user.last_name = (first_name or "").strip(), (last_name or "").strip()
    user.affiliation, user.email = (affiliation or "").strip(), (email or "").strip()
    user.save(update_fields=["first_name", "last_name", "affiliation", "email"])
    return user


def regenerate_token(user: User) -> str:
    """A new API token; the old one stops working at once."""
    from rest_framework.authtoken.models import Token

    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user).key


# --- notifications -------------------------------------------------------------------------------

def notify(user_id: int, message: str, url: str = "") -> Notification:
    return Notification.objects.create(user_id=user_id, message=message[:500], url=url[:300])


def mark_read(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


# --- organizers --------------------------------------------------------------------------------------

ORGANIZER_GROUP = "Organizers"
ORGANIZER_APPS = ("challenges", "submissions", "verification", "closed_division")


def grant_organizer_access(user) -> None:
    """Let an organizer run their challenges from the admin: staff status (admin sign-in) and the
    "Organizers" group's permissions on the challenge apps. The admin scopes every list to the challenges
    the user organizes, so this reaches nothing of other challenges. Without it a co-organizer added on
    the People page was sent to the admin's login with "not authorized" (no re-run, no data, no publish)."""
    from django.contrib.auth.models import Group, Permission

    with transaction.atomic():
        group, _ = Group.objects.get_or_create(name=ORGANIZER_GROUP)
        group.permissions.set(Permission.objects.filter(content_type__app_label__in=ORGANIZER_APPS))
        fields = []
        if user.role == User.Role.PARTICIPANT:
            user.role = User.Role.ORGANIZER
            fields.append("role")
        if not user.is_staff:
            user.is_staff = True
            fields.append("is_staff")
        if fields and not user.is_superuser:
            user.organizer_access_from_challenges = True
            fields.append("organizer_access_from_challenges")
        if fields:
            user.save(update_fields=fields)
        user.groups.add(group)


def revoke_unused_organizer_access(user) -> bool:
    """Take back what :func:`grant_organizer_access` gave once the user organizes no challenge: the
    admin, the organizers' permissions and the organizer role. Access a site administrator gave by hand
    stays. Returns whether anything was taken back."""
    from django.contrib.auth.models import Group

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if (not user.organizer_access_from_challenges or user.is_superuser
                or user.organized_challenges.exists()):
            return False
        user.role = User.Role.PARTICIPANT
        user.is_staff = False
        user.organizer_access_from_challenges = False
        user.save(update_fields=["role", "is_staff", "organizer_access_from_challenges"])
        group = Group.objects.filter(name=ORGANIZER_GROUP).first()
        if group is not None:
            user.groups.remove(group)
    return True
