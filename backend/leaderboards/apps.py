from django.apps import AppConfig
from django.db.models.signals import post_migrate


def fill_ranking_state(sender, using="default", **kwargs) -> None:
    """After migrating a database that has scores but no ranking state yet (the first migrate after this
    table was added, or a restore of the scores only), build it from the Score rows."""
    from backend.submissions.models import Submission

    from . import services
    from .models import EntrantRow

    if EntrantRow.objects.using(using).exists():
        return
    if Submission.objects.using(using).filter(status=Submission.Status.SCORED).exists():
        services.rebuild()


class LeaderboardsConfig(AppConfig):
    name = "backend.leaderboards"
    label = "leaderboards"

    def ready(self):
        post_migrate.connect(fill_ranking_state, sender=self, dispatch_uid="leaderboards-fill-ranking-state")
