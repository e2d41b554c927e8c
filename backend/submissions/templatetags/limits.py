"""The "N of M left today" line of the benchmark and upload pages (figures from selectors.allowance)."""
from django import template

from backend.accounts import services as account_services

from ..limits_api import allowance_data

register = template.Library()


@register.inclusion_tag("submissions/_allowance.html", takes_context=True)
def submission_allowance(context, benchmark):
    user = context["user"]
    if not user.is_authenticated:
        return {"rows": []}
    if account_services.team_in(user, benchmark.challenge_id) is not None:
        return {"rows": [allowance_data(user, benchmark)]}   # uploads count against the team only
    rows = [allowance_data(user, benchmark)]
    # admin-made teams without a challenge, which an upload may still choose through the API
    rows += [allowance_data(user, benchmark, team) for team in user.teams.filter(challenge__isnull=True).order_by("name")]
    return {"rows": rows}
