"""Attach a directory in a benchmark type's official layout to a benchmark (public + hidden archives)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

import evaluation
from backend.challenges import services
from backend.challenges.models import Benchmark


class Command(BaseCommand):
    help = "Validate a data directory and attach it to a benchmark, split into public and hidden files."

    def add_arguments(self, parser):
        parser.add_argument("challenge", help="challenge slug")
        parser.add_argument("benchmark", help="benchmark slug")
        parser.add_argument("data_dir", type=Path)

    def handle(self, challenge, benchmark, data_dir, **options):
        try:
            target = Benchmark.objects.get(challenge__slug=challenge, slug=benchmark)
        except Benchmark.DoesNotExist:
            raise CommandError(f"no benchmark {benchmark!r} in challenge {challenge!r}") from None
        if not data_dir.is_dir():
            raise CommandError(f"{data_dir} is not a directory")
        try:
            artifacts = services.attach_data_directory(target, data_dir)
        except evaluation.EvaluationError as error:
            raise CommandError(f"{data_dir}: {error}") from None
        for artifact in artifacts:
            self.stdout.write(f"{artifact.visibility:6s} {artifact.size_bytes:>12,d} bytes  sha256 {artifact.sha256[:16]}…")
