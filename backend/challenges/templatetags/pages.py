"""Shared formatters of the pages: Markdown (escaped raw HTML), benchmark configs for people."""
from django import template

from .. import formats

register = template.Library()


@register.filter
def markdown(text):
    """Organizer text (rules, descriptions) as Markdown: backticks become code, raw HTML is escaped."""
    return formats.render_markdown(str(text or ""))


@register.filter
def human_config(config):
    return formats.human_config(config)


@register.filter
def time_tag(value, mode=""):
    """A UTC timestamp as ``<time datetime="...Z">YYYY-MM-DD HH:MM UTC</time>``: readable without JS;
    static/js/time.js rewrites it in the viewer's time zone and, with mode "countdown", adds the time left."""
    from datetime import timezone as dt_timezone

    from django.utils.html import format_html

    if not value:
        return "—"
    utc = value.astimezone(dt_timezone.utc)
    return format_html('<time datetime="{}" data-local{}>{} UTC</time>', utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       " data-countdown" if mode == "countdown" else "", utc.strftime("%Y-%m-%d %H:%M"))


@register.simple_tag
def phase_state(phase):
    """"open", "upcoming" or "closed" (None: no phase)."""
    from .. import selectors

    return selectors.phase_state(phase)
