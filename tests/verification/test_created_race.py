"""Two created items submitted at once by one participant with one submission left: exactly one is
stored and submitted; the other is refused and leaves neither a row nor a file behind."""
from pathlib import Path

import pytest
from django.conf import settings

from backend.submissions.models import Submission
from backend.verification.models import CreatedItem

from .conftest import fooling_pairs
from .test_created_items import create
from .test_race import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_creations_respect_the_total_limit(ts_benchmark, users, truth):
    phase = ts_benchmark.challenge.phases.get()
    phase.max_submissions_total = 1
    phase.save()
    (a, label_a), (b, label_b) = fooling_pairs(ts_benchmark, truth, 2)
    folder = Path(settings.MEDIA_ROOT, "created-items", str(ts_benchmark.pk))
    before = set(folder.iterdir()) if folder.is_dir() else set()   # media is shared by the session's tests
    results, errors = race([lambda: create(users["alice"], ts_benchmark, a, label_a),
                            lambda: create(users["alice"], ts_benchmark, b, label_b, seed=1)])
    assert len(results) == 1 and len(errors) == 1 and getattr(errors[0], "status_code", None) == 429, errors
    item, submission = results[0]
    assert list(CreatedItem.objects.values_list("pk", flat=True)) == [item.pk]
    assert list(Submission.objects.values_list("pk", flat=True)) == [submission.pk]
    assert [p.name for p in set(folder.iterdir()) - before] == [Path(item.raw_file.name).name]
