from django import template

from ..services import is_test_set

register = template.Library()


@register.filter
def test_set_benchmarks(benchmarks):
    """The test-set benchmarks among ``benchmarks`` (for the ratchet chart on the challenge page)."""
    return [b for b in benchmarks if is_test_set(b)]


@register.filter
def raw_item_kind(benchmark):
    """The raw kind (text, image, audio) a test-set benchmark takes for created items, or "" (none)."""
    from ..live import raw_kind

    return raw_kind(benchmark) or ""


@register.filter
def created_raw_url(target):
    """The role-scoped URL of a target's created item (text, picture or clip), or "" for a pool item."""
    from django.urls import reverse

    from ..models import CreatedItem

    number = CreatedItem.number_of(target.item_id)
    if number is None:
        return ""
    benchmark = target.benchmark
    return reverse("verify-created-raw", args=[benchmark.challenge.slug, benchmark.slug, number])
