"""{% team_of user challenge as team %}: the user's team in a challenge (or None), for pages that show it."""
from django import template

from backend.accounts import services as account_services
from backend.challenges import selectors

register = template.Library()


@register.simple_tag
def team_of(user, challenge):
    return account_services.team_in(user, challenge.pk) if user.is_authenticated else None


@register.simple_tag
def verifies(user, challenge):
    """Whether the user reaches the challenge's verification queue (its annotators and organizers)."""
    return selectors.annotates(user, challenge)
