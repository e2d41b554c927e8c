"""{% team_of user challenge as team %}: the user's team in a challenge (or None), for pages that show it."""
from django import template

from backend.accounts import services as account_services

register = template.Library()


@register.simple_tag
def team_of(user, challenge):
    return account_services.team_in(user, challenge.pk) if user.is_authenticated else None
