"""The "N of M left today" line of the benchmark and upload pages (figures from selectors.allowance)."""
from django import template

from ..limits_api import allowance_data

register = template.Library()


@register.inclusion_tag("submissions/_allowance.html", takes_context=True)
def submission_allowance(context, benchmark):
    user = context["user"]
    if not user.is_authenticated:
        return {"rows": []}
    rows = [allowance_data(user, benchmark)]
    rows += [allowance_data(user, benchmark, team) for team in user.teams.order_by("name")]
    return {"rows": rows}
