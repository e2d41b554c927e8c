"""Rebuild the derived ranking state (each entrant's ranked rows) from the Score rows: after a restore,
a bulk load, or anything that wrote submissions and scores without the services."""
import time

from django.core.management.base import BaseCommand, CommandError

from backend.challenges.models import Phase
from backend.leaderboards import services


class Command(BaseCommand):
    help = "Rebuild every leaderboard's ranked rows from the stored scores (all phases, or one)."

    def add_arguments(self, parser):
        parser.add_argument("--phase", type=int, help="only this phase (id)")

    def handle(self, *args, phase=None, **options):
        if phase is not None and not Phase.objects.filter(pk=phase).exists():
            raise CommandError(f"there is no phase with id {phase}")
        started = time.perf_counter()
        rows = services.rebuild(phase)
        self.stdout.write(f"rebuilt {rows} ranked rows in {time.perf_counter() - started:.1f} s")
