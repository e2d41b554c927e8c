from django import template

from ..services import is_test_set

register = template.Library()


@register.filter
def test_set_benchmarks(benchmarks):
    """The test-set benchmarks among ``benchmarks`` (for the ratchet chart on the challenge page)."""
    return [b for b in benchmarks if is_test_set(b)]
