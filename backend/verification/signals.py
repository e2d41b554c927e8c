"""A test-set benchmark's data changed (attached, replaced, or a new round's ratchet): train its model
suite in the background, so the pool browser answers at once. A signal, because artifacts are
saved by the challenges app, the admin and commands that know nothing of test sets."""
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from backend.challenges.models import DatasetArtifact


@receiver(post_save, sender=DatasetArtifact, dispatch_uid="verification-warm-suite-predictions")
def warm_after_data_change(sender, instance: DatasetArtifact, **kwargs) -> None:
    from . import services, tasks

    if services.is_test_set(instance.benchmark):
        benchmark_id = instance.benchmark_id
        transaction.on_commit(lambda: tasks.warm_suite_predictions.delay(benchmark_id))
