"""Template tags for the closed division: the verification panel of a submission page and the
starter-kit link of a benchmark page."""
from django import template

from .. import selectors
from ..models import SandboxSettings

register = template.Library()


@register.inclusion_tag("closed_division/_panel.html", takes_context=True)
def code_run_panel(context, submission):
    """The verification panel; empty for submissions without code. ``submission`` is already scoped
    to the viewer by the page's selector."""
    user = context["user"]
    run = selectors.code_run_of(submission)
    if run is None:
        return {"run": None}
    return {
        "run": run,
        "limits": SandboxSettings.for_phase(submission.phase),
        "sees_everything": selectors.sees_everything(user, run),
        "sees_concealed": selectors.sees_concealed_score(user, run),
        "concealed_runs": run.concealed_runs.select_related("task") if selectors.sees_everything(user, run) else (),
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def starter_kit_for(benchmark):
    return selectors.starter_kit_for(benchmark)
