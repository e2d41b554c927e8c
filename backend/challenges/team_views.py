"""Team pages: create a team in a challenge, its page (members, invitation link), join by link, leave.
The rules live in ``accounts.services``; these views only call them."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from backend.accounts import services as account_services
from backend.accounts.models import Team

from . import selectors


def _my_team(request, pk: int) -> Team:
    team = Team.objects.filter(pk=pk, members=request.user).select_related("challenge").first()
    if team is None:
        raise Http404("No such team of yours.")
    return team


@login_required
@require_http_methods(["GET", "POST"])
def create_team(request, slug: str):
    challenge = selectors.get_visible_challenge(request.user, slug)
    current = account_services.team_in(request.user, challenge.pk)
    if current is not None:
        messages.info(request, f"You are in team {current.name} in this challenge.")
        return redirect("team-detail", pk=current.pk)
    error, status = None, 200
    if request.method == "POST":
        try:
            team = account_services.create_team(user=request.user, challenge=challenge, name=request.POST.get("name", ""))
        except account_services.TeamRejected as rejected:
            error, status = f"{rejected.field}: {rejected.message}", rejected.status_code
        else:
            messages.success(request, f"Team {team.name} created. Send the invitation link below to your teammates.")
            return redirect("team-detail", pk=team.pk)
    return render(request, "teams/create.html", {"challenge": challenge, "error": error,
                                                 "name": request.POST.get("name", "")}, status=status)


@login_required
def team_detail(request, pk: int):
    team = _my_team(request, pk)
    invite_url = (request.build_absolute_uri(reverse("team-join", args=[team.invite_token]))
                  if team.invite_token else "")
    submissions = team.submissions.select_related("benchmark", "user").order_by("-created_at")[:50]
    return render(request, "teams/detail.html", {
        "team": team, "members": team.members.order_by("username"), "invite_url": invite_url,
        "invite_expires_at": account_services.invite_expires_at(team), "submissions": submissions,
    })


@login_required
@require_POST
def team_action(request, pk: int):
    team = _my_team(request, pk)
    action = request.POST.get("action", "")
    if action == "new-link":
        account_services.new_invite(user=request.user, team=team)
        messages.success(request, "A new invitation link was made; the previous one no longer works.")
    elif action == "revoke-link":
        account_services.revoke_invite(user=request.user, team=team)
        messages.success(request, "The invitation link was revoked; nobody can join with it.")
    elif action == "leave":
        account_services.leave_team(user=request.user, team=team)
        messages.success(request, f"You left team {team.name}. Its submissions stay with the team; your next "
                                  "uploads to this challenge are your own.")
        return redirect("challenge-detail", slug=team.challenge.slug)
    else:
        messages.error(request, f"Unknown action {action!r}.")
    return redirect("team-detail", pk=team.pk)


@login_required
@require_http_methods(["GET", "POST"])
def join_team(request, token: str):
    try:
        team = account_services.team_for_invite(token)
    except account_services.TeamRejected as rejected:
        return render(request, "teams/join.html", {"error": rejected.message}, status=rejected.status_code)
    if request.method == "POST":
        try:
            team = account_services.join_team(user=request.user, token=token)
        except account_services.TeamRejected as rejected:
            return render(request, "teams/join.html", {"team": team, "error": rejected.message},
                          status=rejected.status_code)
        messages.success(request, f"You joined team {team.name}. Your uploads to {team.challenge.title} now count "
                                  "for the team.")
        return redirect("team-detail", pk=team.pk)
    return render(request, "teams/join.html", {
        "team": team, "members": team.members.order_by("username"),
        "current": account_services.team_in(request.user, team.challenge_id)})
